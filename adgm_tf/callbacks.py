"""The callbacks of a training run, in the order `train` puts them before Keras' own.

  EpochTimer           each epoch's wall time and its evaluation's, into the logs
  GenerativeSummaries  TensorBoard's per-unit KL histograms and class samples, and whether
                       `a` is used, into the logs
  KLWarmup             the warm-up of the a and z terms' weight (`config.kl_warmup_epochs`)
  NonFiniteGuard       stops (or rolls back) a run whose loss became NaN or infinite
"""

from __future__ import annotations

import os
import time

import keras
import numpy as np
import tensorflow as tf

from adgm_tf import datasets, latents

NON_FINITE_POLICIES = ("stop", "rollback")


class EpochTimer(keras.callbacks.Callback):
    """Adds the epoch's wall time (its steps, its evaluation and the end-of-epoch work of the
    callbacks before it, such as `GenerativeSummaries`) to the logs as
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
