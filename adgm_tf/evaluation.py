"""Evaluation and the paper's figures from a trained workdir (MNIST Sec. 4.3, Figs. 3-5).

A workdir written by `train.train_and_evaluate` holds config.json and model.weights.h5;
`load_trained` rebuilds the data and the model from them.
"""

from __future__ import annotations

import json
import os
from typing import Any, Sequence

import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf import bounds, datasets, plots
from adgm_tf.models import DeepGenerativeModel
from adgm_tf.train import WEIGHTS_FILE, build_model
from adgm_tf.workdir import read_history

tfd = tfp.distributions


def load_trained(workdir: str):
    """(config, data, model) of the run in `workdir`, with the weights of its last epoch."""
    config_path = os.path.join(workdir, "config.json")
    weights_path = os.path.join(workdir, WEIGHTS_FILE)
    for path in (config_path, weights_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} is missing: {workdir} does not hold a trained run. Train one with "
                f"bin/train.py --workdir={workdir} (weights are written after each epoch)."
            )
    with open(config_path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    if config.trainer != "semi_supervised":
        raise ValueError(f"{workdir} holds a {config.trainer!r} run; this needs a classifier.")
    data = datasets.load(config.dataset, config.data)
    model = build_model(config, data)
    model.load_weights(weights_path)
    return config, data, model


def evaluate(
    model: DeepGenerativeModel,
    x: np.ndarray,
    y: np.ndarray,
    bound_samples: int = 1,
    iw_samples: int = 10,
    batch_size: int = 500,
) -> dict[str, float]:
    """Test error of q(y|x), the bound -U(x), and the importance-weighted bound on log p(x).

    q(y|x) averages q(y|a,x) over the model's `num_predict_samples` samples of a. The bounds
    average over the examples (nats per example).
    """
    wrong, elbo, iwae = [], [], []
    for start in range(0, len(x), batch_size):
        xb = tf.constant(x[start : start + batch_size])
        probs = model.predict_on_batch(xb)
        wrong.append(np.argmax(probs, axis=-1) != y[start : start + batch_size])
        elbo.append(model.unlabeled_bound(xb, num_samples=bound_samples, training=False))
        noise = model._noise(xb, iw_samples, model.num_classes)
        log_w, _ = model.unlabeled_terms(xb, noise, training=False)
        iwae.append(bounds.importance_weighted_bound(log_w))
    return {
        "test_error": float(np.mean(np.concatenate(wrong))),
        "test_bound": float(np.mean(np.concatenate(elbo))),
        f"test_iw_bound_{iw_samples}": float(np.mean(np.concatenate(iwae))),
        "num_test": int(len(x)),
        "num_predict_samples": int(model.predict_noise.shape[0]),
    }


def as_images(x: np.ndarray, data: datasets.SemiSupervisedData) -> np.ndarray:
    """Model inputs [..., D] as square images [..., side, side] (dropped pixels left at 0)."""
    lead = x.shape[:-1]
    full = x.reshape(-1, x.shape[-1])
    if data.feature_indices is not None:
        full = np.zeros((len(full), data.raw_input_dim), np.float32)
        full[:, data.feature_indices] = x.reshape(-1, x.shape[-1])
    side = int(round(np.sqrt(full.shape[1])))
    if side * side != full.shape[1]:
        raise ValueError(f"Inputs of size {full.shape[1]} are not square images.")
    return full.reshape(*lead, side, side)


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
    a = model.q_a({"x": x}, training=False).mean() if model.q_a is not None else None
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


def kl_per_unit(model: DeepGenerativeModel, x: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Mean KL per unit over the examples (Fig. 4a): KL(q(z|a,y,x) || p(z)) and, where the
    model has p(a|.), KL(q(a|x) || p(a|.)) with z ~ q(z|a,y,x) and a ~ q(a|x)."""
    x = tf.constant(x)
    y_onehot = tf.one_hot(y, model.num_classes)
    eps_a, eps_z = model._noise(x, 1)
    a, _ = model.auxiliary(x, eps_a, training=False)
    a = None if a is None else a[0]
    v = {"x": x, "y": y_onehot, "a": a}
    q_z = model.q_z(v, training=False)
    v["z"] = q_z.mean() + q_z.stddev() * eps_z[0]
    result = {"z": tfd.kl_divergence(q_z.distribution, model.prior_z.distribution)}
    if model.p_a is not None:
        q_a = model.q_a({"x": x}, training=False)
        result["a"] = tfd.kl_divergence(q_a.distribution, model.p_a(v, training=False).distribution)
    return {k: np.mean(v.numpy(), axis=0) for k, v in result.items()}


def figures(
    workdir: str, out_dir: str, compare: Sequence[str] = (), num_examples: int = 2000,
    rows: int = 8, seed: int = 0,
) -> list[str]:
    """Writes the paper's figures for the run in `workdir` into out_dir; returns the paths.

    compare: further workdirs whose test error curves join this run's (Fig. 5).
    """
    config, data, model = load_trained(workdir)
    plots.ensure_dir(out_dir)
    x, y = data.x_test[:num_examples], data.y_test[:num_examples]
    name = type(model).__name__
    paths = []
    if data.input_dim != 2:
        originals = as_images(x[:rows, None], data)
        images = np.concatenate([originals, as_images(analogies(model, x[:rows], y[:rows]), data)],
                                axis=1)
        paths.append(plots.image_grid(images, os.path.join(out_dir, "analogies.png"),
                                      f"{name}: test digit (left), its z under each class",
                                      column_labels=["x"] + [str(k) for k in range(model.num_classes)]))
        images = as_images(class_samples(model, rows, seed), data)
        paths.append(plots.image_grid(images, os.path.join(out_dir, "class_samples.png"),
                                      f"{name}: z ~ p(z) (rows) under each class (columns)",
                                      column_labels=[str(k) for k in range(model.num_classes)]))
    paths.append(plots.kl_per_unit(kl_per_unit(model, x, y), os.path.join(out_dir, "kl_per_unit.png"),
                                   f"{name}: KL per unit, {len(x)} test examples"))
    if model.q_a is not None:
        a_mean = model.q_a({"x": tf.constant(x)}, training=False).mean().numpy()
        paths.append(plots.principal_components(a_mean, y, os.path.join(out_dir, "pca_a.png"),
                                                title=f"{name}: PCA of E[a|x], test set"))
    curves = {}
    for run in (workdir, *compare):
        with open(os.path.join(run, "config.json")) as f:
            label = json.load(f)["model"]
        history = read_history(os.path.join(run, "history.csv"))
        curves[f"{label} ({os.path.basename(os.path.normpath(run))})"] = history["val_error"]
    paths.append(plots.curves(curves, os.path.join(out_dir, "test_error.png"), "test error",
                              title="test error against epoch", percent=True))
    return paths


def evaluate_workdir(workdir: str, **kwargs: Any) -> dict[str, float]:
    """`evaluate` on the test set of the run in `workdir`."""
    _, data, model = load_trained(workdir)
    return evaluate(model, data.x_test, data.y_test, **kwargs)
