"""Fitting an unnormalised 2D density with an auxiliary VAE (paper Sec. 4.1, eq. 20).

Target: p(z) = exp(-U(z)) / Z with the two-mode potential U_1 of Rezende and Mohamed (2015):

    U(z) = 0.5 ((|z| - 2) / 0.4)^2 - log(exp(-0.5 ((z_1 - 2) / 0.6)^2) + exp(-0.5 ((z_1 + 2) / 0.6)^2))

Auxiliary model: q(a) q(z|a) in inference, p(a|z) beside the target in the generative model:

    log Z >= E_q(a) q(z|a) [-U(z) + log p(a|z) - log q(a) - log q(z|a)]        (eq. 20)

Baseline: a plain diagonal Gaussian q(z), log Z >= E_q(z)[-U(z) - log q(z)].
q(a) is a diagonal Gaussian with free parameters; q(z|a) and p(a|z) are `StochasticNetwork`s.
"""

from __future__ import annotations

from typing import Callable, Sequence

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from scipy import integrate

from adgm_tf import bounds
from adgm_tf.networks import FreeGaussian, StochasticNetwork, reparameterize

tfd = tfp.distributions


def two_modes(z):
    """U_1 of Rezende and Mohamed (2015). z: [..., 2] (tf or numpy) -> [...]."""
    z1, z2 = z[..., 0], z[..., 1]
    left, right = -0.5 * ((z1 - 2.0) / 0.6) ** 2, -0.5 * ((z1 + 2.0) / 0.6) ** 2
    if isinstance(z, np.ndarray):
        radius, log_modes = np.sqrt(z1**2 + z2**2), np.logaddexp(left, right)
    else:  # log(e^l + e^r) without underflow far from the modes
        radius = tf.sqrt(z1**2 + z2**2)
        log_modes = tf.reduce_logsumexp(tf.stack([left, right], axis=-1), axis=-1)
    return 0.5 * ((radius - 2.0) / 0.4) ** 2 - log_modes


POTENTIALS: dict[str, Callable] = {"two_modes": two_modes}


def true_log_normaliser(potential: Callable, limit: float = 8.0) -> float:
    """log Z = log of the integral of exp(-U(z)) over [-limit, limit]^2, by quadrature."""
    f = lambda z2, z1: float(np.exp(-potential(np.array([z1, z2]))))  # noqa: E731
    value, _ = integrate.dblquad(f, -limit, limit, -limit, limit, epsabs=1e-10, epsrel=1e-8)
    return float(np.log(value))


