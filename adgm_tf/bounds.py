"""The terms of the semi-supervised variational bound, as small pure functions.

Notation of Maaloe et al. (2016). For one Monte Carlo sample a ~ q(a|x), z ~ q(z|a,y,x) the
log importance weight is

    log w(x, y, a, z) = log p(x|.) + log p(y) + log p(z) + log p(a|.) - log q(a|x) - log q(z|a,y,x)

and the bounds (paper eqs. 12-15, 19) are

    -L(x, y) = E_q(a,z|x,y) [log w]                                   (labeled, eq. 12)
    -U(x)    = E_q(a|x) sum_y q(y|a,x) (E_q(z|a,y,x)[log w] - log q(y|a,x))   (unlabeled, eqs. 13, 19)
    J        = sum_l [L(x_l, y_l) - alpha log E_q(a|x_l)[q(y_l|a,x_l)]] + sum_u U(x_u)   (eqs. 14, 15)
    alpha    = beta (N_l + N_u) / N_l

Monte Carlo samples lie along axis 0 ([S, B]); the enumerated class, where present, in front
of them ([K, S, B]). The functions return per-example values [B] except the objective.
"""

from __future__ import annotations

import math

import tensorflow as tf


def log_importance_weight(
    log_px: tf.Tensor,
    log_py: tf.Tensor | float,
    log_pz: tf.Tensor,
    log_pa: tf.Tensor | float,
    log_qa: tf.Tensor | float,
    log_qz: tf.Tensor,
    kl_weight: tf.Tensor | float = 1.0,
) -> tf.Tensor:
    """log p(x, y, a, z) - log q(a, z | x, y), broadcast over its arguments' shapes.

    Models without a stochastic `a` pass 0 for log p(a|.) and log q(a|x). `kl_weight` < 1
    is the warm-up ("temperature", paper Sec. 5; Kaae Sonderby et al., 2016) on the a and z
    terms, log p(x|.) + log p(y) + kl_weight (log p(z) + log p(a|.) - log q(a|x) - log q(z|.)),
    which is a bound only at kl_weight = 1.
    """
    return log_px + log_py + kl_weight * (log_pz + log_pa - log_qa - log_qz)


def labeled_bound(log_w: tf.Tensor) -> tf.Tensor:
    """-L(x, y): the Monte Carlo average of log w over the samples. [S, B] -> [B]."""
    return tf.reduce_mean(log_w, axis=0)


def unlabeled_bound(log_w: tf.Tensor, log_qy: tf.Tensor) -> tf.Tensor:
    """-U(x) by exact enumeration of y (eq. 19).

    Args:
      log_w: log importance weight of every class, [K, S, B].
      log_qy: log q(y=k | a_s, x) for the same `a` samples, [K, S, B].

    Returns:
      (1/S) sum_s sum_k q(k|a_s,x) (log w_ks - log q(k|a_s,x)), shape [B].
    """
    qy = tf.exp(log_qy)
    return tf.reduce_mean(tf.reduce_sum(qy * (log_w - log_qy), axis=0), axis=0)


def authors_sample_layout(log_w: tf.Tensor) -> tf.Tensor:
    """log w [K, S, B] rearranged as the authors' early ADGM code read it before its mean over
    the samples in the unlabeled bound (ml-lab/auxiliary-deep-generative-models,
    models/adgmssl.py, every commit: `lb_u.reshape((n_y, samples, 1, bs_u))`, on rows that
    their sampling layers lay out image by image with the samples inner).

    Entry [k, s, b] is log w of image (s B + b) // S, sample (s B + b) % S: with S > 1 the
    "mean over samples" of image b is the mean over S different images of its batch (b // S,
    B / S + b // S, ...), one sample each, and every S consecutive images get the same
    row. In a batch of one digit that mean is the digit's average bound under each class.
    With S = 1 log w is unchanged. For reproducing their log only (BENCHMARKS.md).
    """
    return tf.reshape(tf.transpose(log_w, [0, 2, 1]), tf.shape(log_w))


def classification_log_likelihood(log_qy_labeled: tf.Tensor) -> tf.Tensor:
    """log E_q(a|x)[q(y|a,x)] of the observed label, estimated inside the log.

    Args:
      log_qy_labeled: log q(y_l | a_s, x_l) for S samples of `a`, [S, B].

    Returns:
      log((1/S) sum_s q(y_l|a_s,x_l)), shape [B].
    """
    num_samples = tf.cast(tf.shape(log_qy_labeled)[0], log_qy_labeled.dtype)
    return tf.reduce_logsumexp(log_qy_labeled, axis=0) - tf.math.log(num_samples)


