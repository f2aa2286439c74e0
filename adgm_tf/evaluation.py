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

from adgm_tf import datasets, latents, plots
from adgm_tf.latents import analogies, as_images, class_samples, kl_per_unit
from adgm_tf.models import DeepGenerativeModel
from adgm_tf.configs.checks import check_config
from adgm_tf.train import auxiliary_pca_figure, build_model
from adgm_tf.workdir import WEIGHTS_FILE, read_history


def load_trained(workdir: str, dtype_policy: str | None = None):
    """(config, data, model) of the run in `workdir`, with the weights of its last epoch.

    dtype_policy: evaluate in this precision ("float32" or "mixed_bfloat16") instead of the
    one the run trained with."""
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
    if dtype_policy is not None:
        config.dtype_policy = dtype_policy
        check_config(config)
    data = datasets.load(config.dataset, config.data)
    model = build_model(config, data)
    model.load_weights(weights_path)
    return config, data, model


def misclassified(model: DeepGenerativeModel, x, y: np.ndarray) -> np.ndarray:
    """[B] whether argmax q(y|x) (the model's `num_predict_samples` samples of a) misses y."""
    return np.argmax(model.predict_on_batch(x), axis=-1) != y


# images per call of the model in evaluation
EVAL_BATCH_SIZE = 500


def _check_counts(**counts: int) -> None:
    """A ValueError naming each count that is not a positive integer (before any work)."""
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}.")


# how many unlabeled training images `unlabeled_error` classifies: MNIST's last 10,000, the
# authors' validation split (the "valid" column of their logs)
UNLABELED_CHECKED = 10_000


def unlabeled_error(model: DeepGenerativeModel, data: datasets.SemiSupervisedData,
                    batch_size: int = EVAL_BATCH_SIZE) -> dict[str, float]:
    """The error of q(y|x) on the last `UNLABELED_CHECKED` unlabeled training images (in the
    loaded order), whose classes training never sees; {} where the data set does not give them.

    A semi-supervised model knows no more of these images' classes than of the test images',
    so the two errors should be alike. Far below the test error, it says the run learned the
    classes of its unlabeled images from outside the images: from class-ordered batches
    whose samples the loss reads across images (`unlabeled_order="by_class"` with
    `unlabeled_sample_layout="authors"`, the authors' early code), for one. The labeled
    images among them (MNIST: about 17 of the 10,000) are left in: too few to move it.
    """
    _check_counts(batch_size=batch_size)
    if data.y_unlabeled is None:
        return {}
    x, y = data.x_unlabeled[-UNLABELED_CHECKED:], data.y_unlabeled[-UNLABELED_CHECKED:]
    wrong = [misclassified(model, tf.constant(x[i : i + batch_size]), y[i : i + batch_size])
             for i in range(0, len(x), batch_size)]
    return {"unlabeled_error": float(np.mean(np.concatenate(wrong))),
            "num_unlabeled_checked": int(len(x))}


