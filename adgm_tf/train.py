"""Training loops: `train_and_evaluate(config, workdir)` for every experiment.

A workdir receives:
  config.json       the config the run used
  history.csv       per-epoch metrics (appended to when a run resumes)
  checkpoint/       Keras BackupAndRestore state of the last finished epoch (resume point)
  tensorboard/      per-epoch metrics, KL-per-unit histograms, class-sample images
  model.weights.h5  the model's weights after the last finished epoch
  metrics.json      final numbers (written atomically)
  *.png             the experiment's figures
  saved_model/      the exported classifier (semi-supervised experiments)
"""

from __future__ import annotations

import json
import os
import shutil
import time
from typing import Any, Callable

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from adgm_tf import console, datasets, distribute, latents, plots
from adgm_tf.bounds import classification_weight
from adgm_tf.export import export_saved_model
from adgm_tf.input_pipeline import check_support, labeled_dataset, semi_supervised_dataset
from adgm_tf.models import BATCH_NORM_STATS, MODELS, DeepGenerativeModel, KLWarmup
from adgm_tf.optimizers import ClippedAdam
from adgm_tf.potential import (POTENTIALS, PotentialFit, finds_both_modes, mode_shares,
                               true_log_normaliser)
from adgm_tf.workdir import read_history, trim_history, write_json


WEIGHTS_FILE = "model.weights.h5"
CHECKPOINT_DIR = "checkpoint"


class GenerativeSummaries(keras.callbacks.Callback):
    """After each epoch: TensorBoard histograms of the KL per unit of `a` and `z` on test
    examples, for image data a grid of class-conditional samples (rows: z ~ p(z); columns:
    classes), and whether `a` is used (`latents.auxiliary_usage` on `usage_examples` test
    examples) added to the logs, so that history.csv and TensorBoard keep it per epoch (as
    a_kl, a_mean_spread, a_posterior_var, val_error_a_mean, val_error_a_noise). Put it
    before the callbacks that write the logs."""

    def __init__(self, data: datasets.SemiSupervisedData, log_dir: str, num_examples: int = 500,
                 rows: int = 4, usage_examples: int = 2000):
        super().__init__()
        self.data = data
        self.writer = tf.summary.create_file_writer(log_dir)
        self.x = data.x_test[:num_examples]
        self.y = data.y_test[:num_examples]
        self.usage_x = data.x_test[:usage_examples]
        self.usage_y = data.y_test[:usage_examples]
        self.rows = rows

    def on_epoch_end(self, epoch, logs=None):
        usage = latents.auxiliary_usage(self.model, self.usage_x, self.usage_y, seed=epoch)
        if logs is not None:
            for key, value in usage.items():
                logs[f"val_{key}" if key.startswith("error") else key] = value
        with self.writer.as_default(step=epoch + 1):
            for name, kl in latents.kl_per_unit(self.model, self.x, self.y).items():
                tf.summary.histogram(f"kl_per_unit/{name}", kl)
            if self.data.input_dim != 2:
                images = latents.as_images(latents.class_samples(self.model, self.rows), self.data)
                rows, cols, h, w = images.shape
                grid = images.transpose(0, 2, 1, 3).reshape(1, rows * h, cols * w, 1)
                tf.summary.image("class_samples", grid)
        self.writer.flush()


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
        batch_norm_stats=config.get("batch_norm_stats", "unlabeled"),
        p_a_inputs=config.get("p_a_inputs"),
        head_init_std=config.get("head_init_std"),
        x_var_floor=config.get("x_var_floor") or 0.0,
        init=config.get("init", "glorot_uniform"),
        weight_prior=config.get("weight_prior", 0.0),
        a_free_bits=config.get("a_free_bits") or 0.0,
        seed=config.seed,
        dtype=config.get("dtype_policy", "float32"),
    )


