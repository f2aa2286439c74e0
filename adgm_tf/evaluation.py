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

from adgm_tf import bounds, datasets, latents, plots
from adgm_tf.latents import analogies, as_images, class_samples, kl_per_unit
from adgm_tf.models import DeepGenerativeModel
from adgm_tf.train import WEIGHTS_FILE, auxiliary_pca_figure, build_model, check_config
from adgm_tf.workdir import read_history


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


def evaluate(
    model: DeepGenerativeModel,
    x: np.ndarray,
    y: np.ndarray,
    bound_samples: int = 1,
    iw_samples: int = 10,
    batch_size: int = 500,
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
    binary = model.likelihood == "bernoulli"
    batch_norm = bool(model.config_kwargs.get("batch_norm"))
    wrong, results = [], {}

    def add(key, value):
        results.setdefault(key, []).append(value)

    for start in range(0, len(x), batch_size):
        xb = tf.constant(x[start : start + batch_size])
        probs = model.predict_on_batch(xb)
        wrong.append(np.argmax(probs, axis=-1) != y[start : start + batch_size])
        add("test_bound", model.unlabeled_bound(xb, num_samples=bound_samples, training=False))
        noise = model._noise(xb, iw_samples, model.num_classes)
        log_w, _ = model.unlabeled_terms(xb, noise, training=False)
        add(f"test_iw_bound_{iw_samples}", bounds.importance_weighted_bound(log_w))
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


def evaluate_workdir(workdir: str, dtype_policy: str | None = None,
                     **kwargs: Any) -> dict[str, float]:
    """`evaluate` on the test set of the run in `workdir` (in `dtype_policy` if given)."""
    _, data, model = load_trained(workdir, dtype_policy)
    return evaluate(model, data.x_test, data.y_test, **kwargs)
