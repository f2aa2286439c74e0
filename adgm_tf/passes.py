"""The forward passes of a `DeepGenerativeModel` that give the bound's terms.

For one batch: noise for the Monte Carlo samples of `a` and `z`, a ~ q(a|x), the log
importance weight

    log w = log p(x|.) + log p(y) + log p(z) + log p(a|.) - log q(a|x) - log q(z|a,y,x)

for an observed label or for every class, and log q(y|a,x). `bounds` turns these into the
bounds -L(x,y) and -U(x) (eqs. 12-14); `models.DeepGenerativeModel.compute_loss_terms`
combines them into the objective.

Unlabeled examples enumerate all K classes: the class axis leads the tensors ([K, S, B, ...])
and meets the class-independent inputs (x, a) by broadcasting inside the first layer of each
network, so x and a are projected once per example. Monte Carlo samples of `a` (and one `z`
per `a` and class) lie on axis S.
"""

from __future__ import annotations

import tensorflow as tf
from keras import ops

from adgm_tf import bounds, fused
from adgm_tf.distribute import num_replicas, replica_rows
from adgm_tf.networks import reparameterize

# How the training loss reads the samples of log w in the unlabeled bound: "per_image" (the
# bound) or "authors" (as the authors' early ADGM code read them, `bounds.authors_sample_layout`:
# with S > 1 samples each image's mean over the samples is a mean over S images of its batch)
UNLABELED_SAMPLE_LAYOUTS = ("per_image", "authors")
DEFAULT_UNLABELED_SAMPLE_LAYOUT = UNLABELED_SAMPLE_LAYOUTS[0]


class ForwardPasses:
    """The passes through a model's networks; mixed into `DeepGenerativeModel`, whose
    constructor sets what they read: the networks q_a, q_y, q_z, p_a, p_x (None where the
    variant lacks one), the fixed distributions prior_a, prior_z and log_py, `arch`, the sizes
    (num_classes, a_dim, z_dim, num_samples), likelihood, share_work, labeled_updates_stats,
    and the variables noise_step, predict_noise and kl_weight with noise_seed.
    """

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

    def _fresh_noise(self, x, num_samples=None):
        """Fresh noise for unlabeled_terms: S = num_samples (default the model's num_samples)
        samples of `a`, and of `z` under every class."""
        return self._noise(x, num_samples or self.num_samples, self.num_classes)

    def unlabeled_bound(self, x, num_samples=None, training=None, noise=None,
                        update_stats=True, a_units=False,
                        sample_layout=DEFAULT_UNLABELED_SAMPLE_LAYOUT):
        """-U(x), a lower bound on log p(x), per example [B]; with a_units also the batch's
        mean KL of each unit of `a`, weighted by q(y|a,x) over the classes [n_a].

        noise: (eps_a [S, B, n_a], eps_z [K, S, B, n_z]) to use; default fresh noise with
        S = num_samples (default the model's num_samples). update_stats: see unlabeled_terms.
        sample_layout="authors": log w's samples read as the authors' early code read them
        (`bounds.authors_sample_layout`; then not a bound of each image).
        """
        if noise is None:
            noise = self._fresh_noise(x, num_samples)
        terms = self.unlabeled_terms(x, noise, training, update_stats, a_units=a_units)
        log_w = terms[0]
        if sample_layout == "authors":
            log_w = bounds.authors_sample_layout(log_w)
        elif sample_layout != DEFAULT_UNLABELED_SAMPLE_LAYOUT:
            raise ValueError(f"Unknown sample_layout {sample_layout!r}.")
        bound = bounds.unlabeled_bound(log_w, terms[1])
        return (bound, bounds.kl_per_unit(terms[2], terms[1])) if a_units else bound

    def class_bounds(self, x, num_samples=None, training=None, update_stats=True):
        """-L(x, k) for every image and class k, [B, K]: the labeled bound (eq. 12) of each
        image with each class as its label, from the same samples of `a` for every class
        (S = num_samples, default the model's num_samples). argmax_k says under which class
        the generative model explains an image best."""
        log_w, _ = self.unlabeled_terms(x, self._fresh_noise(x, num_samples), training,
                                        update_stats)  # [K, S, B]
        return bounds.labeled_bound(tf.transpose(log_w, [1, 2, 0]))

    def importance_weighted_bound(self, x, num_samples: int, training=None):
        """The importance-weighted bound on log p(x) with S = num_samples samples of `a` and
        `z` and y enumerated (`bounds.importance_weighted_bound`), [B]."""
        log_w, _ = self.unlabeled_terms(x, self._fresh_noise(x, num_samples), training)
        return bounds.importance_weighted_bound(log_w)

    def class_probabilities(self, x, num_samples: int | None = None, training=None):
        """q(y|x) averaged over the first `num_samples` (default all) fixed samples of a."""
        x = tf.cast(x, tf.float32)
        noise = self.predict_noise[:num_samples] if num_samples else self.predict_noise
        a, _ = self.auxiliary(x, noise[:, None, :], training)
        return tf.reduce_mean(tf.exp(self.class_log_probs(x, a, training)), axis=0)