def build_optimizer(config: ml_collections.ConfigDict, steps_per_epoch: int):
    """Adam at config.learning_rate, times lr_decay_factor every lr_decay_epochs epochs
    (when both are set), with gradients clipped to global norm config.global_clipnorm and
    then element-wise to +-config.elementwise_clipvalue (`optimizers.ClippedAdam`)."""
    rate = config.learning_rate
    if config.get("lr_decay_epochs") and config.get("lr_decay_factor", 1.0) != 1.0:
        rate = keras.optimizers.schedules.ExponentialDecay(
            config.learning_rate, decay_steps=config.lr_decay_epochs * steps_per_epoch,
            decay_rate=config.lr_decay_factor, staircase=True,
        )
    return ClippedAdam(rate, global_clipnorm=config.get("global_clipnorm") or None,
                       elementwise_clipvalue=config.get("elementwise_clipvalue") or None)


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's wall time (its steps and its evaluation) to the logs as
    `epoch_time_s` and the evaluation's as `eval_time_s`, and NaN for the validation metrics
    of an epoch that was not evaluated, so that history.csv keeps one set of columns
    whichever epochs are evaluated. Put it before the callbacks that write the logs."""

    def __init__(self, validation_keys=()):
        super().__init__()
        self.validation_keys = tuple(validation_keys)
        self.start = self.eval_start = 0.0
        self.eval_s = float("nan")

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()
        self.eval_s = float("nan")

    def on_test_begin(self, logs=None):
        self.eval_start = time.perf_counter()

    def on_test_end(self, logs=None):
        self.eval_s = time.perf_counter() - self.eval_start

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        logs["epoch_time_s"] = time.perf_counter() - self.start
        logs["eval_time_s"] = self.eval_s
        for key in self.validation_keys:
            logs.setdefault(key, float("nan"))


def validation_epochs(num_epochs: int, every: int) -> list[int]:
    """The (1-based) epochs evaluated when evaluating every `every` epochs: the first, every
    `every`-th and the last."""
    return sorted({1, num_epochs} | set(range(every, num_epochs + 1, every)))


NON_FINITE_POLICIES = ("stop", "rollback")
DTYPE_POLICIES = ("float32", "mixed_bfloat16")  # Keras dtype policies a config may name


class NonFiniteGuard(keras.callbacks.Callback):
    """Acts when the training loss becomes NaN or infinite.

    policy "stop": raises `FloatingPointError` at once, so neither the checkpoint nor
    model.weights.h5 is overwritten: both keep the last finished epoch.
    policy "rollback": reloads the weights (and optimizer state) of the last finished epoch and
    goes on, at most `max_rollbacks` times, then stops as above.
    """

    def __init__(self, weights_path: str, policy: str = "stop", max_rollbacks: int = 3):
        super().__init__()
        if policy not in NON_FINITE_POLICIES:
            raise ValueError(f"on_non_finite must be 'stop' or 'rollback'; got {policy!r}.")
        self.weights_path = weights_path
        self.policy = policy
        self.max_rollbacks = max_rollbacks
        self.rollbacks = 0
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        # The loss where one is logged (a non-finite term makes it non-finite); otherwise
        # every scalar metric (the potential fit logs only its bound).
        watched = ["loss"] if "loss" in logs else [k for k, v in logs.items() if np.ndim(v) == 0]
        bad = [k for k in watched if not np.isfinite(float(logs[k]))]
        if not bad:
            return
        name = bad[0]
        loss = float(logs[name])
        can_roll_back = os.path.isfile(self.weights_path)
        if self.policy == "rollback" and can_roll_back and self.rollbacks < self.max_rollbacks:
            self.rollbacks += 1
            self.model.load_weights(self.weights_path)
            for metric in self.model.metrics:
                metric.reset_state()
            print(f"\nLoss {loss} at epoch {self.epoch + 1}, step {batch + 1}: rolled back to "
                  f"the last finished epoch (rollback {self.rollbacks}/{self.max_rollbacks}).")
            return
        kept = ("the workdir keeps the weights of the last finished epoch; rerun the same "
                "command to resume from them" if can_roll_back else "no epoch had finished")
        raise FloatingPointError(
            f"The training {name} became {loss} at epoch {self.epoch + 1}, step {batch + 1}; "
            f"training stopped and {kept}. Try a lower learning_rate, global_clipnorm, "
            f"batch_norm, or on_non_finite='rollback'."
        )


def finished_epochs(workdir: str) -> int:
    """The number of epochs of the run in `workdir` that finished (0 for a new run)."""
    path = os.path.join(workdir, CHECKPOINT_DIR, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])


# Keys a resumed run may change; any other difference means a different run.
RESUMABLE_KEYS = ("num_epochs", "progress_bar", "dtype_policy", "jit_compile", "strategy",
                  "logical_cpus", "threads", "steps_per_execution",
                  "eval_batch_size", "on_non_finite", "eval_every_epochs",
                  "eval_predict_samples")


# Keys added to the configs after runs were started, with the value that leaves the run as
# it was: a workdir whose config.json lacks one resumes when the new config keeps it.
ADDED_KEYS = {"a_free_bits": 0.0}


def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses impossible values before any data is read or work is done."""
    problems = []
    positive = ("num_epochs", "learning_rate", "batch_size", "num_samples", "eval_batch_size",
                "num_restarts", "threads", "steps_per_execution",
                "labeled_batch_size", "steps_per_epoch", "num_predict_samples",
                "num_eval_samples", "eval_every_epochs", "eval_predict_samples")
    for key in positive:
        if key in config and config[key] is not None and not config[key] > 0:
            problems.append(f"{key} must be positive, got {config[key]}")
    for key in ("beta", "kl_warmup_epochs", "weight_prior", "global_clipnorm",
                "elementwise_clipvalue", "x_var_floor", "a_free_bits"):
        if key in config and config[key] is not None and not config[key] >= 0:
            problems.append(f"{key} must be non-negative, got {config[key]}")
    if config.get("on_non_finite", "stop") not in NON_FINITE_POLICIES:
        problems.append(f"on_non_finite must be 'stop' or 'rollback', got {config.on_non_finite!r}")
    if config.get("dtype_policy", "float32") not in DTYPE_POLICIES:
        problems.append(f"dtype_policy must be one of {DTYPE_POLICIES}, got {config.dtype_policy!r}")
    if (config.get("eval_predict_samples") or 0) > (config.get("num_predict_samples") or 0):
        problems.append(f"eval_predict_samples ({config.eval_predict_samples}) must not exceed "
                        f"num_predict_samples ({config.num_predict_samples})")
    if config.get("strategy", "default") not in distribute.STRATEGIES:
        problems.append(f"strategy must be one of {distribute.STRATEGIES}, got "
                        f"{config.strategy!r}")
    elif config.get("strategy", "default") != "default" and config.trainer != "semi_supervised":
        problems.append(f"the {config.trainer!r} trainer runs on one device; leave strategy "
                        "at 'default'")
    if (config.get("steps_per_execution") or 1) > 1 and (
            config.get("strategy", "default") != "default"
            or config.get("trainer", "semi_supervised") != "semi_supervised"):
        problems.append("steps_per_execution > 1 is for the semi_supervised trainer on one "
                        f"device; got {config.steps_per_execution} with strategy "
                        f"{config.get('strategy', 'default')!r} and trainer "
                        f"{config.get('trainer', 'semi_supervised')!r}")
    if (config.get("logical_cpus") or 0) < 0:
        problems.append(f"logical_cpus must be 0 (no split) or positive, got "
                        f"{config.logical_cpus}")
    if config.get("batch_norm_stats", "unlabeled") not in BATCH_NORM_STATS:
        problems.append(f"batch_norm_stats must be one of {BATCH_NORM_STATS}, got "
                        f"{config.batch_norm_stats!r}")
    if problems:
        raise ValueError("Impossible config: " + "; ".join(problems) + ".")


