"""One network builder for every conditional of the ADGM family.

Each of the five networks of the paper (q(a|x), q(y|a,x), q(z|a,y,x), p(a|.), p(x|.)) is an
`MLP` over a tuple of named inputs followed by a head that returns a TFP distribution:

    h_1 = relu(sum_i W_i v_i + b)            # == Dense on concat(v_1, ..., v_n)
    h_M = relu(W_M h_{M-1} + b_M)            # paper eq. (16)
    mu, log sigma^2 = Linear(h_M), Linear(h_M)   # paper eqs. (17), (18)

The first layer keeps one Glorot-initialised kernel for the concatenated inputs but multiplies
each input by its own rows, so inputs may have different, broadcastable leading shapes: an
input that does not depend on the class (x, a) is projected once per example and broadcast
against the per-class projection of y, instead of being tiled once per class.
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

HEADS = ("gaussian", "bernoulli", "categorical", "deterministic")


def on_rows(fn, v: tf.Tensor) -> tf.Tensor:
    """fn applied to v [..., d] as one [rows, d] matrix, reshaped back to [..., d_out].

    A matmul of a rank-4 tensor by a kernel runs as many small batched products whose
    kernel gradient is summed afterwards; one 2-D product is several times faster.
    """
    if v.shape.rank == 2:
        return fn(v)
    out = fn(tf.reshape(v, (-1, v.shape[-1])))
    return tf.reshape(out, tf.concat([tf.shape(v)[:-1], tf.shape(out)[-1:]], 0))


class MLP(keras.layers.Layer):
    """Fully connected ReLU layers over several inputs with broadcastable leading shapes.

    Args:
      input_dims: feature size of each input, in the order `call` receives them.
      hidden_sizes: units of each hidden layer (at least one).
      batch_norm: batch normalisation before each ReLU (the authors' code; not in the paper).

    Under a mixed-precision dtype policy (e.g. "mixed_bfloat16") the matrix products run in
    the compute dtype, the weights stay float32, and `DistributionHead` returns float32
    distributions.
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        hidden_sizes: Sequence[int],
        batch_norm: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not hidden_sizes:
            raise ValueError("MLP needs at least one hidden layer; got hidden_sizes=().")
        self.input_dims = tuple(int(d) for d in input_dims)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.batch_norm = batch_norm
        self.kernel = self.add_weight(
            shape=(sum(self.input_dims), self.hidden_sizes[0]),
            initializer="glorot_uniform",
            name="kernel",
        )
        self.bias = self.add_weight(
            shape=(self.hidden_sizes[0],), initializer="zeros", name="bias"
        )
        self.dense = [
            keras.layers.Dense(h, name=f"dense_{i + 1}", dtype=self.dtype_policy)
            for i, h in enumerate(self.hidden_sizes[1:])
        ]
        self.norms = (
            [
                keras.layers.BatchNormalization(name=f"bn_{i}", dtype=self.dtype_policy)
                for i in range(len(self.hidden_sizes))
            ]
            if batch_norm
            else []
        )

    def _norm_relu(self, h, i, training):
        if self.norms:  # statistics over every leading axis: classes, samples and batch
            h = self.norms[i](h, training=training)
        return ops.relu(h)

    def call(self, inputs: Sequence[tf.Tensor], training=None) -> tf.Tensor:
        """inputs: tensors [..., input_dims[i]] -> [broadcast(...), hidden_sizes[-1]]."""
        if len(inputs) != len(self.input_dims):
            raise ValueError(
                f"{self.name} expects {len(self.input_dims)} inputs, got {len(inputs)}."
            )
        h = self.bias
        # One block of rows per input; the gradient of a split is a cheap concatenation (that
        # of a slice is a kernel-sized scatter per input).
        kernels = tf.split(self.kernel, self.input_dims) if len(inputs) > 1 else [self.kernel]
        for v, kernel in zip(inputs, kernels):
            v = ops.cast(v, self.compute_dtype)  # bfloat16 under a mixed-precision policy
            h = h + on_rows(lambda r: ops.matmul(r, kernel), v)  # [..., H]
        # The broadcast sum is the only tensor with every leading axis; from here on one
        # [rows, H] matrix goes through the layers.
        rows = tf.reshape(h, (-1, self.hidden_sizes[0]))
        rows = self._norm_relu(rows, 0, training)
        for i, dense in enumerate(self.dense):
            rows = self._norm_relu(dense(rows), i + 1, training)
        return tf.reshape(rows, tf.concat([tf.shape(h)[:-1], [self.hidden_sizes[-1]]], 0))


class DistributionHead(keras.layers.Layer):
    """Linear output layers turning the last hidden layer into a TFP distribution.

    Args:
      kind: "gaussian" (diagonal, mean and log-variance heads), "bernoulli" (logits),
        "categorical" (logits; event is a class index) or "deterministic" (a point mass at a
        linear output, for the deterministic-`a` ablation).
      event_size: dimension of the variable (number of classes for "categorical").
      init_std: when set, a Gaussian head's weights and biases start as N(0, init_std^2)
        (the authors' small initial heads); otherwise Glorot weights and zero biases.

    Returns from `call`: a distribution with batch shape [...] and, except for "categorical",
    event shape [event_size].
    """

    def __init__(self, kind: str, event_size: int, init_std: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if kind not in HEADS:
            raise ValueError(f"Unknown head {kind!r}; choose one of {HEADS}.")
        self.kind = kind
        self.event_size = int(event_size)
        init = {}
        if init_std and kind == "gaussian":
            normal = keras.initializers.RandomNormal(stddev=init_std)
            init = dict(kernel_initializer=normal, bias_initializer=normal)
        init["dtype"] = self.dtype_policy
        self.loc = keras.layers.Dense(self.event_size, name="loc", **init)
        self.log_var = (
            keras.layers.Dense(self.event_size, name="log_var", **init)
            if kind == "gaussian"
            else None
        )

    def call(self, h: tf.Tensor) -> tfd.Distribution:
        # Distributions and the bound stay in float32 under a mixed-precision policy.
        out = ops.cast(on_rows(self.loc, h), "float32")  # [..., event_size]
        if self.kind == "gaussian":
            scale = ops.exp(0.5 * ops.cast(on_rows(self.log_var, h), "float32"))
            return tfd.Independent(tfd.Normal(out, scale), reinterpreted_batch_ndims=1)
        if self.kind == "bernoulli":
            return tfd.Independent(tfd.Bernoulli(logits=out), reinterpreted_batch_ndims=1)
        if self.kind == "categorical":
            return tfd.Categorical(logits=out)
        return tfd.Independent(tfd.Deterministic(out), reinterpreted_batch_ndims=1)


class StochasticNetwork(keras.layers.Layer):
    """MLP over named inputs followed by a distribution head: v_1..v_n -> p(. | v_1..v_n).

    Args:
      input_names: names of the conditioning variables, e.g. ("a", "y", "x").
      dims: feature size of every variable name.
      hidden_sizes, batch_norm: see `MLP`.
      head, head_init_std: kind and `init_std` of the `DistributionHead`.
      event_size: dimension of the output variable.
    """

    def __init__(
        self,
        input_names: Sequence[str],
        dims: dict[str, int],
        hidden_sizes: Sequence[int],
        head: str,
        event_size: int,
        batch_norm: bool = False,
        head_init_std: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_names = tuple(input_names)
        self.mlp = MLP([dims[n] for n in self.input_names], hidden_sizes, batch_norm, name="mlp",
                       dtype=self.dtype_policy)
        self.head = DistributionHead(head, event_size, head_init_std, name="head",
                                     dtype=self.dtype_policy)

    def call(self, variables: dict[str, tf.Tensor], training=None) -> tfd.Distribution:
        h = self.mlp([variables[n] for n in self.input_names], training=training)
        return self.head(h)


class FreeGaussian(keras.layers.Layer):
    """A diagonal Gaussian with free (input-independent) mean and log-variance.

    Use `distribution()`: a Keras layer called without inputs does not pass gradients.
    """

    def __init__(self, event_size: int, **kwargs):
        super().__init__(**kwargs)
        self.loc = self.add_weight(shape=(event_size,), initializer="zeros", name="loc")
        self.log_var = self.add_weight(shape=(event_size,), initializer="zeros", name="log_var")

    def distribution(self) -> tfd.Distribution:
        """N(loc, diag(exp(log_var))) with event shape [event_size]."""
        return tfd.Independent(
            tfd.Normal(self.loc, ops.exp(0.5 * self.log_var)), reinterpreted_batch_ndims=1
        )


def reparameterize(dist: tfd.Distribution, eps: tf.Tensor) -> tf.Tensor:
    """A sample of a diagonal Gaussian (or point mass) as a differentiable function of noise.

    Args:
      dist: `Independent(Normal)` with batch shape [B...] or `Independent(Deterministic)`.
      eps: standard normal noise [S..., B..., d], broadcastable against the batch shape.

    Returns:
      loc + scale * eps, shape broadcast(eps, [B..., d]); for a point mass, loc broadcast.
    """
    eps = ops.cast(eps, dist.dtype)  # noise read from a variable may be autocast to bfloat16
    if isinstance(dist.distribution, tfd.Deterministic):
        return dist.mean() + ops.zeros_like(eps)
    # mean() and stddev() rather than the stored parameters: a parameter kept as a Keras
    # variable would not carry its gradient through the sample.
    return dist.mean() + dist.stddev() * eps
