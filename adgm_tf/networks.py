"""One network builder for every conditional of the ADGM family.

Each of the five networks of the paper (q(a|x), q(y|a,x), q(z|a,y,x), p(a|.), p(x|.)) is an
`MLP` over a tuple of named inputs followed by a head that returns a TFP distribution:

    h_1 = relu(sum_i W_i v_i + b)            # == Dense on concat(v_1, ..., v_n)
    h_M = relu(W_M h_{M-1} + b_M)            # paper eq. (16)
    mu, log sigma^2 = Linear(h_M), Linear(h_M)   # paper eqs. (17), (18)

The first layer has one kernel per input (together initialised as one Glorot kernel of the
concatenated inputs), so inputs may have different, broadcastable leading shapes: an input
that does not depend on the class (x, a) is projected once per example and broadcast against
the per-class projection of y, instead of being tiled once per class. With batch
normalisation, the broadcast sum, the normalisation and the ReLU run as one XLA-fused
function (`fused.batch_norm_relu`).
"""

from __future__ import annotations

from typing import Sequence

import keras
from keras import ops
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf import fused
from adgm_tf.distribute import multi_replica_context

tfd = tfp.distributions

HEADS = ("gaussian", "bernoulli", "categorical", "deterministic")
# Hidden kernels: "glorot_uniform" (Keras' default; the first layer as one kernel of the
# concatenated inputs) or "glorot_normal_relu" (the authors' code: N(0, 2 * 2 / (fan_in +
# fan_out)), a Glorot-normal kernel with ReLU gain, each first-layer input with its own fan-in).
INITS = ("glorot_uniform", "glorot_normal_relu")


def on_rows(fn, v: tf.Tensor) -> tf.Tensor:
    """fn applied to v [..., d] as one [rows, d] matrix, reshaped back to [..., d_out].

    A matmul of a rank-4 tensor by a kernel runs as many small batched products whose
    kernel gradient is summed afterwards; one 2-D product is several times faster.
    """
    if v.shape.rank == 2:
        return fn(v)
    out = fn(tf.reshape(v, (-1, v.shape[-1])))
    return tf.reshape(out, tf.concat([tf.shape(v)[:-1], tf.shape(out)[-1:]], 0))


class BatchNormReLU(keras.layers.Layer):
    """relu(batch_norm(sum_i p_i)) over the broadcast sum of a layer's input projections.

    Training mode normalises with the batch statistics over every leading axis (classes,
    samples and batch) in one XLA-fused function with a hand-written gradient
    (`fused.batch_norm_relu`); inference mode with the moving averages. The moving averages
    are updated only by calls with `update_stats=True` (the model passes False on labeled
    passes, so that they follow the unlabeled data, as the authors' code; see
    `DeepGenerativeModel`). Momentum and epsilon as keras.layers.BatchNormalization.
    """

    def __init__(self, units: int, momentum: float = 0.99, epsilon: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)

        def weight(name, init, trainable=True):
            return self.add_weight(shape=(units,), initializer=init, trainable=trainable,
                                   name=name, autocast=False,  # float32 under mixed policies
                                   aggregation="mean")  # the same on every replica anyway

        self.gamma = weight("gamma", "ones")
        self.beta = weight("beta", "zeros")
        self.moving_mean = weight("moving_mean", "zeros", trainable=False)
        self.moving_variance = weight("moving_variance", "ones", trainable=False)

    def call(self, projections: Sequence[tf.Tensor], training=None, update_stats=True):
        """projections: [..., H] with broadcastable leading shapes -> [rows, H]."""
        if training:
            context = multi_replica_context()
            if context is not None:
                rows, mean, var = synchronized_batch_norm_relu(
                    projections, self.gamma.value, self.beta.value, self.epsilon, context)
            else:
                rows, mean, var = fused.batch_norm_relu(
                    projections, self.gamma.value, self.beta.value, self.epsilon)
            if update_stats:
                for moving, batch in ((self.moving_mean, mean), (self.moving_variance, var)):
                    moving.assign(moving * self.momentum + batch * (1.0 - self.momentum))
            return rows
        h = broadcast_sum_rows(projections)
        scale = self.gamma * tf.math.rsqrt(self.moving_variance + self.epsilon)
        shift = self.beta - self.moving_mean * scale
        return ops.relu(h * ops.cast(scale, h.dtype) + ops.cast(shift, h.dtype))