class PotentialFit(keras.Model):
    """Variational fit of exp(-U(z)): auxiliary (q(a) q(z|a), p(a|z)) or plain Gaussian q(z).

    Args:
      potential: a key of `POTENTIALS`.
      auxiliary: True for the auxiliary VAE, False for a diagonal Gaussian q(z).
      a_dim, hidden_sizes: sizes of the auxiliary model's networks (paper: 4 and 3 x 20).
      num_samples: Monte Carlo samples per training step.
      seed: seed of the noise.
      init_std: breaks the symmetric start (None: keras' defaults). The Gaussian baseline's
        mean starts at N(0, init_std^2); the mean half of the auxiliary model's q(z|a) head
        starts with weights and biases N(0, init_std^2), so that different `a` start at
        different z (its log-variance half starts small, N(0, 1e-6), at unit variance).

    `train_step` ignores its data (any dataset sets the number of steps) and maximises the
    bound; its metric "bound" is the per-step estimate of the lower bound on log Z.
    """

    def __init__(
        self,
        potential: str = "two_modes",
        auxiliary: bool = True,
        a_dim: int = 4,
        hidden_sizes: Sequence[int] = (20, 20, 20),
        num_samples: int = 100,
        seed: int | None = 0,
        init_std: float | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if potential not in POTENTIALS:
            raise ValueError(f"Unknown potential {potential!r}; choose one of {sorted(POTENTIALS)}.")
        self.potential = POTENTIALS[potential]
        self.auxiliary = bool(auxiliary)
        self.a_dim = int(a_dim)
        self.z_dim = 2
        self.num_samples = int(num_samples)
        self.seed_generator = keras.random.SeedGenerator(seed)
        dims = {"a": self.a_dim, "z": self.z_dim}
        if self.auxiliary:
            self.q_a = FreeGaussian(self.a_dim, name="q_a")
            self.q_z = StochasticNetwork(("a",), dims, hidden_sizes, "gaussian", 2, name="q_z")
            self.p_a = StochasticNetwork(("z",), dims, hidden_sizes, "gaussian", self.a_dim,
                                         name="p_a")
        else:
            self.q_z = FreeGaussian(self.z_dim, name="q_z", loc_init_std=init_std, seed=seed)
        self.bound_tracker = keras.metrics.Mean(name="bound")
        self.sample(1)  # creates the networks' weights
        self.built = True
        if init_std and self.auxiliary:  # random initial means of q(z|a), unit variances
            head = self.q_z.head.out
            normal = np.random.default_rng(seed)
            kernel, bias = head.kernel.numpy(), head.bias.numpy()
            kernel[:, :2] = normal.normal(0.0, init_std, kernel[:, :2].shape)
            bias[:2] = normal.normal(0.0, init_std, 2)
            kernel[:, 2:] = normal.normal(0.0, 1e-3, kernel[:, 2:].shape)
            bias[2:] = normal.normal(0.0, 1e-3, 2)
            head.kernel.assign(kernel)
            head.bias.assign(bias)

    def sample(self, num_samples: int) -> tuple[tf.Tensor, tf.Tensor]:
        """z ~ q(z) (marginally) and its log importance weight: [S, 2] and [S]."""
        if not self.auxiliary:
            q_z = self.q_z.distribution()
            z = reparameterize(q_z, keras.random.normal((num_samples, 2), seed=self.seed_generator))
            return z, -self.potential(z) - q_z.log_prob(z)
        q_a = self.q_a.distribution()
        a = reparameterize(q_a, keras.random.normal((num_samples, self.a_dim),
                                                    seed=self.seed_generator))  # [S, n_a]
        q_z = self.q_z({"a": a})
        z = reparameterize(q_z, keras.random.normal((num_samples, 2), seed=self.seed_generator))
        log_w = bounds.log_importance_weight(
            log_px=-self.potential(z),
            log_py=0.0,
            log_pz=0.0,
            log_pa=self.p_a({"z": z}).log_prob(a),
            log_qa=q_a.log_prob(a),
            log_qz=q_z.log_prob(z),
        )
        return z, log_w

    def estimate_bound(self, num_samples: int) -> tf.Tensor:
        """Monte Carlo estimate of the lower bound on log Z: a scalar."""
        return bounds.labeled_bound(self.sample(num_samples)[1])

    def train_step(self, data):
        with tf.GradientTape() as tape:
            bound = self.estimate_bound(self.num_samples)
            loss = -bound
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        self.bound_tracker.update_state(bound)
        return {"bound": self.bound_tracker.result()}

    @property
    def metrics(self):
        return [self.bound_tracker]


MODES = ((2.0, 0.0), (-2.0, 0.0))  # the centres of `two_modes`' modes


def mode_shares(z: np.ndarray, radius: float = 1.0) -> list[float]:
    """The share of samples z [N, 2] within `radius` of each mode's centre: about 0.5 each for
    the target, near (1, 0) or (0, 1) for a one-mode fit, small for a broad fit between them."""
    z = np.asarray(z)
    return [float(np.mean(np.linalg.norm(z - np.array(m), axis=-1) < radius)) for m in MODES]


def finds_both_modes(z: np.ndarray, least: float = 0.15) -> bool:
    """Whether at least `least` of the samples lie near each mode (measured on fits of
    `two_modes`: a one-mode fit has about 0.64 near its mode, so the target about 0.32 near
    each; a two-mode fit 0.23-0.25 near each; the broad fit between the modes 0.10)."""
    return all(share >= least for share in mode_shares(z))
