"""Auxiliary deep generative models for semi-supervised classification (Maaloe et al., 2016).

Inference model, shared by all variants (eqs. 9-11):

    q(a, y, z | x) = q(a|x) q(y|a,x) q(z|a,y,x)

Generative models (eqs. 5-8, 21, 22), with p(z) = N(0, I) and p(y) = Cat(1/K):

    ADGM:  p(x, a, y, z) = p(x|y,z) p(a|x,y,z) p(y) p(z)
    SDGM:  p(x, a, y, z) = p(x|a,y,z) p(a|y,z) p(y) p(z)
    M2:    p(x, y, z)    = p(x|y,z) p(y) p(z)     and q(y|x) q(z|y,x)   (Kingma et al., 2014)
    ADGM with deterministic a: a = mu(x) is a feature of x, no p(a|.) and no q(a|x) density.
    ADGM with fixed q(a|x) (the authors' early code): p(x|y,z) p(a) p(y) p(z), p(a) = N(0, I),
                 q(a|x) q(y|a,x) q(z|y,x) with q(a|x) never trained.

The variants differ only in which variables each conditional sees: that is the
`Architecture` table below; every network comes from `networks.StochasticNetwork`.

Bound and objective: see `bounds`. Unlabeled examples enumerate all K classes: the class
axis leads the tensors ([K, S, B, ...]) and meets the class-independent inputs (x, a) by
broadcasting inside the first layer of each network, so x and a are projected once per
example. Monte Carlo samples of `a` (and one `z` per `a` and class) lie on axis S.

Note: in its benchmarks the paper used p(a|y,z) for the ADGM (Sec. 3), while eqs. (7) and
(21) write p(a|x,y,z); `ADGM` follows the equations, and `ADGM(p_a_inputs=("y", "z"))` gives
the benchmark variant.
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Sequence

import keras
import numpy as np
from keras import ops
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf import bounds, fused
from adgm_tf.distribute import num_replicas, replica_rows
from adgm_tf.input_pipeline import check_first_batch
from adgm_tf.networks import StochasticNetwork, reparameterize

tfd = tfp.distributions

LIKELIHOODS = ("bernoulli", "gaussian")
BATCH_NORM_STATS = ("unlabeled", "all")


@dataclasses.dataclass(frozen=True)
class Architecture:
    """Which variables each conditional of a model sees."""

    auxiliary: str  # "stochastic", "deterministic" or "none": the kind of `a`
    p_a_inputs: tuple[str, ...]  # parents of a in p; () when a is not in p (or p(a) = N(0, I))
    p_x_inputs: tuple[str, ...]  # parents of x in p
    q_z_sees_a: bool = True  # q(z|a,y,x), or q(z|y,x)
    train_q_a: bool = True  # False: q(a|x) keeps its random initial weights

    @property
    def q_y_inputs(self) -> tuple[str, ...]:
        return ("a", "x") if self.auxiliary != "none" else ("x",)

    @property
    def q_z_inputs(self) -> tuple[str, ...]:
        return ("a", "y", "x") if self.auxiliary != "none" and self.q_z_sees_a else ("y", "x")


ARCHITECTURES = {
    "adgm": Architecture("stochastic", p_a_inputs=("x", "y", "z"), p_x_inputs=("y", "z")),
    "sdgm": Architecture("stochastic", p_a_inputs=("y", "z"), p_x_inputs=("a", "y", "z")),
    "m2": Architecture("none", p_a_inputs=(), p_x_inputs=("y", "z")),
    "adgm_deterministic": Architecture("deterministic", p_a_inputs=(), p_x_inputs=("y", "z")),
    # The model of the authors' early public code, whose log is the only published curve to
    # 1.6% (reproduction notes): p(a) = N(0, I), q(z|y,x), and q(a|x) never trained, so `a`
    # is a fixed random function of x plus noise.
    "adgm_fixed_qa": Architecture("stochastic", p_a_inputs=(), p_x_inputs=("y", "z"),
                                  q_z_sees_a=False, train_q_a=False),
}


class DeepGenerativeModel(keras.Model):
    """A semi-supervised deep generative model; `architecture` picks the variant.

    Args:
      input_dim: dimension of x.
      num_classes: K.
      likelihood: "bernoulli" (x in [0, 1]) or "gaussian" (diagonal, mean and log-variance).
      architecture: a key of `ARCHITECTURES`.
      hidden_sizes: hidden units of every network (the paper: 2 x 500 on MNIST).
      a_dim, z_dim: dimensions of the auxiliary and latent variables (M2 ignores a_dim).
      num_samples: Monte Carlo samples S of `a` (and one z per `a` and class) in the bound.
      num_predict_samples: samples of `a` averaged by `call` for q(y|x); fixed noise, so
        predictions are deterministic and do not depend on the batch.
      classification_weight: alpha of eq. (14); see `bounds.classification_weight`.
      batch_norm: batch normalisation before each ReLU.
      batch_norm_stats: which training passes update batch normalisation's moving averages
        (used in inference mode): "unlabeled" (the authors' code) or "all" (labeled passes
        too, mixing each image's true class with the enumeration of all classes). Training
        itself always normalises with the statistics of the pass at hand.
      p_a_inputs: overrides the parents of a in p (e.g. ("y", "z") for the ADGM of the
        paper's benchmarks).
      head_init_std: start the Gaussian heads' weights as N(0, head_init_std^2) (the
        authors' code: 1e-3); None for Glorot.
      x_var_floor: with a Gaussian likelihood, p(x|.)'s variance is exp(log_var) + this
        (0: none): a floor that keeps the likelihood of Gaussian inputs bounded.
      init: the hidden kernels' initialisation, one of `networks.INITS`.
      weight_prior: adds weight_prior * sum(W^2) / 2 over the weight matrices to the loss: a
        N(0, 1) prior on the weights divided by N when weight_prior = 1 / N (the authors'
        code). 0 disables it.
      a_free_bits: "free bits" on the KL of a stochastic, trained `a` (nats per unit, 0: off):
        each unit's KL, averaged over the batch, counts as at least this much in the
        training loss (`bounds.free_bits_excess`), so that `a` may carry that much about x
        without cost. The reported bounds stay the bounds.
      seed: seed of the model's noise.
      share_work: project x and a once per example and broadcast them over the classes
        (default). False tiles them once per class, the straightforward evaluation: the
        same bound at more cost, kept as the reference for tests and benchmarks.
      dtype: a Keras dtype policy; "mixed_bfloat16" runs the networks' matrix products in
        bfloat16 with float32 weights, distributions and bound.

    `call(x)` returns q(y|x) [B, K]. `train_step` takes a dict with "x_labeled" [B_l, D],
    "y_labeled" [B_l] and "x_unlabeled" [B_u, D] (see `semi_supervised_dataset`);
    `test_step` takes (x, y).
    """

    def __init__(
        self,
        input_dim: int,
        num_classes: int,
        likelihood: str = "bernoulli",
        architecture: str = "adgm",
        hidden_sizes: Sequence[int] = (500, 500),
        a_dim: int = 100,
        z_dim: int = 100,
        num_samples: int = 1,
        num_predict_samples: int = 10,
        classification_weight: float = 1.0,
        batch_norm: bool = False,
        batch_norm_stats: str = "unlabeled",
        p_a_inputs: Sequence[str] | None = None,
        head_init_std: float | None = None,
        x_var_floor: float = 0.0,
        init: str = "glorot_uniform",
        weight_prior: float = 0.0,
        a_free_bits: float = 0.0,
        seed: int | None = 0,
        share_work: bool = True,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"Unknown architecture {architecture!r}; choose one of {sorted(ARCHITECTURES)}."
            )
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"Unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}.")
        if batch_norm_stats not in BATCH_NORM_STATS:
            raise ValueError(f"Unknown batch_norm_stats {batch_norm_stats!r}; choose one of "
                             f"{BATCH_NORM_STATS}.")
        for name, value in [
            ("input_dim", input_dim), ("a_dim", a_dim), ("z_dim", z_dim),
            ("num_samples", num_samples), ("num_predict_samples", num_predict_samples),
        ]:
            if int(value) < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}.")
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be at least 2, got {num_classes}.")
        for name, value in [
            ("classification_weight", classification_weight), ("weight_prior", weight_prior),
            ("head_init_std", head_init_std or 0.0), ("x_var_floor", x_var_floor),
            ("a_free_bits", a_free_bits),
        ]:
            if not value >= 0:
                raise ValueError(f"{name} must be non-negative, got {value}.")
        arch = ARCHITECTURES[architecture]
        if a_free_bits and not (arch.auxiliary == "stochastic" and arch.train_q_a):
            raise ValueError(f"{architecture!r} has no trained stochastic `a`; a_free_bits "
                             "applies to the ADGM and SDGM only.")
        if p_a_inputs is not None:
            if arch.auxiliary != "stochastic":
                raise ValueError(f"{architecture!r} has no p(a|.); p_a_inputs does not apply.")
            if not set(p_a_inputs) <= {"x", "y", "z"} or not p_a_inputs:
                raise ValueError(f"p_a_inputs must be drawn from x, y, z; got {p_a_inputs}.")
            arch = dataclasses.replace(arch, p_a_inputs=tuple(p_a_inputs))
        self.arch = arch
        self.config_kwargs = dict(
            input_dim=int(input_dim), num_classes=int(num_classes), likelihood=likelihood,
            architecture=architecture, hidden_sizes=tuple(int(h) for h in hidden_sizes),
            a_dim=int(a_dim), z_dim=int(z_dim), num_samples=int(num_samples),
            num_predict_samples=int(num_predict_samples),
            classification_weight=float(classification_weight), batch_norm=bool(batch_norm),
            batch_norm_stats=batch_norm_stats,
            p_a_inputs=None if p_a_inputs is None else tuple(p_a_inputs),
            head_init_std=head_init_std, init=init, weight_prior=float(weight_prior), seed=seed,
            share_work=bool(share_work), x_var_floor=float(x_var_floor),
            a_free_bits=float(a_free_bits),
        )
        self.share_work = bool(share_work)
        # Under a mixed-precision policy a training step casts each kernel to the compute
        # dtype once, not at every pass through its network (`kernels_in_compute_dtype`).
        self.cast_kernels_once = True
        # Samples of `a` behind the test error of `evaluate`/validation (None: all of
        # num_predict_samples); a cheaper in-training evaluation may use fewer.
        self.eval_predict_samples = None
        self.labeled_updates_stats = batch_norm_stats == "all"
        self.likelihood = likelihood
        self.input_dim = int(input_dim)
        self.num_classes = int(num_classes)
        self.a_dim = int(a_dim)
        self.z_dim = int(z_dim)
        self.num_samples = int(num_samples)
        self.alpha = float(classification_weight)
        self.weight_prior = float(weight_prior)
        self.a_free_bits = float(a_free_bits)
        dims = {"x": self.input_dim, "y": self.num_classes, "a": self.a_dim, "z": self.z_dim}

        def net(name, inputs, head, size, var_floor=0.0):
            return StochasticNetwork(
                inputs, dims, hidden_sizes, head, size, batch_norm=batch_norm,
                head_init_std=head_init_std, init=init, var_floor=var_floor, name=name,
                dtype=self.dtype_policy,
            )

        self.q_a = None
        if arch.auxiliary != "none":
            kind = "gaussian" if arch.auxiliary == "stochastic" else "deterministic"
            self.q_a = net("q_a", ("x",), kind, self.a_dim)
        self.q_y = net("q_y", arch.q_y_inputs, "categorical", self.num_classes)
        self.q_z = net("q_z", arch.q_z_inputs, "gaussian", self.z_dim)
        self.p_a = net("p_a", arch.p_a_inputs, "gaussian", self.a_dim) if arch.p_a_inputs else None
        # p(a) = N(0, I) for a stochastic `a` without p(a|.) (adgm_fixed_qa)
        self.prior_a = (tfd.Independent(tfd.Normal(tf.zeros(self.a_dim), 1.0), 1)
                        if arch.auxiliary == "stochastic" and self.p_a is None else None)
        self.p_x = net("p_x", arch.p_x_inputs, likelihood, self.input_dim, x_var_floor)
        self.prior_z = tfd.Independent(tfd.Normal(tf.zeros(self.z_dim), 1.0), 1)
        self.log_py = bounds.log_uniform_prior(self.num_classes)

        # Training noise is stateless, seeded by (seed, noise_step): noise_step is saved with
        # the weights, so a resumed run draws the same noise as an uninterrupted one. Under
        # a tf.distribute strategy every replica counts the same steps.
        self.noise_seed = int(seed) if seed is not None else int(np.random.randint(2**31))
        self.noise_step = self.add_weight(
            shape=(), initializer="zeros", dtype="int64", trainable=False, name="noise_step",
            aggregation="only_first_replica",
        )
        self.predict_noise = self.add_weight(
            shape=(int(num_predict_samples), self.a_dim),
            initializer=keras.initializers.RandomNormal(seed=seed),
            trainable=False,
            name="predict_noise",
        )
        # Warm-up weight of the a and z terms (1 = the bound); see `KLWarmup`.
        self.kl_weight = self.add_weight(
            shape=(), initializer="ones", trainable=False, name="kl_weight"
        )
        self.trackers = {
            name: keras.metrics.Mean(name=name)
            for name in ("loss", "labeled_bound", "unlabeled_bound", "classification_loss")
        }
        self.test_trackers = {
            "error": keras.metrics.Mean(name="error"),
            "bound": keras.metrics.Mean(name="bound"),
        }
        self.build((None, self.input_dim))
        if self.q_a is not None and not arch.train_q_a:  # after build: every weight exists
            self.q_a.trainable = False  # left out of trainable_variables: never updated

    # ------------------------------------------------------------------ forward pieces

    def build(self, input_shape):
        x = tf.zeros((1, self.input_dim))
        log_w, log_qy = self.unlabeled_terms(x, self._noise(x, 1), training=False)
        del log_w, log_qy
        self.built = True

    def _noise(self, x: tf.Tensor, num_samples: int, num_classes: int | None = None):
        """Standard normal noise for `a` [S, B, n_a] and `z` [S, B, n_z] or [K, S, B, n_z].

        In a step split over R replicas (`distribute`), x holds this replica's B rows of a
        global batch of R B: the noise of the global batch is drawn and this replica's rows
        kept, so every example gets the noise it gets on one device."""
        batch = tf.shape(x)[0] * num_replicas()
        self.noise_step.assign_add(1)
        step = 2 * tf.convert_to_tensor(self.noise_step)
        z_shape = (num_samples, batch, self.z_dim)
        if num_classes is not None:
            z_shape = (num_classes,) + z_shape
        seed = tf.constant(self.noise_seed, tf.int64)
        eps_a = tf.random.stateless_normal((num_samples, batch, self.a_dim), tf.stack([seed, step]))
        eps_z = tf.random.stateless_normal(z_shape, tf.stack([seed, step + 1]))
        return replica_rows(eps_a, axis=1), replica_rows(eps_z, axis=len(z_shape) - 2)

    def auxiliary(self, x: tf.Tensor, eps_a: tf.Tensor, training=None, update_stats=True,
                  units=False):
        """a ~ q(a|x) and log q(a|x).

        Args:
          x: [B, D]; eps_a: [S, B, n_a] (or [S, 1, n_a]).
          units: log q(a|x) per unit, [S, B, n_a], instead of summed over the units.

        Returns:
          a [S, B, n_a] (None for M2) and log q(a|x) [S, B] (0 unless `a` is stochastic).
        """
        if self.q_a is None:
            return None, 0.0
        q_a = self.q_a({"x": x}, training=training, update_stats=update_stats)
        a = reparameterize(q_a, eps_a)  # [S, B, n_a]
        log_qa = 0.0
        if self.arch.auxiliary == "stochastic":
            log_qa = q_a.distribution.log_prob(a) if units else q_a.log_prob(a)
        if not self.arch.train_q_a:
            # A frozen q(a|x): no gradient flows into it. Its weights are still watched by the
            # tape, which would otherwise build its whole backward pass (pruned later by
            # TensorFlow's graph optimiser: no measured change in step time).
            a, log_qa = tf.stop_gradient(a), tf.stop_gradient(log_qa)
        return a, log_qa

    def class_log_probs(self, x: tf.Tensor, a: tf.Tensor | None, training=None,
                        update_stats=True) -> tf.Tensor:
        """log q(y=k|a,x) for every class: [S, B, K] (M2: [1, B, K])."""
        q_y = self.q_y({"x": x, "a": a}, training=training, update_stats=update_stats)
        logits = q_y.logits_parameter()
        return tf.nn.log_softmax(logits if a is not None else logits[None], axis=-1)

    def log_weight(self, x, y_onehot, a, log_qa, eps_z, training=None, update_stats=True,
                   a_units=False):
        """log p(x, y, a, z) - log q(a, z | x, y) with z ~ q(z|a,y,x) drawn from eps_z.

        Args:
          x: [B, D]; y_onehot: [B, K] (observed) or [K, 1, 1, K] (enumerated);
          a: [S, B, n_a] or None; log_qa: [S, B] or 0; eps_z: [S, B, n_z] or [K, S, B, n_z].
          a_units: log_qa is given per unit ([S, B, n_a], `auxiliary(units=True)`), and the
            `a` term log q(a|x) - log p(a|.) per unit is returned too.

        Returns:
          [S, B] for observed labels, [K, S, B] for enumerated ones; with a_units, also the
          `a` term per unit, [S, B, n_a] or [K, S, B, n_a].
        """
        kw = dict(training=training, update_stats=update_stats)
        v = {"x": x, "y": y_onehot, "a": a}
        q_z = self.q_z(v, **kw)
        v["z"] = reparameterize(q_z, eps_z)  # [(K,) S, B, n_z]
        log_pa = 0.0
        p_a = self.p_a(v, **kw) if self.p_a is not None else self.prior_a
        if p_a is not None:
            log_pa = p_a.distribution.log_prob(a) if a_units else p_a.log_prob(a)
        if a_units:
            a_term = log_qa - log_pa  # [(K,) S, B, n_a]
            log_qa, log_pa = tf.reduce_sum(log_qa, -1), tf.reduce_sum(log_pa, -1)
        p_x = self.p_x(v, **kw)
        if self.likelihood == "bernoulli":  # one fused pass each way (fused.py)
            log_px = fused.bernoulli_log_likelihood(x, p_x.distribution.logits)
        else:
            log_px = p_x.log_prob(x)
        log_w = bounds.log_importance_weight(
            log_px=log_px,
            log_py=self.log_py,
            log_pz=self.prior_z.log_prob(v["z"]),
            log_pa=log_pa,
            log_qa=log_qa,
            log_qz=q_z.log_prob(v["z"]),
            kl_weight=ops.cast(self.kl_weight, "float32") if training else 1.0,
        )
        return (log_w, a_term) if a_units else log_w

    def labeled_terms(self, x, y, noise, training=None, a_units=False):
        """-L(x,y) [B] and log E_q(a|x)[q(y|a,x)] [B] for integer labels y [B]; with a_units
        also the batch's mean KL of each unit of `a` [n_a] (`bounds.kl_per_unit`)."""
        eps_a, eps_z = noise
        stats = self.labeled_updates_stats  # batch norm's moving averages: see __init__
        a, log_qa = self.auxiliary(x, eps_a, training, stats, units=a_units)
        y_onehot = tf.one_hot(y, self.num_classes)
        log_w = self.log_weight(x, y_onehot, a, log_qa, eps_z, training, stats,
                                a_units=a_units)  # [S, B] (and [S, B, n_a])
        if a_units:
            log_w, a_term = log_w
        log_qy = self.class_log_probs(x, a, training, stats)  # [S, B, K]
        log_qy_labeled = tf.reduce_sum(log_qy * y_onehot, axis=-1)  # [S, B]
        terms = (bounds.labeled_bound(log_w), bounds.classification_log_likelihood(log_qy_labeled))
        return terms + (bounds.kl_per_unit(a_term),) if a_units else terms

    def unlabeled_terms(self, x, noise, training=None, update_stats=True, a_units=False):
        """log w [K, S, B] and log q(y|a,x) [K, S, B] for every class k; with a_units also the
        `a` term per unit [K, S, B, n_a] (`log_weight`).

        update_stats=False with training=True: batch statistics without moving the moving
        averages (to compare a bound in inference mode with the batch statistics' one)."""
        eps_a, eps_z = noise
        a, log_qa = self.auxiliary(x, eps_a, training, update_stats, units=a_units)
        classes = tf.eye(self.num_classes)[:, None, None, :]  # [K, 1, 1, K]
        if eps_z.shape.rank == 3:  # one z per sample, shared by the classes
            eps_z = eps_z[None]
        x_in, a_in = x, a
        if not self.share_work:  # reference: every input tiled to one row per (k, s, b)
            lead = tf.stack([self.num_classes, tf.shape(eps_z)[1], tf.shape(x)[0]])
            x_in = tf.broadcast_to(x, tf.concat([lead, tf.shape(x)[-1:]], 0))
            classes = tf.broadcast_to(classes, tf.concat([lead, [self.num_classes]], 0))
            if a is not None:
                a_in = tf.broadcast_to(a, tf.concat([lead, tf.shape(a)[-1:]], 0))
        log_w = self.log_weight(x_in, classes, a_in, log_qa, eps_z, training,
                                update_stats, a_units=a_units)  # [K, S, B]
        if a_units:
            log_w, a_term = log_w
        log_qy = tf.transpose(self.class_log_probs(x, a, training, update_stats),
                              [2, 0, 1])  # [K, S, B]
        return (log_w, log_qy, a_term) if a_units else (log_w, log_qy)

    def unlabeled_bound(self, x, num_samples=None, training=None, noise=None,
                        update_stats=True) -> tf.Tensor:
        """-U(x), a lower bound on log p(x), per example [B].

        noise: (eps_a [S, B, n_a], eps_z [K, S, B, n_z]) to use; default fresh noise with
        S = num_samples (default the model's num_samples). update_stats: see unlabeled_terms.
        """
        if noise is None:
            noise = self._noise(x, num_samples or self.num_samples, self.num_classes)
        return bounds.unlabeled_bound(*self.unlabeled_terms(x, noise, training, update_stats))

    # ------------------------------------------------------------------ Keras contract

    def call(self, x, training=None) -> tf.Tensor:
        """q(y|x) = mean over fixed samples a_s of q(y|a_s,x): [B, D] -> [B, K]."""
        return self.class_probabilities(x, training=training)

    def class_probabilities(self, x, num_samples: int | None = None, training=None):
        """q(y|x) averaged over the first `num_samples` (default all) fixed samples of a."""
        x = tf.cast(x, tf.float32)
        noise = self.predict_noise[:num_samples] if num_samples else self.predict_noise
        a, _ = self.auxiliary(x, noise[:, None, :], training)
        return tf.reduce_mean(tf.exp(self.class_log_probs(x, a, training)), axis=0)

    def compute_loss_terms(self, data, training=None) -> dict[str, tf.Tensor]:
        """The objective J and its parts for one step's labeled and unlabeled batch."""
        x_l, y_l, x_u = data["x_labeled"], data["y_labeled"], data["x_unlabeled"]
        free_bits = bool(training) and self.a_free_bits > 0
        with self.kernels_in_compute_dtype(enabled=bool(training) and self.cast_kernels_once):
            labeled, class_ll, *a_kl = self.labeled_terms(
                x_l, y_l, self._noise(x_l, self.num_samples), training, a_units=free_bits
            )
            if free_bits:
                noise = self._noise(x_u, self.num_samples, self.num_classes)
                log_w, log_qy, a_term = self.unlabeled_terms(x_u, noise, training,
                                                             a_units=True)
                unlabeled = bounds.unlabeled_bound(log_w, log_qy)
                a_kl.append(bounds.kl_per_unit(a_term, log_qy))
            else:
                unlabeled = self.unlabeled_bound(x_u, training=training)
        loss = bounds.semi_supervised_objective(labeled, unlabeled, class_ll, self.alpha)
        if free_bits:  # each of the two KLs of `a` counts as at least the floor per unit
            loss += ops.cast(self.kl_weight, "float32") * tf.add_n(
                [bounds.free_bits_excess(kl, self.a_free_bits) for kl in a_kl])
        if self.weight_prior > 0:
            loss += self.weight_prior * bounds.weight_penalty(
                [w for w in self.trainable_variables if len(w.shape) == 2]
            )
        return {
            "loss": loss,
            "labeled_bound": tf.reduce_mean(labeled),
            "unlabeled_bound": tf.reduce_mean(unlabeled),
            "classification_loss": -tf.reduce_mean(class_ll),
        }

    @contextlib.contextmanager
    def kernels_in_compute_dtype(self, enabled: bool = True):
        """Inside the block every network's kernels are read as one cast to the compute dtype.

        Under a mixed-precision policy (float32 weights, bfloat16 products) Keras casts a
        kernel at every read: each pass through a network (labeled, unlabeled) casts all its
        kernels again, and the backward pass casts each pass's kernel gradient back. Here the
        kernels are cast once, before the block, and a `keras.StatelessScope` hands those
        casts to every read inside it; the tape's gradient flows through the one cast to the
        float32 variable. The passes' kernel gradients are then summed in the compute dtype
        (the dtype each pass's gradient is computed in) before the cast back. Assignments
        made inside the block (batch normalisation's moving averages, the noise counter) are
        seen by later reads in it, as always, and applied to the variables on leaving it.
        A no-op when the compute dtype is the variables' dtype or `enabled` is False.
        """
        kernels = [v for net in (self.q_a, self.q_y, self.q_z, self.p_a, self.p_x)
                   if net is not None for v in net.weights
                   if len(v.shape) == 2 and v.dtype != self.compute_dtype]
        if not enabled or not kernels:
            yield
            return
        scope = keras.StatelessScope(initialize_variables=False)
        for kernel in kernels:  # add_update keeps the value's dtype (the constructor would not)
            scope.add_update((kernel, tf.cast(kernel.value, self.compute_dtype)))
        with scope:
            yield
        cast = {id(k) for k in kernels}
        for variable in self.variables:
            value = None if id(variable) in cast else scope.get_current_value(variable)
            if value is not None:
                variable.assign(value)

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
        return _step_logs(self.trackers)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras (3.x, TensorFlow backend) first averages one input batch over the replicas,
        # which fails on a dict of inputs under MultiWorkerMirroredStrategy. This model is
        # built at construction and needs no batch: only the optimizer's variables remain to
        # be made, under the strategy's scope.
        if self._distribute_strategy is None:
            return
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=None)

    def test_step(self, data):
        x, y = tf.cast(data[0], tf.float32), data[1]
        probs = self.class_probabilities(x, self.eval_predict_samples, training=False)
        wrong = tf.cast(tf.argmax(probs, axis=-1) != tf.cast(y, tf.int64), tf.float32)
        self.test_trackers["error"].update_state(wrong)
        self.test_trackers["bound"].update_state(self.unlabeled_bound(x, training=False))
        return _step_logs(self.test_trackers)

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
        return dict(self.config_kwargs)


def _step_logs(trackers: dict) -> dict:
    """The trackers' results as a step's logs. Keras (3.x, TensorFlow backend) averages the
    logs of a multi-worker step over their first axis, so there each gets one."""
    logs = {name: t.result() for name, t in trackers.items()}
    strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and resolver is not None
            and sum(len(t) for t in resolver.cluster_spec().as_dict().values()) > 1):
        logs = {name: value[None] for name, value in logs.items()}
    return logs


class KLWarmup(keras.callbacks.Callback):
    """Raises the model's `kl_weight` linearly from ~0 to 1 over `epochs` epochs, per step.

    Training reports the warmed-up objective until then; evaluation always uses the bound.
    With `steps_per_execution` N > 1 in `compile`, Keras calls it once per N steps, and
    those N steps share the weight of the first.
    """

    def __init__(self, epochs: float, steps_per_epoch: int):
        super().__init__()
        self.total_steps = max(1.0, float(epochs) * steps_per_epoch)
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        step = self.epoch * self.steps_per_epoch + batch + 1
        self.model.kl_weight.assign(min(1.0, step / self.total_steps))


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
