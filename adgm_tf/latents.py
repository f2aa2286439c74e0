"""What a trained model has learned, as arrays: analogies, class samples, KL per unit and
per example.

Used by `evaluation.figures` (the paper's Figs. 3, 4a) and by the TensorBoard summaries of
training.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf.models import DeepGenerativeModel
from adgm_tf.networks import reparameterize

tfd = tfp.distributions


def as_images(x: np.ndarray, data) -> np.ndarray:
    """Model inputs [..., D] as grey images [..., h, w]: square (dropped pixels left at 0), or,
    where data.image_shape = (planes, h, w), the planes side by side [..., h, planes * w]."""
    lead = x.shape[:-1]
    full = x.reshape(-1, x.shape[-1])
    if getattr(data, "image_shape", None) is not None:
        planes, h, w = data.image_shape
        return full.reshape(-1, planes, h, w).transpose(0, 2, 1, 3).reshape(*lead, h, planes * w)
    if data.feature_indices is not None:
        full = np.zeros((len(full), data.raw_input_dim), np.float32)
        full[:, data.feature_indices] = x.reshape(-1, x.shape[-1])
    side = int(round(np.sqrt(full.shape[1])))
    if side * side != full.shape[1]:
        raise ValueError(f"Inputs of size {full.shape[1]} are not square images.")
    return full.reshape(*lead, side, side)


def auxiliary_means(model: DeepGenerativeModel, x) -> tf.Tensor | None:
    """E[a|x] under q(a|x): [N, n_a]; None for a model without `a` (M2)."""
    if model.q_a is None:
        return None
    return model.q_a({"x": tf.convert_to_tensor(x)}, training=False).mean()


def _decode(model: DeepGenerativeModel, y_onehot, z) -> np.ndarray:
    """The mean of p(x|.) for classes y and latents z; `a` from the mean of p(a|y,z) if needed."""
    v = {"y": y_onehot, "z": z}
    if "a" in model.arch.p_x_inputs:
        v["a"] = model.p_a(v, training=False).mean()
    return model.p_x(v, training=False).mean().numpy()


def analogies(model: DeepGenerativeModel, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Each test digit's style z under every class (Fig. 3a): [N, K, D], column k = class k.

    z is the mean of q(z|a,y,x) with a the mean of q(a|x) and y the true label.
    """
    x = tf.constant(x)
    a = auxiliary_means(model, x)
    z = model.q_z({"x": x, "a": a, "y": tf.one_hot(y, model.num_classes)}, training=False).mean()
    classes = tf.eye(model.num_classes)[:, None, :]  # [K, 1, K]
    out = _decode(model, classes, tf.broadcast_to(z[None], (model.num_classes,) + z.shape))
    return np.transpose(out, (1, 0, 2))


def class_samples(model: DeepGenerativeModel, rows: int, seed: int = 0) -> np.ndarray:
    """Samples z ~ p(z), one per row, decoded under every class (Fig. 3b): [rows, K, D]."""
    z = tf.random.stateless_normal((rows, model.z_dim), seed=(seed, 0))
    classes = tf.eye(model.num_classes)[:, None, :]
    out = _decode(model, classes, tf.broadcast_to(z[None], (model.num_classes, rows, model.z_dim)))
    return np.transpose(out, (1, 0, 2))


def kl_per_example(model: DeepGenerativeModel, x: np.ndarray,
                   y: np.ndarray) -> dict[str, np.ndarray]:
    """Each example's KL per unit [N, units], under its class y, one sample of `a` and `z`:
    KL(q(z|a,y,x) || p(z)) and, where the model has p(a|.) or p(a) = N(0, I),
    KL(q(a|x) || p(a|.)) with a ~ q(a|x) and z ~ q(z|a,y,x)."""
    x = tf.constant(x)
    y_onehot = tf.one_hot(y, model.num_classes)
    eps_a, eps_z = model._noise(x, 1)
    q_a = model.q_a({"x": x}, training=False) if model.q_a is not None else None
    v = {"x": x, "y": y_onehot, "a": None if q_a is None else reparameterize(q_a, eps_a[0])}
    q_z = model.q_z(v, training=False)
    v["z"] = reparameterize(q_z, eps_z[0])
    result = {"z": tfd.kl_divergence(q_z.distribution, model.prior_z.distribution)}
    if model.p_a is not None:
        result["a"] = tfd.kl_divergence(q_a.distribution, model.p_a(v, training=False).distribution)
    elif model.prior_a is not None:  # p(a) = N(0, I)
        result["a"] = tfd.kl_divergence(q_a.distribution, model.prior_a.distribution)
    return {k: v.numpy() for k, v in result.items()}


def kl_per_unit(model: DeepGenerativeModel, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Mean KL per unit over the examples (Fig. 4a): `kl_per_example` averaged, [units]."""
    return {k: np.mean(v, axis=0) for k, v in kl_per_example(model, x, y).items()}


def auxiliary_usage(model: DeepGenerativeModel, x: np.ndarray, y: np.ndarray,
                    seed: int = 0) -> dict[str, float]:
    """Whether the model uses `a` (inference mode; {} for a model without `a`).

    A small KL of `a` alone does not show that the classifier ignores it; these say more
    (reproduction notes, "Why the auxiliary variable can go unused"):
      a_kl: KL(q(a|x) || p(a|.)) summed over the units, mean over the images (nats; models
        with p(a|.) or p(a) = N(0, I));
      a_mean_spread: the variance across images of E[a|x], mean over the units;
      a_posterior_var: the variance of q(a|x), mean over units and images (0 for a
        deterministic `a`): a spread far below it means q(a|x) is one Gaussian for every x;
      error_a_mean: the test error of q(y|a,x) with a = E[a|x];
      error_a_noise: the test error with `a` replaced by N(0, I) noise, independent of x.
    """
    if model.q_a is None:
        return {}
    x = tf.convert_to_tensor(x, tf.float32)
    q_a = model.q_a({"x": x}, training=False)
    mean = q_a.mean()  # [N, n_a]
    noise = tf.random.stateless_normal(tf.shape(mean), seed=(seed, 1))

    def error(a):
        log_qy = model.class_log_probs(x, a[None], training=False)[0]  # [N, K]
        return float(np.mean(np.argmax(log_qy.numpy(), axis=-1) != np.asarray(y)))

    result = {
        "a_mean_spread": float(tf.reduce_mean(tf.math.reduce_variance(mean, axis=0))),
        "a_posterior_var": float(tf.reduce_mean(q_a.variance())) if isinstance(
            q_a.distribution, tfd.Normal) else 0.0,
        "error_a_mean": error(mean),
        "error_a_noise": error(noise),
    }
    kl = kl_per_unit(model, x.numpy(), y)
    if "a" in kl:
        result["a_kl"] = float(np.sum(kl["a"]))
    return result