def synchronized_batch_norm_relu(projections, gamma, beta, epsilon, context):
    """relu(batch_norm(sum_i p_i)) with the statistics of the rows of every replica.

    The per-replica sums of h and h^2 and the row counts are all-reduced (and so are their
    gradients, by TensorFlow's gradient of the all-reduce), so the output and its gradient
    are those of one device holding the global batch. Returns (rows [N, H], mean [H],
    var [H]) as `fused.batch_norm_relu`.
    """
    h = broadcast_sum_rows(projections)
    h32 = tf.cast(h, tf.float32)
    count = tf.cast(tf.shape(h32)[0], tf.float32)
    total, total_sq, count = context.all_reduce(
        tf.distribute.ReduceOp.SUM,
        [tf.reduce_sum(h32, 0), tf.reduce_sum(tf.square(h32), 0), count])
    mean = total / count
    var = tf.maximum(total_sq / count - tf.square(mean), 0.0)
    scale = gamma * tf.math.rsqrt(var + epsilon)
    rows = tf.nn.relu(h32 * scale + (beta - mean * scale))
    return tf.cast(rows, h.dtype), mean, var


def broadcast_sum_rows(projections: Sequence[tf.Tensor]) -> tf.Tensor:
    """The broadcast sum of projections [..., H] as one [rows, H] matrix."""
    h = projections[0]
    for p in projections[1:]:
        h = h + p
    return tf.reshape(h, (-1, h.shape[-1]))


def _uniform(limit: float) -> keras.initializers.Initializer:
    return keras.initializers.RandomUniform(-limit, limit)