def check_workdir(config: ml_collections.ConfigDict, workdir: str) -> None:
    """Refuses a workdir whose unfinished or finished run used a different config."""
    path = os.path.join(workdir, "config.json")
    started = os.path.isdir(os.path.join(workdir, CHECKPOINT_DIR)) or os.path.isfile(
        os.path.join(workdir, WEIGHTS_FILE))
    if not (started and os.path.isfile(path)):
        return
    with open(path) as f:
        old = json.load(f)
    new = json.loads(config.to_json_best_effort())
    # a run started before a key existed had its neutral value
    old, new = {**ADDED_KEYS, **old}, {**ADDED_KEYS, **new}
    diffs = [f"{k}={old.get(k)!r} there but {new.get(k)!r} here"
             for k in sorted(set(old) | set(new))
             if k not in RESUMABLE_KEYS and old.get(k) != new.get(k)]
    if diffs:
        raise ValueError(
            f"{workdir} holds a different run ({'; '.join(diffs)}). Use a new --workdir, or "
            f"delete {workdir} to start over."
        )


def _fit(model, train, workdir, config, validation=None, callbacks=(), steps_per_epoch=None,
         validation_freq=1):
    """model.fit with a progress bar, a CSV history and resumable checkpoints.

    Returns the history (read back from history.csv, so a resumed run has all epochs) and
    the wall time of this call in seconds.
    """
    weights = os.path.join(workdir, WEIGHTS_FILE)
    trim_history(os.path.join(workdir, "history.csv"), finished_epochs(workdir))
    callbacks = list(callbacks) + [
        keras.callbacks.ModelCheckpoint(weights, save_weights_only=True, verbose=0),
        keras.callbacks.CSVLogger(os.path.join(workdir, "history.csv"), append=True),
        keras.callbacks.TensorBoard(os.path.join(workdir, "tensorboard"), write_graph=False),
        # After the history: a kill between the two leaves an extra history row, which the
        # resumed run trims, never a missing one. Kept after the last epoch too, so a rerun
        # with more epochs continues the run.
        keras.callbacks.BackupAndRestore(os.path.join(workdir, CHECKPOINT_DIR),
                                         delete_checkpoint=False, double_checkpoint=True),
        NonFiniteGuard(weights, config.get("on_non_finite", "stop")),
    ]
    start = time.time()
    model.fit(
        train,
        epochs=config.num_epochs,
        steps_per_epoch=steps_per_epoch or config.get("steps_per_epoch"),
        validation_data=validation,
        validation_freq=validation_freq,
        callbacks=callbacks,
        verbose=1 if config.progress_bar else 2,
        shuffle=False,  # the dataset shuffles itself
    )
    return read_history(os.path.join(workdir, "history.csv")), time.time() - start


