"""Training loops: `train_and_evaluate(config, workdir)` for every experiment.

A workdir receives:
  config.json       the config the run used
  history.csv       per-epoch metrics (appended to when a run resumes)
  checkpoint/       Keras BackupAndRestore state while a run is unfinished
  model.weights.h5  the model's weights after the last finished epoch
  metrics.json      final numbers (written atomically)
  *.png             the experiment's figures
  saved_model/      the exported classifier (semi-supervised experiments)
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from adgm_tf import datasets, plots
from adgm_tf.bounds import classification_weight
from adgm_tf.export import export_saved_model
from adgm_tf.input_pipeline import labeled_dataset, semi_supervised_dataset
from adgm_tf.models import MODELS, DeepGenerativeModel, KLWarmup
from adgm_tf.potential import POTENTIALS, PotentialFit, true_log_normaliser
from adgm_tf.workdir import read_history, write_json


WEIGHTS_FILE = "model.weights.h5"


def build_model(config: ml_collections.ConfigDict, data: datasets.SemiSupervisedData):
    """The model named by `config.model`, sized from the config and the data."""
    if config.model not in MODELS:
        raise ValueError(f"Unknown model {config.model!r}; choose one of {sorted(MODELS)}.")
    return MODELS[config.model](
        input_dim=data.input_dim,
        num_classes=data.num_classes,
        likelihood=config.likelihood or data.likelihood,
        hidden_sizes=tuple(config.hidden_sizes),
        a_dim=config.a_dim,
        z_dim=config.z_dim,
        num_samples=config.num_samples,
        num_predict_samples=config.num_predict_samples,
        classification_weight=classification_weight(
            config.beta, len(data.x_labeled), len(data.x_unlabeled)
        ),
        batch_norm=config.batch_norm,
        p_a_inputs=config.get("p_a_inputs"),
        head_init_std=config.get("head_init_std"),
        weight_prior=config.get("weight_prior", 0.0),
        seed=config.seed,
        dtype=config.get("dtype_policy", "float32"),
    )


def build_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """Adam at config.learning_rate, times lr_decay_factor every lr_decay_epochs epochs
    (when both are set), with gradients clipped to global norm config.global_clipnorm."""
    rate = config.learning_rate
    if config.get("lr_decay_epochs") and config.get("lr_decay_factor", 1.0) != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.lr_decay_epochs * steps_per_epoch,
            decay_rate=config.lr_decay_factor, staircase=True,
        )
    return keras.optimizers.Adam(rate, global_clipnorm=config.get("global_clipnorm") or None)


def _fit(model, train, workdir, config, validation=None, callbacks=()):
    """model.fit with a progress bar, a CSV history and resumable checkpoints.

    Returns the history (read back from history.csv, so a resumed run has all epochs) and
    the wall time of this call in seconds.
    """
    callbacks = list(callbacks) + [
        keras.callbacks.BackupAndRestore(os.path.join(workdir, "checkpoint")),
        keras.callbacks.ModelCheckpoint(
            os.path.join(workdir, WEIGHTS_FILE), save_weights_only=True, verbose=0
        ),
        keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv"), append=True),
        keras.callbacks.TerminateOnNaN(),
    ]
    start = time.time()
    model.fit(
        train,
        epochs=config.num_epochs,
        steps_per_epoch=config.get("steps_per_epoch"),
        validation_data=validation,
        callbacks=callbacks,
        verbose=1 if config.progress_bar else 2,
    )
    return read_history(os.path.join(workdir, "history.csv")), time.time() - start


def train_semi_supervised(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Trains a `DeepGenerativeModel` on `config.dataset`; returns the final metrics."""
    data = datasets.load(config.dataset, config.data)
    model = build_model(config, data)
    steps_per_epoch = len(data.x_unlabeled) // config.batch_size
    model.compile(optimizer=build_optimizer(config, steps_per_epoch))
    train = semi_supervised_dataset(
        data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=config.batch_size,
        labeled_batch_size=config.labeled_batch_size, num_classes=data.num_classes,
        seed=config.seed, binarize=config.data.get("binarize", False),
    )
    test = labeled_dataset(data.x_test, data.y_test, config.eval_batch_size)
    warmup = []
    if config.kl_warmup_epochs > 0:
        warmup = [KLWarmup(config.kl_warmup_epochs, steps_per_epoch)]
    history, wall = _fit(model, train, workdir, config, validation=test, callbacks=warmup)
    final = model.evaluate(test, return_dict=True, verbose=0)
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "test_error": float(final["error"]),
        "test_bound": float(final["bound"]),
        "epochs": len(history.get("epoch", [])),
        "train_wall_time_s": round(wall, 1),
        "seconds_per_epoch": round(wall / max(1, config.num_epochs), 3),
    }
    write_json(os.path.join(workdir, "metrics.json"), metrics)
    _semi_supervised_figures(model, data, history, workdir)
    export_saved_model(model, os.path.join(workdir, "saved_model"), data.feature_indices,
                       data.raw_input_dim)
    return metrics