def classification_weight(beta: float, num_labeled: int, num_unlabeled: int) -> float:
    """alpha = beta (N_l + N_u) / N_l, the weight of the classification term (eq. 14)."""
    if num_labeled <= 0:
        raise ValueError(f"num_labeled must be positive, got {num_labeled}.")
    if num_unlabeled < 0 or beta < 0:
        raise ValueError(
            f"beta and num_unlabeled must be non-negative, got {beta} and {num_unlabeled}."
        )
    return beta * (num_labeled + num_unlabeled) / num_labeled


def semi_supervised_objective(
    labeled: tf.Tensor,
    unlabeled: tf.Tensor,
    class_log_likelihood: tf.Tensor,
    alpha: float,
) -> tf.Tensor:
    """J per example (eq. 15), to minimise: mean_l [L - alpha log q] + mean_u U.

    Args:
      labeled: -L(x_l, y_l), [B_l].
      unlabeled: -U(x_u), [B_u].
      class_log_likelihood: log E_q(a|x_l)[q(y_l|a,x_l)], [B_l].
      alpha: classification weight.

    Returns:
      A scalar. The means (rather than sums) keep the scale independent of batch sizes; with
      equal labeled and unlabeled batch sizes it is J / B.
    """
    return tf.reduce_mean(-labeled - alpha * class_log_likelihood) + tf.reduce_mean(-unlabeled)


def kl_per_unit(kl_units: tf.Tensor, log_qy: tf.Tensor | None = None) -> tf.Tensor:
    """The batch's mean Monte Carlo KL of each unit of a latent variable.

    Args:
      kl_units: log q(a_d|.) - log p(a_d|.) per unit: [S, B, n] for observed labels, or
        [K, S, B, n] with the class enumerated.
      log_qy: with the class enumerated, log q(y=k|a,x) [K, S, B]: the classes are summed
        with weights q(k|a,x), as in the unlabeled bound.

    Returns:
      [n]: the mean over samples and examples (of the q(y)-weighted sum over classes).
    """
    if log_qy is not None:
        kl_units = tf.reduce_sum(tf.exp(log_qy)[..., None] * kl_units, axis=0)  # [S, B, n]
    return tf.reduce_mean(kl_units, axis=[0, 1])


def free_bits_excess(kl: tf.Tensor, floor: float) -> tf.Tensor:
    """sum_d max(floor - KL_d, 0) for the per-unit KLs [n] of a batch ("free bits", Kingma et
    al., 2016, Improved variational inference with inverse autoregressive flow, eq. 15).

    Added to a loss that holds sum_d KL_d, it makes that term sum_d max(floor, KL_d): a unit
    whose KL is below `floor` nats is no longer pushed towards its prior, so a latent may
    carry up to `floor` nats per unit at no cost. The bound itself is unchanged.
    """
    return tf.reduce_sum(tf.nn.relu(floor - kl))


def log_uniform_prior(num_classes: int) -> float:
    """log p(y) for the uniform Cat(y | 1/K) prior (eq. 6)."""
    return -math.log(num_classes)


def importance_weighted_bound(log_w: tf.Tensor) -> tf.Tensor:
    """The importance-weighted bound on log p(x) (Burda et al., 2015) with y enumerated.

    For each sample a_s ~ q(a|x) and z_ks ~ q(z|a_s,k,x), sum_k w_ks is an unbiased estimate
    of p(x) (the q(y|a,x) factors cancel), so log (1/S) sum_s sum_k w_ks <= log p(x) in
    expectation, and tightens as S grows.

    Args:
      log_w: log importance weight of every class, [K, S, B] (no log q(y|.) in it).

    Returns:
      logsumexp over k and s of log w, minus log S: shape [B].
    """
    num_samples = tf.cast(tf.shape(log_w)[1], log_w.dtype)
    return tf.reduce_logsumexp(log_w, axis=[0, 1]) - tf.math.log(num_samples)


def weight_penalty(weights: list[tf.Tensor]) -> tf.Tensor:
    """sum(W^2) / 2 over the weights: minus the log-density of a N(0, 1) prior, up to a constant."""
    return tf.add_n([tf.nn.l2_loss(w) for w in weights])  # l2_loss(w) = sum(w^2) / 2, one op