def train_semi_supervised(config: ml_collections.ConfigDict, workdir: str,
                          strategy: tf.distribute.Strategy | None = None) -> dict[str, Any]:
    """Trains a `DeepGenerativeModel` on `config.dataset`; returns the final metrics.

    strategy: the `tf.distribute` strategy whose scope the caller has entered (None: the
    default)."""
    strategy = strategy or tf.distribute.get_strategy()
    distribute.check_divisible(strategy, batch_size=config.batch_size,
                               labeled_batch_size=config.labeled_batch_size)
    data = datasets.load(config.dataset, config.data)
    if config.likelihood and config.likelihood != data.likelihood:  # the data's is checked
        check_support(data.x_test, config.likelihood, f"{config.dataset}'s test set")
    steps_per_epoch = len(data.x_unlabeled) // config.batch_size
    per_call = config.get("steps_per_execution") or 1
    if steps_per_epoch % per_call:
        raise ValueError(
            f"steps_per_execution ({per_call}) must divide the {steps_per_epoch} steps of an "
            f"epoch ({len(data.x_unlabeled)} unlabeled examples / batch_size "
            f"{config.batch_size}); choose a divisor such as 1, 2, 5 or 10 where it divides.")
    model = build_model(config, data)
    resumed_at = finished_epochs(workdir)
    if distribute.is_chief(strategy):
        print_run(config, workdir, resumed_at, strategy, [
            ("model", f"{type(model).__name__} ({config.model}), {config.likelihood or data.likelihood} "
                      f"likelihood, hidden {tuple(config.hidden_sizes)}, dim(a) {config.a_dim}, "
                      f"dim(z) {config.z_dim}, {config.num_samples} sample(s) of a and z"),
            ("data", f"{config.dataset}: {len(data.x_labeled)} labeled, {len(data.x_unlabeled)} "
                     f"unlabeled, {len(data.x_test)} test, {data.input_dim} inputs, "
                     f"{data.num_classes} classes"),
            ("training", f"{config.num_epochs} epochs of {steps_per_epoch} steps, batches of "
                         f"{config.labeled_batch_size} labeled + {config.batch_size} unlabeled, "
                         f"Adam {config.learning_rate:g}, beta {config.beta:g}"),
        ])
    model.compile(optimizer=build_optimizer(config, steps_per_epoch),
                  jit_compile=bool(config.get("jit_compile", False)),
                  steps_per_execution=per_call)
    train = semi_supervised_dataset(
        data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=config.batch_size,
        labeled_batch_size=config.labeled_batch_size, num_classes=data.num_classes,
        seed=config.seed, binarize=config.data.get("binarize", False),
        first_epoch=resumed_at, preprocess=data.preprocess,
    )
    train = distribute.replica_steps(strategy, train)
    test = labeled_dataset(data.x_test, data.y_test, config.eval_batch_size)
    callbacks = [
        EpochTimer([f"val_{name}" for name in model.test_trackers]),
        GenerativeSummaries(data, os.path.join(workdir, "tensorboard", "generative")),
    ]
    if config.kl_warmup_epochs > 0:
        callbacks.append(KLWarmup(config.kl_warmup_epochs, steps_per_epoch))
    # The in-training evaluation may be cheaper (fewer samples of a, fewer epochs); the
    # final one below always follows the paper's protocol.
    model.eval_predict_samples = config.get("eval_predict_samples")
    every = config.get("eval_every_epochs") or 1
    history, wall = _fit(model, train, workdir, config, validation=test, callbacks=callbacks,
                         steps_per_epoch=steps_per_epoch,
                         validation_freq=validation_epochs(config.num_epochs, every))
    model.eval_predict_samples = None
    final = model.evaluate(test, return_dict=True, verbose=0)
    metrics = {
        "model": config.model,
        "dataset": config.dataset,
        "test_error": float(final["error"]),
        "test_bound": float(final["bound"]),
        "epochs": len(history.get("epoch", [])),
        "train_wall_time_s": round(wall, 1),
        "seconds_per_epoch": round(wall / max(1, config.num_epochs - resumed_at), 3),
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
    auxiliary_pca_figure(model, data.x_test, data.y_test, os.path.join(workdir, "pca_a.png"))


def auxiliary_pca_figure(model: DeepGenerativeModel, x, y, path: str) -> str | None:
    """PCA of E[a|x] coloured by class (Figs. 2d, 4b); None for a model without `a`."""
    a_mean = latents.auxiliary_means(model, x)
    if a_mean is None:
        return None
    return plots.principal_components(a_mean.numpy(), y, path,
                                      title=f"{type(model).__name__}: PCA of E[a|x], test set")


def train_potential(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Fits the auxiliary VAE and a diagonal Gaussian to exp(-U(z)), from
    `config.num_restarts` seeds (config.seed, config.seed + 1, ...); returns every seed's
    bound, the best and the spread, and how many fits found both modes."""
    steps = tf.data.Dataset.from_tensors(tf.zeros(())).repeat()
    restarts = config.get("num_restarts", 1)
    seeds = list(range(config.seed, config.seed + restarts))
    print_run(config, workdir, 0, tf.distribute.get_strategy(), [
        ("fit", f"the {config.potential} potential, auxiliary VAE (dim(a) {config.a_dim}) and "
                f"a Gaussian, hidden {tuple(config.hidden_sizes)}, {config.num_samples} "
                f"sample(s), {restarts} seed(s) from {config.seed}"),
        ("training", f"{config.num_epochs} epochs of {config.steps_per_epoch} steps, Adam "
                     f"{config.learning_rate:g}"),
    ])
    metrics = {"potential": config.potential, "seeds": seeds}
    fits, best_samples = {}, {}
    for label, auxiliary in (("auxiliary", True), ("gaussian", False)):
        runs = []
        for seed in seeds:
            keras.utils.set_random_seed(seed)
            model = PotentialFit(
                potential=config.potential, auxiliary=auxiliary, a_dim=config.a_dim,
                hidden_sizes=tuple(config.hidden_sizes), num_samples=config.num_samples,
                seed=seed, init_std=config.get("init_std"),
            )
            model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
            name = label if restarts == 1 else f"{label}_seed{seed}"
            subdir = plots.ensure_dir(os.path.join(workdir, name))
            try:
                history, wall = _fit(model, steps, subdir, config)
            except FloatingPointError as e:  # a diverged restart is reported, not fatal
                if restarts == 1:
                    raise
                print(f"{label}, seed {seed}: {e}")
                runs.append(dict(seed=seed, bound=float("nan"), diverged=True))
                continue
            z, log_w = model.sample(config.num_eval_samples)
            z = z.numpy()
            runs.append(dict(seed=seed, bound=float(np.mean(log_w)), diverged=False,
                             bound_stderr=float(np.std(log_w) / np.sqrt(len(log_w))),
                             mode_shares=mode_shares(z), both_modes=finds_both_modes(z),
                             train_wall_time_s=round(wall, 1), samples=z,
                             history=history["bound"]))
        finished = [r for r in runs if np.isfinite(r["bound"])]
        if not finished:
            raise FloatingPointError(f"Every {label} fit diverged; see {workdir}.")
        bounds_ = np.array([r["bound"] for r in finished])
        best = finished[int(np.argmax(bounds_))]
        metrics[f"{label}_bound"] = best["bound"]  # the best seed's
        metrics[f"{label}_bound_stderr"] = best["bound_stderr"]
        metrics[f"{label}_best_seed"] = best["seed"]
        metrics[f"{label}_bound_mean"] = float(bounds_.mean())  # over the finished fits
        metrics[f"{label}_bound_std"] = float(bounds_.std())
        metrics[f"{label}_diverged"] = len(runs) - len(finished)
        metrics[f"{label}_both_modes"] = int(sum(r["both_modes"] for r in finished))
        metrics[f"{label}_train_wall_time_s"] = round(
            sum(r["train_wall_time_s"] for r in finished), 1)
        metrics[f"{label}_runs"] = [{k: v for k, v in r.items() if k not in ("samples", "history")}
                                    for r in runs]
        best_samples[label] = best["samples"]
        fits[label] = best["history"]
    metrics["true_log_Z"] = true_log_normaliser(POTENTIALS[config.potential])
    metrics["epochs"] = config.num_epochs
    write_json(os.path.join(workdir, "metrics.json"), metrics)
    plots.densities(POTENTIALS[config.potential], best_samples,
                    os.path.join(workdir, "densities.png"))
    plots.curves(fits, os.path.join(workdir, "bound.png"), "bound on log Z",
                 title=f"true log Z = {metrics['true_log_Z']:.3f}")
    return metrics


TRAINERS: dict[str, Callable[[ml_collections.ConfigDict, str], dict[str, Any]]] = {
    "semi_supervised": train_semi_supervised,
    "potential": train_potential,
}


def print_run(config: ml_collections.ConfigDict, workdir: str, resumed_at: int,
              strategy: tf.distribute.Strategy, rows: list[tuple[str, str]]) -> None:
    """Prints what the run is before its first step: the trainer's `rows`, then the machine,
    the speed settings in force and where the outputs (and TensorFlow's C++ log) go."""
    gpus = [d.name.split("physical_device:")[-1] for d in tf.config.list_physical_devices("GPU")]
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    per_call = config.get("steps_per_execution") or 1
    every = config.get("eval_every_epochs") or 1
    speed = [config.get("dtype_policy", "float32"),
             f"{threads} thread(s) per op" if threads else "TensorFlow's threads per op",
             f"{per_call} step(s) per call", "XLA" if config.get("jit_compile") else "no XLA"]
    if config.trainer == "semi_supervised":
        samples = config.get("eval_predict_samples") or config.num_predict_samples
        speed.append(f"evaluation every {every} epoch(s) with {samples} sample(s) of a")
    if strategy.num_replicas_in_sync > 1:
        speed.append(f"{strategy.num_replicas_in_sync} replicas ({config.strategy})")
    where = workdir + (f" (resuming after epoch {resumed_at})" if resumed_at else "")
    log = console.native_log_path()
    console.print_summary(f"adgm_tf: {config.trainer} training, seed {config.seed}", rows + [
        ("machine", f"{console.machine_line(gpus)}; TensorFlow {tf.__version__}"),
        ("speed", ", ".join(speed)),
        ("workdir", where),
        ("TF log", log or "the terminal (not redirected)"),
    ])


def set_threads(threads: int) -> None:
    """Runs each TensorFlow op on at most `threads` threads; before TensorFlow starts.

    On a 2-core machine one thread per op is faster than two for the MNIST step: independent
    ops then run side by side, one per core, on TensorFlow's inter-op threads (BENCHMARKS.md).
    """
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as e:
        raise RuntimeError(
            f"Cannot set threads={threads}: TensorFlow has already started in this process. "
            "Set config.threads in a fresh process (bin/train.py does so first)."
        ) from e


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Runs the experiment `config.trainer` in `workdir`; returns its final metrics.

    With config.strategy other than "default" the semi-supervised trainer runs under that
    `tf.distribute` strategy (`distribute`). Every worker of a multi-worker run does the
    same work, saving included (which may need collective ops), but only the chief writes
    into `workdir`: the others write into a scratch copy of its checkpoint, removed at the
    end."""
    if config.trainer not in TRAINERS:
        raise ValueError(f"Unknown trainer {config.trainer!r}; choose one of {sorted(TRAINERS)}.")
    check_config(config)
    check_workdir(config, workdir)
    if config.get("threads"):
        set_threads(config.threads)
    name = config.get("strategy", "default")
    strategy = distribute.make_strategy(name, config.get("logical_cpus") or 0)
    chief = distribute.is_chief(strategy)
    if chief:
        os.makedirs(workdir, exist_ok=True)
        console.move_native_log(workdir)  # a script's TensorFlow log (console.py)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
    keras.utils.set_random_seed(config.seed)
    if name == "default":
        return TRAINERS[config.trainer](config, workdir)
    rundir = workdir if chief else distribute.worker_scratch(workdir, CHECKPOINT_DIR)
    try:
        with strategy.scope():
            return TRAINERS[config.trainer](config, rundir, strategy)
    finally:
        if not chief:
            shutil.rmtree(rundir, ignore_errors=True)