class MLP(keras.layers.Layer):
    """Fully connected ReLU layers over several inputs with broadcastable leading shapes.

    Args:
      input_dims: feature size of each input, in the order `call` receives them.
      hidden_sizes: units of each hidden layer (at least one).
      batch_norm: batch normalisation before each ReLU (the authors' code; not in the paper).
        The layers before it then have no bias (the normalisation removes it).
      input_names: names of the inputs, for the first layer's kernels (default 0, 1, ...).
      init: the hidden kernels' initialisation, one of `INITS`.

    The first layer has one kernel per input, so h_1 = relu(sum_i v_i W_i + b) is a Dense
    layer on concat(v_1, ..., v_n) (with "glorot_uniform", initialised as one kernel of the
    concatenation would be); keeping the kernels apart spares a split forward and a
    concatenation backward. Under a mixed-precision dtype policy (e.g. "mixed_bfloat16") the
    matrix products run in the compute dtype, the weights stay float32, and
    `DistributionHead` returns float32 distributions.
    """

    def __init__(
        self,
        input_dims: Sequence[int],
        hidden_sizes: Sequence[int],
        batch_norm: bool = False,
        input_names: Sequence[str] | None = None,
        init: str = "glorot_uniform",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not hidden_sizes:
            raise ValueError("MLP needs at least one hidden layer; got hidden_sizes=().")
        if init not in INITS:
            raise ValueError(f"Unknown init {init!r}; choose one of {INITS}.")
        self.input_dims = tuple(int(d) for d in input_dims)
        self.hidden_sizes = tuple(int(h) for h in hidden_sizes)
        self.batch_norm = batch_norm
        names = input_names or [str(i) for i in range(len(self.input_dims))]
        first = self.hidden_sizes[0]
        if init == "glorot_uniform":  # of the concatenated kernel
            first_init = _uniform((6.0 / (sum(self.input_dims) + first)) ** 0.5)
            hidden_init = "glorot_uniform"
        else:  # std = sqrt(2) sqrt(2 / (fan_in + fan_out)), each input's kernel on its own
            first_init = hidden_init = keras.initializers.VarianceScaling(
                2.0, mode="fan_avg", distribution="untruncated_normal")
        self.kernels = [
            self.add_weight(shape=(d, first), initializer=first_init, name=f"kernel_{n}")
            for d, n in zip(self.input_dims, names)
        ]
        self.bias = None if batch_norm else self.add_weight(
            shape=(first,), initializer="zeros", name="bias")
        self.dense = [
            keras.layers.Dense(h, use_bias=not batch_norm, name=f"dense_{i + 1}",
                               kernel_initializer=hidden_init, dtype=self.dtype_policy)
            for i, h in enumerate(self.hidden_sizes[1:])
        ]
        self.norms = (
            [BatchNormReLU(h, name=f"bn_{i}", dtype=self.dtype_policy)
             for i, h in enumerate(self.hidden_sizes)]
            if batch_norm
            else []
        )

    def _activation(self, projections, i, training, update_stats):
        """[rows, H] from the layer's projections: normalised and rectified."""
        if self.norms:
            return self.norms[i](projections, training=training, update_stats=update_stats)
        h = broadcast_sum_rows(projections)
        if i == 0:
            h = h + ops.cast(self.bias, h.dtype)
        return ops.relu(h)

    def call(self, inputs: Sequence[tf.Tensor], training=None, update_stats=True) -> tf.Tensor:
        """inputs: tensors [..., input_dims[i]] -> [broadcast(...), hidden_sizes[-1]].

        update_stats: whether a training call updates batch normalisation's moving averages.
        """
        if len(inputs) != len(self.input_dims):
            raise ValueError(
                f"{self.name} expects {len(self.input_dims)} inputs, got {len(inputs)}."
            )
        projections, lead = [], None
        for v, kernel in zip(inputs, self.kernels):
            v = ops.cast(v, self.compute_dtype)  # bfloat16 under a mixed-precision policy
            projections.append(on_rows(lambda r: ops.matmul(r, kernel), v))  # [..., H]
            shape = tf.shape(v)[:-1]
            lead = shape if lead is None else tf.broadcast_dynamic_shape(lead, shape)
        # The first activation is the only tensor with every leading axis; from here on one
        # [rows, H] matrix goes through the layers.
        rows = self._activation(projections, 0, training, update_stats)
        for i, dense in enumerate(self.dense):
            rows = self._activation([dense(rows)], i + 1, training, update_stats)
        return tf.reshape(rows, tf.concat([lead, [self.hidden_sizes[-1]]], 0))


class DistributionHead(keras.layers.Layer):
    """Linear output layers turning the last hidden layer into a TFP distribution.

    Args:
      kind: "gaussian" (diagonal, mean and log-variance heads), "bernoulli" (logits),
        "categorical" (logits; event is a class index) or "deterministic" (a point mass at a
        linear output, for the deterministic-`a` ablation).
      event_size: dimension of the variable (number of classes for "categorical").
      init_std: when set, a Gaussian head's weights and biases start as N(0, init_std^2)
        (the authors' small initial heads); otherwise Glorot weights and zero biases.
      var_floor: a Gaussian head's variance is exp(log_var) + var_floor (0: exp(log_var)),
        so that a likelihood cannot grow without bound by shrinking a variance to zero.

    A Gaussian head computes its mean and log-variance with one product (kernel
    [H, 2 * event_size], each half initialised as a Glorot kernel [H, event_size] would be).

    Returns from `call`: a distribution with batch shape [...] and, except for "categorical",
    event shape [event_size].
    """

    def __init__(self, kind: str, event_size: int, init_std: float | None = None,
                 var_floor: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        if kind not in HEADS:
            raise ValueError(f"Unknown head {kind!r}; choose one of {HEADS}.")
        if not var_floor >= 0:
            raise ValueError(f"var_floor must be non-negative, got {var_floor}.")
        self.var_floor = float(var_floor)
        self.kind = kind
        self.event_size = int(event_size)
        self.init_std = init_std
        self.width = self.event_size * (2 if kind == "gaussian" else 1)
        self.out = None

    def build(self, input_shape):
        hidden = int(input_shape[-1])
        init = {}
        if self.init_std and self.kind == "gaussian":
            normal = keras.initializers.RandomNormal(stddev=self.init_std)
            init = dict(kernel_initializer=normal, bias_initializer=normal)
        elif self.kind == "gaussian":  # Glorot of the [H, event_size] mean or variance kernel
            init = dict(kernel_initializer=_uniform((6.0 / (hidden + self.event_size)) ** 0.5))
        self.out = keras.layers.Dense(self.width, name="out", dtype=self.dtype_policy, **init)
        self.out.build((None, hidden))

    def call(self, h: tf.Tensor) -> tfd.Distribution:
        # Distributions and the bound stay in float32 under a mixed-precision policy.
        out = ops.cast(on_rows(self.out, h), "float32")  # [..., width]
        if self.kind == "gaussian":
            loc, log_var = tf.split(out, 2, axis=-1)
            if self.var_floor:
                scale = ops.sqrt(ops.exp(log_var) + self.var_floor)
            else:
                scale = ops.exp(0.5 * log_var)
            return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=1)
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
      hidden_sizes, batch_norm, init: see `MLP`.
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
        init: str = "glorot_uniform",
        var_floor: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.input_names = tuple(input_names)
        self.mlp = MLP([dims[n] for n in self.input_names], hidden_sizes, batch_norm,
                       input_names=self.input_names, init=init, name="mlp",
                       dtype=self.dtype_policy)
        self.head = DistributionHead(head, event_size, head_init_std, var_floor, name="head",
                                     dtype=self.dtype_policy)

    def call(self, variables: dict[str, tf.Tensor], training=None,
             update_stats=True) -> tfd.Distribution:
        h = self.mlp([variables[n] for n in self.input_names], training=training,
                     update_stats=update_stats)
        return self.head(h)


class FreeGaussian(keras.layers.Layer):
    """A diagonal Gaussian with free (input-independent) mean and log-variance; the mean
    starts at 0, or at N(0, loc_init_std^2) (seeded) when that is given.

    Use `distribution()`: a Keras layer called without inputs does not pass gradients.
    """

    def __init__(self, event_size: int, loc_init_std: float | None = None, seed=None, **kwargs):
        super().__init__(**kwargs)
        loc_init = (keras.initializers.RandomNormal(stddev=loc_init_std, seed=seed)
                    if loc_init_std else "zeros")
        self.loc = self.add_weight(shape=(event_size,), initializer=loc_init, name="loc")
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
