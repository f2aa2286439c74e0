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

import os
import shutil
import time
from typing import Any, Callable

import keras
import ml_collections
import numpy as np
import tensorflow as tf

from adgm_tf import console, datasets, distribute, latents, plots, speed
from adgm_tf.bounds import classification_weight
from adgm_tf.callbacks import EpochTimer, GenerativeSummaries, KLWarmup, NonFiniteGuard
from adgm_tf.configs.checks import check_config, check_workdir
from adgm_tf.export import export_saved_model
from adgm_tf.input_pipeline import check_support, labeled_dataset, semi_supervised_dataset
from adgm_tf.models import DEFAULT_UNLABELED_SAMPLE_LAYOUT, MODELS, DeepGenerativeModel
from adgm_tf.optimizers import ClippedAdam
from adgm_tf.potential import (POTENTIALS, PotentialFit, finds_both_modes, mode_shares,
                               true_log_normaliser)
from adgm_tf.workdir import (CHECKPOINT_DIR, WEIGHTS_FILE, finished_epochs, read_history,
                             trim_history, write_json)


def build_model(config: ml_collections.ConfigDict, data: datasets.SemiSupervisedData):
    """The model named by `config.model`, sized from the config and the data, in the
    config's precision ("auto": the machine's, `speed`)."""
    if config.model not in MODELS:
        raise ValueError(f"Unknown model {config.model!r}; choose one of {sorted(MODELS)}.")
    config = speed.resolve(config)
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
        unlabeled_sample_layout=config.get("unlabeled_sample_layout",
                                           DEFAULT_UNLABELED_SAMPLE_LAYOUT),
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


def validation_epochs(num_epochs: int, every: int) -> list[int]:
    """The (1-based) epochs evaluated when evaluating every `every` epochs: the first, every
    `every`-th and the last."""
    return sorted({1, num_epochs} | set(range(every, num_epochs + 1, every)))


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
    data, shuffle_unlabeled = datasets.in_unlabeled_order(
        datasets.load(config.dataset, config.data), _unlabeled_order(config))
    if config.likelihood and config.likelihood != data.likelihood:  # the data's is checked
        check_support(data.x_test, config.likelihood, f"{config.dataset}'s test set")
    steps_per_epoch = _steps_per_epoch(config, len(data.x_unlabeled))
    config = speed.resolve(config, steps_per_epoch)  # steps per call, where left to it
    model = build_model(config, data)
    resumed_at = finished_epochs(workdir)
    if distribute.is_chief(strategy):
        print_run(config, workdir, resumed_at, strategy,
                  _semi_supervised_rows(config, data, model, steps_per_epoch))
    model.compile(optimizer=build_optimizer(config, steps_per_epoch),
                  jit_compile=bool(config.get("jit_compile", False)),
                  steps_per_execution=config.get("steps_per_execution") or 1)
    train = semi_supervised_dataset(
        data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=config.batch_size,
        labeled_batch_size=config.labeled_batch_size, num_classes=data.num_classes,
        seed=config.seed, binarize=config.data.get("binarize", False),
        first_epoch=resumed_at, preprocess=data.preprocess, shuffle_unlabeled=shuffle_unlabeled,
    )
    train = distribute.replica_steps(strategy, train)
    test = labeled_dataset(data.x_test, data.y_test, config.eval_batch_size)
    callbacks = [  # the timer after the summaries: an epoch's time includes them
        GenerativeSummaries(data, os.path.join(workdir, "tensorboard", "generative")),
        EpochTimer([f"val_{name}" for name in model.test_trackers]),
    ] + ([KLWarmup(config.kl_warmup_epochs, steps_per_epoch)] if config.kl_warmup_epochs else [])
    # The in-training evaluation may be cheaper (fewer samples of a, fewer epochs); the
    # final one below always follows the paper's protocol.
    model.eval_predict_samples = config.get("eval_predict_samples")
    every = config.get("eval_every_epochs") or 1
    history, wall = _fit(model, train, workdir, config, validation=test, callbacks=callbacks,
                         steps_per_epoch=steps_per_epoch,
                         validation_freq=validation_epochs(config.num_epochs, every))
    model.eval_predict_samples = None
    final = model.evaluate(test, return_dict=True, verbose=0)
    metrics = _run_metrics(config, final, history, wall, resumed_at)
    write_json(os.path.join(workdir, "metrics.json"), metrics)
    _semi_supervised_figures(model, data, history, workdir)
    export_saved_model(model, os.path.join(workdir, "saved_model"), data.feature_indices,
                       data.raw_input_dim)
    return metrics


def _run_metrics(config: ml_collections.ConfigDict, final: dict[str, Any],
                 history: dict[str, list[float]], wall: float, resumed_at: int) -> dict[str, Any]:
    """metrics.json: the final evaluation and the run's time, this invocation's (from its
    resumed epoch on) and every epoch's in history.csv (earlier invocations too)."""
    return {
        "model": config.model,
        "dataset": config.dataset,
        "test_error": float(final["error"]),
        "test_bound": float(final["bound"]),
        "epochs": len(history.get("epoch", [])),
        "train_wall_time_s": round(wall, 1),
        "seconds_per_epoch": round(wall / max(1, config.num_epochs - resumed_at), 3),
        "resumed_after_epoch": resumed_at,
        "epoch_time_total_s": round(float(np.nansum(history.get("epoch_time_s", []))), 1),
        "speed": {k: config.get(k) for k in ("dtype_policy", "threads", "steps_per_execution",
                                             "eval_every_epochs", "jit_compile")},
    }


