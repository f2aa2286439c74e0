"""Auxiliary deep generative models for semi-supervised classification (Maaloe et al., 2016).

Inference model, shared by all variants (eqs. 9-11):

    q(a, y, z | x) = q(a|x) q(y|a,x) q(z|a,y,x)

Generative models (eqs. 5-8, 21, 22), with p(z) = N(0, I) and p(y) = Cat(1/K):

    ADGM:  p(x, a, y, z) = p(x|y,z) p(a|x,y,z) p(y) p(z)
    SDGM:  p(x, a, y, z) = p(x|a,y,z) p(a|y,z) p(y) p(z)
    M2:    p(x, y, z)    = p(x|y,z) p(y) p(z)     and q(y|x) q(z|y,x)   (Kingma et al., 2014)
    and the ablations of `architectures` (deterministic `a`; the authors' fixed q(a|x)).

Where each part lives: the variants as data and their networks in `architectures`; the
forward passes that give the bound's terms in `passes`; the bound's terms themselves, pure
functions, in `bounds`; the kernels' cast under mixed precision in `precision`; this file
holds the model's hyperparameters (`ModelOptions`) and the Keras contract: the objective
J = sum_l -L(x,y) + sum_u -U(x) + alpha E_l[-log q(y|x)] (eq. 14) in `compute_loss_terms`,
`train_step`, `test_step`, `call`.

Note: in its benchmarks the paper used p(a|y,z) for the ADGM (Sec. 3), while eqs. (7) and
(21) write p(a|x,y,z); `ADGM` follows the equations, and `ADGM(p_a_inputs=("y", "z"))` gives
the benchmark variant.
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
from keras import ops
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf import bounds
from adgm_tf.architectures import NETWORK_NAMES, Architecture, architecture, build_networks
from adgm_tf.distribute import BuiltAtConstruction, num_replicas, step_logs
from adgm_tf.input_pipeline import check_first_batch
from adgm_tf.passes import (DEFAULT_UNLABELED_SAMPLE_LAYOUT, UNLABELED_SAMPLE_LAYOUTS,
                             ForwardPasses)
from adgm_tf.precision import kernels_in_compute_dtype

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "gaussian")
BATCH_NORM_STATS = ("unlabeled", "all")


@dataclasses.dataclass(frozen=True)
class ModelOptions:
    """A `DeepGenerativeModel`'s hyperparameters, checked on construction; its Keras config.

    The first four have no default here: the model's constructor gives them theirs.
    """

    input_dim: int  # dimension of x
    num_classes: int  # K
    likelihood: str  # "bernoulli" (x in [0, 1]) or "gaussian" (diagonal mean, log-variance)
    architecture: str  # a key of `architectures.ARCHITECTURES`
    hidden_sizes: tuple[int, ...] = (500, 500)  # of every network (the paper: 2 x 500 on MNIST)
    a_dim: int = 100  # dimension of a (M2 ignores it)
    z_dim: int = 100  # dimension of z
    num_samples: int = 1  # Monte Carlo samples S of `a` (one z per `a` and class) in the bound
    # Samples of `a` averaged by `call` for q(y|x): fixed noise, so predictions are
    # deterministic and do not depend on the batch.
    num_predict_samples: int = 10
    classification_weight: float = 1.0  # alpha of eq. (14); `bounds.classification_weight`
    batch_norm: bool = False  # batch normalisation before each ReLU
    # Which training passes update batch normalisation's moving averages (used in inference
    # mode): "unlabeled" (the authors' code) or "all" (labeled passes too, mixing each
    # image's true class with the enumeration of all classes). Training itself always
    # normalises with the statistics of the pass at hand.
    batch_norm_stats: str = "unlabeled"
    # Overrides the parents of a in p (e.g. ("y", "z") for the ADGM of the paper's benchmarks).
    p_a_inputs: tuple[str, ...] | None = None
    # The Gaussian heads' weights start as N(0, head_init_std^2) (the authors' code: 1e-3);
    # None for Glorot.
    head_init_std: float | None = None
    # With a Gaussian likelihood p(x|.)'s variance is exp(log_var) + this (0: none): a floor
    # that keeps the likelihood of Gaussian inputs bounded.
    x_var_floor: float = 0.0
    init: str = "glorot_uniform"  # the hidden kernels' initialisation, one of `networks.INITS`
    # Adds weight_prior * sum(W^2) / 2 over the weight matrices to the loss: a N(0, 1) prior on
    # the weights divided by N when weight_prior = 1 / N (the authors' code). 0: none.
    weight_prior: float = 0.0
    # Free bits on the KL of a stochastic, trained `a` (nats per unit, 0: off): each unit's
    # KL, averaged over the batch, counts as at least this much in the training loss
    # (`bounds.free_bits_excess`), so that `a` may carry that much about x without cost. The
    # reported bounds stay the bounds.
    a_free_bits: float = 0.0
    # One of UNLABELED_SAMPLE_LAYOUTS; "authors" changes the training loss only (the reported
    # bounds stay the bounds), for reproducing the authors' early log (BENCHMARKS.md).
    unlabeled_sample_layout: str = DEFAULT_UNLABELED_SAMPLE_LAYOUT
    seed: int | None = 0  # seed of the model's noise and initial weights
    # Project x and a once per example and broadcast them over the classes. False tiles them
    # once per class, the straightforward evaluation: the same bound at more cost, kept as
    # the reference for tests and benchmarks.
    share_work: bool = True

    def __post_init__(self):
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"Unknown likelihood {self.likelihood!r}; choose one of "
                             f"{LIKELIHOODS}.")
        if self.batch_norm_stats not in BATCH_NORM_STATS:
            raise ValueError(f"Unknown batch_norm_stats {self.batch_norm_stats!r}; choose one "
                             f"of {BATCH_NORM_STATS}.")
        if self.unlabeled_sample_layout not in UNLABELED_SAMPLE_LAYOUTS:
            raise ValueError(f"Unknown unlabeled_sample_layout {self.unlabeled_sample_layout!r}; "
                             f"choose one of {UNLABELED_SAMPLE_LAYOUTS}.")
        for name in ("input_dim", "a_dim", "z_dim", "num_samples", "num_predict_samples"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got "
                                 f"{getattr(self, name)}.")
        if int(self.num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {self.num_classes}.")
        for name in ("classification_weight", "weight_prior", "head_init_std", "x_var_floor",
                     "a_free_bits"):
            if not (getattr(self, name) or 0.0) >= 0:
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)}.")
        if self.a_free_bits and not self.arch.trains_stochastic_a:
            raise ValueError(f"{self.architecture!r} has no trained stochastic `a`; "
                             "a_free_bits applies to the ADGM and SDGM only.")
        fields = dataclasses.fields(self)
        for field, cast in ((f, CASTS.get(f.name)) for f in fields):
            if cast is not None and getattr(self, field.name) is not None:
                object.__setattr__(self, field.name, cast(getattr(self, field.name)))

    @property
    def arch(self) -> Architecture:
        """The variant's `Architecture`, with p_a_inputs applied (and checked)."""
        return architecture(self.architecture, self.p_a_inputs)