def evaluate(
    model: DeepGenerativeModel,
    x: np.ndarray,
    y: np.ndarray,
    bound_samples: int = 1,
    iw_samples: int = 10,
    batch_size: int = EVAL_BATCH_SIZE,
    seed: int = 0,
) -> dict[str, float]:
    """Test error of q(y|x), the bound -U(x), the importance-weighted bound on log p(x), and
    whether `a` is used (`latents.auxiliary_usage`).

    q(y|x) averages q(y|a,x) over the model's `num_predict_samples` samples of a, on the
    grey-level images (the paper's protocol). The bounds average over the examples (nats per
    example), in inference mode; for a Bernoulli model also on one binarisation of the images
    (seeded by `seed`: a Bernoulli bound on grey levels is not a log-likelihood), and, where
    the model has batch normalisation, also with the batch statistics of each batch of
    `batch_size` images instead of the moving averages (`*_batch_stats`; the moving averages
    are left as they are).
    """
    _check_counts(bound_samples=bound_samples, iw_samples=iw_samples, batch_size=batch_size)
    binary = model.likelihood == "bernoulli"
    batch_norm = model.options.batch_norm
    wrong, results = [], {}

    def add(key, value):
        results.setdefault(key, []).append(value)

    for start in range(0, len(x), batch_size):
        xb = tf.constant(x[start : start + batch_size])
        wrong.append(misclassified(model, xb, y[start : start + batch_size]))
        add("test_bound", model.unlabeled_bound(xb, num_samples=bound_samples, training=False))
        add(f"test_iw_bound_{iw_samples}",
            model.importance_weighted_bound(xb, iw_samples, training=False))
        inputs = {"": xb}
        if binary:
            uniform = tf.random.stateless_uniform(tf.shape(xb), seed=(seed, start))
            inputs["_binarized"] = tf.cast(uniform < xb, tf.float32)
            add("test_bound_binarized", model.unlabeled_bound(
                inputs["_binarized"], num_samples=bound_samples, training=False))
        if batch_norm:
            for suffix, xi in inputs.items():
                add(f"test_bound{suffix}_batch_stats", model.unlabeled_bound(
                    xi, num_samples=bound_samples, training=True, update_stats=False))
    out = {
        "test_error": float(np.mean(np.concatenate(wrong))),
        **{k: float(np.mean(np.concatenate(v))) for k, v in results.items()},
        "num_test": int(len(x)),
        "num_predict_samples": int(model.predict_noise.shape[0]),
    }
    out.update(latents.auxiliary_usage(model, x, y, seed=seed))
    return out


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
        paths.append(class_samples_figure(model, data, class_samples(model, rows, seed),
                                          os.path.join(out_dir, "class_samples.png")))
    paths.append(plots.kl_per_unit(kl_per_unit(model, x, y), os.path.join(out_dir, "kl_per_unit.png"),
                                   f"{name}: KL per unit, {len(x)} test examples"))
    pca = auxiliary_pca_figure(model, x, y, os.path.join(out_dir, "pca_a.png"))
    if pca is not None:
        paths.append(pca)
    curves, minutes = {}, {}
    for run in (workdir, *compare):
        with open(os.path.join(run, "config.json")) as f:
            label = json.load(f)["model"]
        history = read_history(os.path.join(run, "history.csv"))
        key = f"{label} ({os.path.basename(os.path.normpath(run))})"
        curves[key] = history["val_error"]
        if "epoch_time_s" in history:  # runs that recorded their epochs' wall time
            minutes[key] = (np.cumsum(history["epoch_time_s"]) / 60.0, history["val_error"])
    paths.append(plots.curves(curves, os.path.join(out_dir, "test_error.png"), "test error",
                              title="test error against epoch", percent=True))
    if minutes:
        paths.append(plots.curves_against(minutes, os.path.join(out_dir, "test_error_minutes.png"),
                                          "wall time (minutes)", "test error", percent=True,
                                          title="test error against training time"))
    return paths


def class_samples_figure(model: DeepGenerativeModel, data, samples: np.ndarray, path: str) -> str:
    """Class samples [rows, K, D] (from `class_samples`) as an image grid (Fig. 3b), or as a
    scatter plot coloured by class for 2-D data."""
    if data.input_dim == 2:
        classes = np.tile(np.arange(model.num_classes), len(samples))
        return plots.scatter_classes(samples.reshape(-1, 2), classes, path,
                                     f"{type(model).__name__}: samples of p(x|y,z) by class")
    return plots.image_grid(as_images(samples, data), path,
                            f"{type(model).__name__}: z ~ p(z) (rows) under each class (columns)",
                            column_labels=[str(k) for k in range(model.num_classes)])


def evaluate_workdir(workdir: str, dtype_policy: str | None = None,
                     batch_size: int = EVAL_BATCH_SIZE, **kwargs: Any) -> dict[str, float]:
    """`evaluate` on the test set of the run in `workdir` (in `dtype_policy` if given), and
    `unlabeled_error` on its unlabeled training images."""
    _check_counts(batch_size=batch_size, **{k: v for k, v in kwargs.items()
                                            if k in ("bound_samples", "iw_samples")})
    _, data, model = load_trained(workdir, dtype_policy)
    result = evaluate(model, data.x_test, data.y_test, batch_size=batch_size, **kwargs)
    result.update(unlabeled_error(model, data, batch_size))
    return result