def _unlabeled_order(config: ml_collections.ConfigDict) -> str:
    """config.unlabeled_order, or the default where an older config lacks it."""
    return config.get("unlabeled_order", datasets.DEFAULT_UNLABELED_ORDER)


def _steps_per_epoch(config: ml_collections.ConfigDict, num_unlabeled: int) -> int:
    """An epoch's steps (one pass over the unlabeled examples), refused unless
    steps_per_execution divides them."""
    steps = num_unlabeled // config.batch_size
    per_call = config.get("steps_per_execution") or 1
    if steps % per_call:
        raise ValueError(
            f"steps_per_execution ({per_call}) must divide the {steps} steps of an "
            f"epoch ({num_unlabeled} unlabeled examples / batch_size "
            f"{config.batch_size}); choose a divisor such as 1, 2, 5 or 10 where it divides.")
    return steps


def _semi_supervised_rows(config, data, model, steps_per_epoch: int) -> list[tuple[str, str]]:
    """The model, data and training lines of the run's summary (`print_run`)."""
    order = _unlabeled_order(config)
    if order == "by_class":
        order += " (the order carries the unlabeled images' classes: no semi-supervised result)"
    return [
        ("model", f"{type(model).__name__} ({config.model}), {config.likelihood or data.likelihood} "
                  f"likelihood, hidden {tuple(config.hidden_sizes)}, dim(a) {config.a_dim}, "
                  f"dim(z) {config.z_dim}, {config.num_samples} sample(s) of a and z"),
        ("data", f"{config.dataset}: {len(data.x_labeled)} labeled, {len(data.x_unlabeled)} "
                 f"unlabeled, {len(data.x_test)} test, {data.input_dim} inputs, "
                 f"{data.num_classes} classes"),
        ("training", f"{config.num_epochs} epochs of {steps_per_epoch} steps, batches of "
                     f"{config.labeled_batch_size} labeled + {config.batch_size} unlabeled, "
                     f"Adam {config.learning_rate:g}, beta {config.beta:g}, unlabeled {order}"),
    ]


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
        runs = [_fit_potential(config, workdir, label, auxiliary, seed) for seed in seeds]
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


def _fit_potential(config: ml_collections.ConfigDict, workdir: str, label: str,
                   auxiliary: bool, seed: int) -> dict[str, Any]:
    """One fit of the potential from `seed`: its bound, modes and samples; a diverged fit
    (among several restarts) gives a NaN bound instead of stopping the experiment."""
    keras.utils.set_random_seed(seed)
    model = PotentialFit(
        potential=config.potential, auxiliary=auxiliary, a_dim=config.a_dim,
        hidden_sizes=tuple(config.hidden_sizes), num_samples=config.num_samples,
        seed=seed, init_std=config.get("init_std"),
    )
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate))
    restarts = config.get("num_restarts", 1)
    name = label if restarts == 1 else f"{label}_seed{seed}"
    steps = tf.data.Dataset.from_tensors(tf.zeros(())).repeat()
    try:
        history, wall = _fit(model, steps, plots.ensure_dir(os.path.join(workdir, name)), config)
    except FloatingPointError as e:  # a diverged restart is reported, not fatal
        if restarts == 1:
            raise
        print(f"{label}, seed {seed}: {e}")
        return dict(seed=seed, bound=float("nan"), diverged=True)
    z, log_w = model.sample(config.num_eval_samples)
    z = z.numpy()
    return dict(seed=seed, bound=float(np.mean(log_w)), diverged=False,
                bound_stderr=float(np.std(log_w) / np.sqrt(len(log_w))),
                mode_shares=mode_shares(z), both_modes=finds_both_modes(z),
                train_wall_time_s=round(wall, 1), samples=z, history=history["bound"])


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
    why = config.get("speed_choices") or {}

    def chosen(key, text):  # says when the machine chose the setting (`speed`)
        return f"{text} (auto: {why[key]})" if key in why else text

    speed = [chosen("dtype_policy", config.get("dtype_policy", "float32")),
             chosen("threads", f"{threads} thread(s) per op" if threads
                    else "TensorFlow's threads per op"),
             chosen("steps_per_execution", f"{per_call} step(s) per call"),
             "XLA" if config.get("jit_compile") else "no XLA"]
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


def set_threads(threads: int, required: bool = True) -> bool:
    """Runs each TensorFlow op on at most `threads` threads; before TensorFlow starts.
    Returns whether it could; where it could not, raises if `required`.

    On a 2-core machine one thread per op is faster than two for the MNIST step: independent
    ops then run side by side, one per core, on TensorFlow's inter-op threads (BENCHMARKS.md).
    """
    if tf.config.threading.get_intra_op_parallelism_threads() == threads:
        return True
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError as e:
        if not required:
            return False
        raise RuntimeError(
            f"Cannot set threads={threads}: TensorFlow has already started in this process. "
            "Set config.threads in a fresh process (bin/train.py does so first)."
        ) from e
    return True


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
    given = config
    config = speed.resolve(config)  # precision and threads, where left to the machine
    if config.get("threads"):
        chosen = "threads" in config.speed_choices
        if not set_threads(config.threads, required=not chosen):  # TensorFlow had started
            config.speed_choices.threads = "TensorFlow had started in this process: its own"
    name = config.get("strategy", "default")
    strategy = distribute.make_strategy(name, config.get("logical_cpus") or 0)
    chief = distribute.is_chief(strategy)
    if chief:
        os.makedirs(workdir, exist_ok=True)
        console.move_native_log(workdir)  # a script's TensorFlow log (console.py)
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(given.to_json_best_effort(indent=2))  # as given: "auto" stays
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
