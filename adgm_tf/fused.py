"""Element-wise parts of the training step, compiled by XLA, each with a hand-written gradient.

The matrix products stay in TensorFlow's own (oneDNN) kernels; what lies between them is
written here as small functions that XLA fuses into a few passes over memory, forward and
backward, instead of the dozen element-wise operations that automatic differentiation of
the same maths would run (BENCHMARKS.md, "Where the time goes").

    batch_norm_relu:   h = sum_i p_i (broadcast);  relu(gamma (h - mean) / sqrt(var + eps) + beta)
                       with mean and var over every leading axis (the batch statistics)
    bernoulli_log_likelihood:  sum_d x_d l_d - softplus(l_d)   (= log Bern(x | sigmoid(l)))

Each function equals its plain TensorFlow form to float32 round-off, values and gradients
(tests/test_fused.py).
"""

from __future__ import annotations

from typing import Sequence

import tensorflow as tf


def _broadcast_axes(projections) -> tuple[list[tf.Tensor], tf.Tensor, list[list[int]]]:
    """The projections reshaped to one rank (leading 1s), their broadcast shape, and for each
    the axes along which it was broadcast (statically 1 there, not statically 1 in another
    projection): the axes its gradient sums over."""
    rank = max(p.shape.rank for p in projections)
    padded, static = [], []
    for p in projections:
        pad = rank - p.shape.rank
        padded.append(tf.reshape(p, tf.concat([tf.ones([pad], tf.int32), tf.shape(p)], 0)))
        static.append([1] * pad + p.shape.as_list())
    full = tf.shape(padded[0])
    for p in padded[1:]:
        full = tf.broadcast_dynamic_shape(full, tf.shape(p))
    axes = [[i for i in range(rank) if shape[i] == 1
             and any(other[i] != 1 for other in static)] for shape in static]
    return padded, full, axes


@tf.function(jit_compile=True, autograph=False)
def _batch_norm_relu_forward(projections, gamma, beta, epsilon):
    padded, full, _ = _broadcast_axes(projections)
    h = tf.cast(padded[0], tf.float32)
    for p in padded[1:]:
        h = h + tf.cast(p, tf.float32)  # broadcasts
    h = tf.reshape(tf.broadcast_to(h, full), (-1, full[-1]))  # [rows, H]
    mean = tf.reduce_mean(h, axis=0)
    var = tf.reduce_mean(tf.math.squared_difference(h, mean), axis=0)
    scale = gamma * tf.math.rsqrt(var + epsilon)
    y = tf.nn.relu(h * scale + (beta - mean * scale))
    return tf.cast(y, projections[0].dtype), h, mean, var


@tf.function(jit_compile=True, autograph=False)
def _batch_norm_relu_backward(dy, y, h, mean, var, gamma, epsilon, projections):
    rows = tf.cast(tf.shape(h)[0], tf.float32)
    rstd = tf.math.rsqrt(var + epsilon)
    g = tf.where(y > 0, tf.cast(dy, tf.float32), 0.0)
    xhat = (h - mean) * rstd
    dbeta = tf.reduce_sum(g, axis=0)
    dgamma = tf.reduce_sum(g * xhat, axis=0)
    dh = (gamma * rstd) * (g - (dbeta + xhat * dgamma) / rows)
    _, full, axes = _broadcast_axes(projections)
    dh = tf.reshape(dh, full)
    grads = []
    for p, p_axes in zip(projections, axes):
        d = tf.reduce_sum(dh, axis=p_axes, keepdims=True) if p_axes else dh
        grads.append(tf.cast(tf.reshape(d, tf.shape(p)), p.dtype))
    return grads, dgamma, dbeta


def batch_norm_relu(projections: Sequence[tf.Tensor], gamma: tf.Tensor, beta: tf.Tensor,
                    epsilon: float):
    """Batch normalisation (batch statistics) and ReLU of the broadcast sum of `projections`.

    Args:
      projections: tensors [..., H] with broadcastable leading shapes, fully defined (the
        first layer's per-input products; a single [rows, H] tensor for later layers).
      gamma, beta: float32 [H]; epsilon: added to the variance.

    Returns:
      y [rows, H] in the projections' dtype (rows: the broadcast leading shape, flattened),
      and the batch mean and variance [H] (float32, for the moving averages; no gradient).
    """
    projections = list(projections)
    epsilon = tf.constant(epsilon, tf.float32)

    @tf.custom_gradient
    def fused(gamma, beta, *projections):
        y, h, mean, var = _batch_norm_relu_forward(projections, gamma, beta, epsilon)

        def grad(dy, dmean, dvar):
            del dmean, dvar  # the statistics feed only the moving averages
            dp, dgamma, dbeta = _batch_norm_relu_backward(
                dy, y, h, mean, var, gamma, epsilon, projections)
            return [dgamma, dbeta] + list(dp)

        return (y, tf.stop_gradient(mean), tf.stop_gradient(var)), grad

    return fused(gamma, beta, *projections)


@tf.function(jit_compile=True, autograph=False)
def _bernoulli_forward(x, logits):
    # softplus(l) = log(1 + exp(-|l|)) + max(l, 0), with log rather than log1p: a third of
    # the time on CPU, and within 5e-7 of softplus per element
    softplus = tf.math.log(1.0 + tf.exp(-tf.abs(logits))) + tf.nn.relu(logits)
    return tf.reduce_sum(x * logits - softplus, axis=-1)


@tf.function(jit_compile=True, autograph=False)
def _bernoulli_backward(dll, x, logits):
    return dll[..., None] * (x - tf.sigmoid(logits))


def bernoulli_log_likelihood(x: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """log Bern(x | sigmoid(logits)) summed over the last axis, for x in [0, 1].

    x log p + (1 - x) log(1 - p) = x l - softplus(l) for p = sigmoid(l); grey levels x give
    the same (cross-entropy) value as TFP's Bernoulli.log_prob. Gradient with respect to the
    logits only (x is data).

    Args:
      x: [..., D] (broadcastable against logits); logits: float32 [..., D].

    Returns:
      [...], the broadcast leading shape.
    """
    x = tf.broadcast_to(tf.cast(x, logits.dtype), tf.shape(logits))

    @tf.custom_gradient
    def fused(logits):
        def grad(dll):
            return _bernoulli_backward(dll, x, logits)

        return _bernoulli_forward(x, logits), grad

    return fused(logits)
