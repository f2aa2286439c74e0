"""Config validation: what a config may hold, checked before any data is read or work done.

`check_config` refuses impossible values in one config; `check_workdir` refuses a workdir
whose run used a different config (a resumed run may change only `RESUMABLE_KEYS`).
"""

from __future__ import annotations

import json
import os

import ml_collections

from adgm_tf import distribute
from adgm_tf.callbacks import NON_FINITE_POLICIES
from adgm_tf.datasets import (DEFAULT_LABEL_DRAW, DEFAULT_UNLABELED_ORDER, LABEL_DRAWS,
                              UNLABELED_ORDERS)
from adgm_tf.models import (BATCH_NORM_STATS, DEFAULT_UNLABELED_SAMPLE_LAYOUT,
                            UNLABELED_SAMPLE_LAYOUTS)
from adgm_tf.speed import AUTO
from adgm_tf.workdir import CHECKPOINT_DIR, WEIGHTS_FILE

DTYPE_POLICIES = ("float32", "mixed_bfloat16")  # the Keras dtype policies a config may name
# (or "auto": the machine's, `speed`)

# Keys a resumed run may change; any other difference means a different run.
RESUMABLE_KEYS = ("num_epochs", "progress_bar", "dtype_policy", "jit_compile", "strategy",
                  "logical_cpus", "threads", "steps_per_execution",
                  "eval_batch_size", "on_non_finite", "eval_every_epochs",
                  "eval_predict_samples")


# Keys added to the configs after runs were started (a dot names a section's key), with the
# value that leaves the run as it was: a workdir whose config.json lacks one resumes when the
# new config keeps it.
ADDED_KEYS = {"a_free_bits": 0.0, "unlabeled_order": DEFAULT_UNLABELED_ORDER,
              "data.label_draw": DEFAULT_LABEL_DRAW,
              "unlabeled_sample_layout": DEFAULT_UNLABELED_SAMPLE_LAYOUT}


# the loaders that read data.label_draw (`datasets.draw_labeled`)
LABEL_DRAW_DATASETS = ("mnist", "fashion_mnist")

# key (a dot names a section's key): (the value where a config lacks it, the values it may take)
CHOICES = {
    "on_non_finite": ("stop", NON_FINITE_POLICIES),
    "dtype_policy": ("float32", DTYPE_POLICIES + (AUTO,)),
    "batch_norm_stats": ("unlabeled", BATCH_NORM_STATS),
    "unlabeled_order": (DEFAULT_UNLABELED_ORDER, UNLABELED_ORDERS),
    "data.label_draw": (DEFAULT_LABEL_DRAW, LABEL_DRAWS),
    "unlabeled_sample_layout": (DEFAULT_UNLABELED_SAMPLE_LAYOUT, UNLABELED_SAMPLE_LAYOUTS),
}


def _lookup(config, dotted: str, default):
    """config[dotted] (a dot names a section's key), or `default` where a section lacks it."""
    *sections, key = dotted.split(".")
    for section in sections:
        config = config.get(section) or {}
    return config.get(key, default)


def check_config(config: ml_collections.ConfigDict) -> None:
    """Refuses impossible values before any data is read or work is done."""
    problems = []
    positive = ("num_epochs", "learning_rate", "batch_size", "num_samples", "eval_batch_size",
                "num_restarts", "steps_per_execution",
                "labeled_batch_size", "steps_per_epoch", "num_predict_samples",
                "num_eval_samples", "eval_every_epochs", "eval_predict_samples")
    for key in positive:
        if key in config and config[key] is not None and not config[key] > 0:
            problems.append(f"{key} must be positive, got {config[key]}")
    for key, (default, choices) in CHOICES.items():
        if (value := _lookup(config, key, default)) not in choices:
            problems.append(f"{key} must be one of {choices}, got {value!r}")
    label_draw = _lookup(config, "data.label_draw", DEFAULT_LABEL_DRAW)
    if label_draw in LABEL_DRAWS[1:] and config.get("dataset") not in LABEL_DRAW_DATASETS:
        problems.append(f"data.label_draw={label_draw!r} is read by the {LABEL_DRAW_DATASETS} "
                        f"loaders only; {config.get('dataset')!r} draws its labels its own way")
    for key in ("threads", "beta", "kl_warmup_epochs", "weight_prior", "global_clipnorm",
                "elementwise_clipvalue", "x_var_floor", "a_free_bits"):
        if key in config and config[key] is not None and not config[key] >= 0:
            problems.append(f"{key} must be non-negative, got {config[key]}")
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
    if problems:
        raise ValueError("Impossible config: " + "; ".join(problems) + ".")


def _with_added_keys(config: dict) -> dict:
    """A config.json's dict with each of `ADDED_KEYS` it lacks at its neutral value (a run
    started before a key existed had that value)."""
    filled = json.loads(json.dumps(config))
    for dotted, value in ADDED_KEYS.items():
        *sections, key = dotted.split(".")
        node = filled
        for section in sections:
            node = node.setdefault(section, {})
        node.setdefault(key, value)
    return filled


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
    old, new = _with_added_keys(old), _with_added_keys(new)
    diffs = [f"{k}={old.get(k)!r} there but {new.get(k)!r} here"
             for k in sorted(set(old) | set(new))
             if k not in RESUMABLE_KEYS and old.get(k) != new.get(k)]
    if diffs:
        raise ValueError(
            f"{workdir} holds a different run ({'; '.join(diffs)}). Use a new --workdir, or "
            f"delete {workdir} to start over."
        )