def _semi_supervised_figures(model: DeepGenerativeModel, data, history, workdir: str) -> None:
    name = type(model).__name__
    plots.curves({name: history["val_error"]}, os.path.join(workdir, "test_error.png"),
                 "test error", title=f"{name} test error", percent=True)
    if data.input_dim == 2:
        plots.decision_boundary(
            lambda x: model.predict(x, batch_size=4096, verbose=0),
            data.x_unlabeled, data.x_labeled, os.path.join(workdir, "decision_boundary.png"),
            title=f"{name}: q(y=1|x)",
        )
    if model.q_a is not None:
        a_mean = model.q_a({"x": tf.constant(data.x_test)}, training=False).mean().numpy()
        plots.principal_components(a_mean, data.y_test, os.path.join(workdir, "pca_a.png"),
                                   title=f"{name}: PCA of E[a|x], test set")


def train_potential(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Fits the auxiliary VAE and a diagonal Gaussian to exp(-U(z)); returns both bounds."""
    steps = tf.data.Dataset.from_tensors(tf.zeros(())).repeat()
    fits, metrics, samples = {}, {"potential": config.potential}, {}
    for label, auxiliary in (("auxiliary", True), ("gaussian", False)):
        keras.utils.set_random_seed(config.seed)
        model = PotentialFit(
            potential=config.potential, auxiliary=auxiliary, a_dim=config.a_dim,
            hidden_sizes=tuple(config.hidden_sizes), num_samples=config.num_samples,
            seed=config.seed,
        )
        model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
        subdir = plots.ensure_dir(os.path.join(workdir, label))
        history, wall = _fit(model, steps, subdir, config)
        z, log_w = model.sample(config.num_eval_samples)
        metrics[f"{label}_bound"] = float(np.mean(log_w))
        metrics[f"{label}_bound_stderr"] = float(np.std(log_w) / np.sqrt(len(log_w)))
        metrics[f"{label}_train_wall_time_s"] = round(wall, 1)
        samples[label] = z.numpy()
        fits[label] = history["bound"]
    metrics["true_log_Z"] = true_log_normaliser(POTENTIALS[config.potential])
    metrics["epochs"] = config.num_epochs
    write_json(os.path.join(workdir, "metrics.json"), metrics)
    plots.densities(POTENTIALS[config.potential], samples, os.path.join(workdir, "densities.png"))
    plots.curves(fits, os.path.join(workdir, "bound.png"), "bound on log Z",
                 title=f"true log Z = {metrics['true_log_Z']:.3f}")
    return metrics


TRAINERS: dict[str, Callable[[ml_collections.ConfigDict, str], dict[str, Any]]] = {
    "semi_supervised": train_semi_supervised,
    "potential": train_potential,
}


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs the experiment `config.trainer` in `workdir`; returns its final metrics."""
    if config.trainer not in TRAINERS:
        raise ValueError(f"Unknown trainer {config.trainer!r}; choose one of {sorted(TRAINERS)}.")
    os.makedirs(workdir, exist_ok=True)
    keras.utils.set_random_seed(config.seed)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))
    return TRAINERS[config.trainer](config, workdir)