def _ints(values) -> tuple[int, ...]:
    return tuple(int(v) for v in values)


# How the options are stored (and returned by get_config): plain Python numbers and tuples.
CASTS = {"input_dim": int, "num_classes": int, "hidden_sizes": _ints, "a_dim": int,
         "z_dim": int, "num_samples": int, "num_predict_samples": int,
         "classification_weight": float, "batch_norm": bool, "p_a_inputs": tuple,
         "x_var_floor": float, "weight_prior": float, "a_free_bits": float, "share_work": bool}
OPTION_NAMES = tuple(f.name for f in dataclasses.fields(ModelOptions))


class DeepGenerativeModel(BuiltAtConstruction, ForwardPasses, keras.Model):
    """A semi-supervised deep generative model; `architecture` picks the variant.

    Args:
      input_dim, num_classes, likelihood, architecture and any other field of
      `ModelOptions` (each described there), as keywords after the first four.
      dtype: a Keras dtype policy; "mixed_bfloat16" runs the networks' matrix products in
        bfloat16 with float32 weights, distributions and bound. Keras' other Layer
        arguments (name, trainable) too.

    `call(x)` returns q(y|x) [B, K]. `train_step` takes a dict with "x_labeled" [B_l, D],
    "y_labeled" [B_l] and "x_unlabeled" [B_u, D] (see `semi_supervised_dataset`);
    `test_step` takes (x, y). The forward passes (`auxiliary`, `log_weight`,
    `labeled_terms`, `unlabeled_terms`, `unlabeled_bound`, `class_bounds`,
    `importance_weighted_bound`, `class_probabilities`) come
    from `passes.ForwardPasses`.
    """

    def __init__(self, input_dim: int, num_classes: int, likelihood: str = "bernoulli",
                 architecture: str = "adgm", **kwargs):
        keras_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k not in OPTION_NAMES}
        super().__init__(**keras_kwargs)
        self.options = o = ModelOptions(input_dim, num_classes, likelihood, architecture,
                                        **kwargs)
        self.arch = o.arch
        self.likelihood, self.input_dim, self.num_classes = o.likelihood, o.input_dim, o.num_classes
        self.a_dim, self.z_dim, self.num_samples = o.a_dim, o.z_dim, o.num_samples
        self.alpha, self.weight_prior = o.classification_weight, o.weight_prior
        self.a_free_bits, self.share_work = o.a_free_bits, o.share_work
        self.unlabeled_sample_layout = o.unlabeled_sample_layout
        self.labeled_updates_stats = o.batch_norm_stats == "all"
        # Under a mixed-precision policy a training step casts each kernel to the compute
        # dtype once, not at every pass through its network (`precision`).
        self.cast_kernels_once = True
        # Samples of `a` behind the test error of `evaluate`/validation (None: all of
        # num_predict_samples); a cheaper in-training evaluation may use fewer.
        self.eval_predict_samples = None
        dims = {"x": self.input_dim, "y": self.num_classes, "a": self.a_dim, "z": self.z_dim}
        networks = build_networks(self.arch, dims, o.likelihood, o.hidden_sizes, o.x_var_floor,
                                  dtype=self.dtype_policy, batch_norm=o.batch_norm,
                                  head_init_std=o.head_init_std, init=o.init)
        self.q_a, self.q_y, self.q_z, self.p_a, self.p_x = (networks[n] for n in NETWORK_NAMES)
        standard_normal = tfd.Independent(tfd.Normal(tf.zeros(self.a_dim), 1.0), 1)
        self.prior_a = standard_normal if self.arch.standard_normal_a else None  # p(a)
        self.prior_z = tfd.Independent(tfd.Normal(tf.zeros(self.z_dim), 1.0), 1)
        self.log_py = bounds.log_uniform_prior(self.num_classes)
        # Training noise is stateless, seeded by (seed, noise_step): noise_step is saved with
        # the weights, so a resumed run draws the same noise as an uninterrupted one. Under
        # a tf.distribute strategy every replica counts the same steps.
        self.noise_seed = int(o.seed) if o.seed is not None else int(np.random.randint(2**31))
        self.noise_step = self.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False, name="noise_step",
            aggregation="only_first_replica")
        self.predict_noise = self.add_weight(
            shape=(o.num_predict_samples, self.a_dim), trainable=False, name="predict_noise",
            initializer=keras.initializers.RandomNormal(seed=o.seed))
        # Warm-up weight of the a and z terms (1 = the bound); see `callbacks.KLWarmup`.
        self.kl_weight = self.add_weight(shape=(), initializer="ones", trainable=False,
                                         name="kl_weight")
        self.trackers = {name: keras.metrics.Mean(name=name) for name in
                         ("loss", "labeled_bound", "unlabeled_bound", "classification_loss")}
        self.test_trackers = {name: keras.metrics.Mean(name=name) for name in ("error", "bound")}
        self.build((None, self.input_dim))
        if self.q_a is not None and not self.arch.train_q_a:  # after build: every weight exists
            self.q_a.trainable = False  # left out of trainable_variables: never updated

    @property
    def networks(self) -> tuple:
        """The conditionals' networks in `NETWORK_NAMES` order (None where absent)."""
        return self.q_a, self.q_y, self.q_z, self.p_a, self.p_x

    def build(self, input_shape):
        x = tf.zeros((1, self.input_dim))
        self.unlabeled_terms(x, self._noise(x, 1), training=False)  # makes every weight
        self.built = True

    # ------------------------------------------------------------------ Keras contract

    def call(self, x, training=None) -> tf.Tensor:
        """q(y|x) = mean over fixed samples a_s of q(y|a_s,x): [B, D] -> [B, K]."""
        return self.class_probabilities(x, training=training)

    def compute_loss_terms(self, data, training=None) -> dict[str, tf.Tensor]:
        """The objective J and its parts for one step's labeled and unlabeled batch."""
        x_l, y_l, x_u = data["x_labeled"], data["y_labeled"], data["x_unlabeled"]
        free_bits = bool(training) and self.a_free_bits > 0  # wants the KL of each unit of a
        cast_once = bool(training) and self.cast_kernels_once
        with kernels_in_compute_dtype(self, self.networks, enabled=cast_once):
            labeled, class_ll, *a_kl = self.labeled_terms(
                x_l, y_l, self._noise(x_l, self.num_samples), training, a_units=free_bits)
            unlabeled = self.unlabeled_bound(
                x_u, training=training, a_units=free_bits,
                sample_layout=(self.unlabeled_sample_layout if training
                               else DEFAULT_UNLABELED_SAMPLE_LAYOUT))
        if free_bits:
            unlabeled, unlabeled_a_kl = unlabeled
            a_kl.append(unlabeled_a_kl)
        loss = bounds.semi_supervised_objective(labeled, unlabeled, class_ll, self.alpha)
        if free_bits:  # each of the two KLs of `a` counts as at least the floor per unit
            loss += ops.cast(self.kl_weight, "float32") * tf.add_n(
                [bounds.free_bits_excess(kl, self.a_free_bits) for kl in a_kl])
        if self.weight_prior > 0:
            loss += self.weight_prior * bounds.weight_penalty(
                [w for w in self.trainable_variables if len(w.shape) == 2])
        return {"loss": loss, "labeled_bound": tf.reduce_mean(labeled),
                "unlabeled_bound": tf.reduce_mean(unlabeled),
                "classification_loss": -tf.reduce_mean(class_ll)}

    def train_step(self, data):
        # Under a strategy each replica holds 1/R of the global batch and the optimizer sums
        # the replicas' gradients: 1/R of each local mean makes the global batch's mean.
        with tf.GradientTape() as tape:
            terms = self.compute_loss_terms(data, training=True)
            scaled_loss = terms["loss"] / num_replicas()
        grads = tape.gradient(scaled_loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for name, value in terms.items():
            self.trackers[name].update_state(value)
        return step_logs(self.trackers)

    def test_step(self, data):
        x, y = tf.cast(data[0], tf.float32), data[1]
        probs = self.class_probabilities(x, self.eval_predict_samples, training=False)
        wrong = tf.cast(tf.argmax(probs, axis=-1) != tf.cast(y, tf.int64), tf.float32)
        self.test_trackers["error"].update_state(wrong)
        self.test_trackers["bound"].update_state(self.unlabeled_bound(x, training=False))
        return step_logs(self.test_trackers)

    # Keras' entry points, each refusing data outside the likelihood's support (0-255 pixels
    # for a Bernoulli model) from its first batch, once per call, before any work.

    def fit(self, x=None, *args, **kwargs):
        check_first_batch(x, self.likelihood, "model.fit")
        if kwargs.get("validation_data") is not None:
            check_first_batch(kwargs["validation_data"], self.likelihood,
                              "model.fit's validation_data")
        return super().fit(x, *args, **kwargs)

    def evaluate(self, x=None, *args, **kwargs):
        if not kwargs.get("_use_cached_eval_dataset"):  # fit's validation: checked in fit
            check_first_batch(x, self.likelihood, "model.evaluate")
        return super().evaluate(x, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        check_first_batch(x, self.likelihood, "model.predict")
        return super().predict(x, *args, **kwargs)

    @property
    def metrics(self):
        return list(self.trackers.values()) + list(self.test_trackers.values())

    def get_config(self):
        return dataclasses.asdict(self.options)


class _Variant(DeepGenerativeModel):
    """A `DeepGenerativeModel` with its architecture fixed by the class."""

    ARCHITECTURE = ""

    def __init__(self, input_dim, num_classes, likelihood="bernoulli", **kwargs):
        kwargs.pop("architecture", None)
        super().__init__(
            input_dim, num_classes, likelihood, architecture=self.ARCHITECTURE, **kwargs
        )


@keras.saving.register_keras_serializable(package="adgm_tf")
class ADGM(_Variant):
    """Auxiliary deep generative model: p(x|y,z) p(a|x,y,z) p(y) p(z)."""

    ARCHITECTURE = "adgm"


@keras.saving.register_keras_serializable(package="adgm_tf")
class SDGM(_Variant):
    """Skip deep generative model: p(x|a,y,z) p(a|y,z) p(y) p(z)."""

    ARCHITECTURE = "sdgm"


@keras.saving.register_keras_serializable(package="adgm_tf")
class M2(_Variant):
    """M2 of Kingma et al. (2014): p(x|y,z) p(y) p(z) with q(y|x) q(z|y,x)."""

    ARCHITECTURE = "m2"


@keras.saving.register_keras_serializable(package="adgm_tf")
class ADGMDeterministic(_Variant):
    """The paper's ablation: ADGM with a deterministic a = mu(x), without p(a|.)."""

    ARCHITECTURE = "adgm_deterministic"


@keras.saving.register_keras_serializable(package="adgm_tf")
class ADGMFixedAuxiliary(_Variant):
    """The authors' early code: p(x|y,z) p(a) p(y) p(z) with p(a) = N(0, I), q(z|y,x), and
    q(a|x) left at its random initialisation."""

    ARCHITECTURE = "adgm_fixed_qa"


MODELS = {cls.ARCHITECTURE: cls for cls in (ADGM, SDGM, M2, ADGMDeterministic,
                                            ADGMFixedAuxiliary)}
