"""tf.data pipelines that feed the semi-supervised `train_step`.

Every step sees one labeled batch (the small labeled set, repeated and reshuffled) and one
unlabeled batch; an epoch is one pass over the unlabeled set, reshuffled every epoch (or, as
in the authors' early code, in one fixed order).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf


def check_features(x: np.ndarray, name: str, input_dim: int | None = None,
                   dtype: type | None = np.float32) -> np.ndarray:
    """Returns x as `dtype` [N, D] (None: as it is, no copy) after refusing empty, misshapen or
    non-finite input."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [examples, features]; got shape {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one example.")
    if input_dim is not None and x.shape[1] != input_dim:
        raise ValueError(
            f"{name} has {x.shape[1]} features per example but the model expects {input_dim}."
        )
    if not np.issubdtype(x.dtype, np.number):
        raise ValueError(f"{name} must be numeric; got dtype {x.dtype}.")
    if not np.issubdtype(x.dtype, np.integer):  # integers are always finite
        bad = ~np.isfinite(x)
        if bad.any():
            rows = np.unique(np.nonzero(bad)[0])
            raise ValueError(
                f"{name} holds {bad.sum()} NaN or infinite values (first in example {rows[0]}, "
                f"{len(rows)} examples affected); clean or drop them before training."
            )
    return x if dtype is None else x.astype(dtype)


# likelihood -> the interval its observations must lie in
SUPPORTS = {"bernoulli": (0.0, 1.0), "gaussian": (-np.inf, np.inf)}


def check_support(x: np.ndarray, likelihood: str, name: str) -> None:
    """Refuses inputs outside the support of the likelihood p(x|.) that will model them.

    Bernoulli: values in [0, 1] (grey levels, or 0/1 after binarisation). Gaussian: any finite
    value. Non-finite values are refused for both.
    """
    if likelihood not in SUPPORTS:
        raise ValueError(f"Unknown likelihood {likelihood!r}; choose one of {sorted(SUPPORTS)}.")
    x = np.asarray(x)
    if x.size == 0:
        return
    lo, hi = SUPPORTS[likelihood]
    x_min, x_max = x.min(), x.max()  # NaN when any value is NaN
    if not (np.isfinite(x_min) and np.isfinite(x_max)):
        raise ValueError(f"{name} holds NaN or infinite values; clean or drop them first.")
    if x_min < lo or x_max > hi:
        hint = ("0-255 pixel values? Divide them by 255" if x_min >= 0 and x_max <= 255
                else "scale them into [0, 1]")
        raise ValueError(
            f"{name} holds values from {x_min} to {x_max}, outside [{lo:g}, {hi:g}], the support "
            f"of a {likelihood} likelihood: {hint}, or model them with likelihood='gaussian'."
        )


def check_first_batch(data, likelihood: str, route: str) -> None:
    """Refuses data outside the support of `likelihood`, read from its first batch, once.

    The check where the Python API meets the data (`DeepGenerativeModel.fit`, `evaluate`,
    `predict`): `data` is what the caller passed, a `tf.data.Dataset` (its first element is
    read through a fresh iterator of its own), an array or tensor (checked whole), a dict
    of them, or an (x, y) tuple. The inputs checked are a dict's "x_labeled" and
    "x_unlabeled" and otherwise x, the first item of a tuple. Other sources (Python
    generators, `keras.utils.PyDataset`, distributed datasets) cannot be read ahead without
    consuming them, and are passed over.
    """
    if isinstance(data, tf.data.Dataset):
        data = next(iter(data.take(1)), None)
        where = "first batch"
    elif isinstance(data, (np.ndarray, tf.Tensor, dict, tuple, list)):
        where = "whole"
    else:
        return
    if isinstance(data, dict):
        inputs = {k: data[k] for k in ("x_labeled", "x_unlabeled") if k in data}
    elif isinstance(data, tuple) and data:
        inputs = {"x": data[0]}
    else:
        inputs = {"x": data}
    for name, x in inputs.items():
        if x is None or isinstance(x, dict):
            continue
        x = x.numpy() if isinstance(x, tf.Tensor) else np.asarray(x)
        if np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_:
            check_support(x, likelihood, f"{route}: {name} ({where})")


def check_labels(y: np.ndarray, num_classes: int, name: str, num_examples: int) -> np.ndarray:
    """Returns y as int32 [N] after refusing labels outside [0, num_classes) or misshapen."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != num_examples:
        raise ValueError(
            f"{name} must be a 1-D array of {num_examples} class indices; got shape {y.shape}."
        )
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.isfinite(y)) or np.any(y != np.round(y)):
            raise ValueError(f"{name} must hold integer class indices; got dtype {y.dtype}.")
    if y.min() < 0 or y.max() >= num_classes:
        raise ValueError(
            f"{name} must lie in [0, {num_classes}); found labels from {y.min()} to {y.max()}."
        )
    return y.astype(np.int32)


def semi_supervised_dataset(
    x_labeled: np.ndarray,
    y_labeled: np.ndarray,
    x_unlabeled: np.ndarray,
    batch_size: int = 100,
    labeled_batch_size: int | None = None,
    num_classes: int | None = None,
    seed: int = 0,
    binarize: bool = False,
    first_epoch: int | None = None,
    preprocess: Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None = None,
    likelihood: str | None = None,
    shuffle_unlabeled: bool = True,
) -> tf.data.Dataset:
    """A dataset of training steps for `DeepGenerativeModel.fit`.

    Args:
      x_labeled: [N_l, D] labeled inputs; y_labeled: [N_l] class indices in [0, K).
      x_unlabeled: [N_u, D] unlabeled inputs (may include the labeled ones, as in the paper).
      batch_size: unlabeled examples per step; an epoch is N_u // batch_size steps.
      labeled_batch_size: labeled examples per step; default min(N_l, batch_size).
      num_classes: K; default max(y_labeled) + 1. Every class needs at least one label.
      seed: seed of the shuffling and binarisation.
      binarize: replace every pixel value p in [0, 1] by a fresh Bernoulli(p) draw at every
        step (the paper's dynamic binarisation of MNIST).
      first_epoch: None gives one epoch per iteration of the dataset, reshuffled at every
        iteration (for `model.fit(ds, epochs=...)`). An integer gives an endless stream of
        epochs first_epoch, first_epoch + 1, ... (use `steps_per_epoch`): epoch e's order
        and binarisation depend only on (seed, e), so a run resumed at epoch e sees the same
        data as an uninterrupted one.
      preprocess: for inputs stored raw (SemiSupervisedData.preprocess: SVHN's uint8 pixels),
        a function (raw batch [B, D], seed [2] int) -> float32 [B, D] applied to every labeled
        and unlabeled batch, seeded like the binarisation. x_labeled and x_unlabeled then stay
        in their own dtype on the host and in the dataset (SVHN: 1 byte per value, not 4).
      likelihood: the model's p(x|.) ("bernoulli" or "gaussian"): refuses inputs outside its
        support here, before any work (0-255 pixels for a Bernoulli model). The model checks
        the first batch of `fit` too; naming it here points the message at the arrays.
      shuffle_unlabeled: False takes the unlabeled batches in x_unlabeled's own order, the
        same every epoch (the authors' early ADGM code; `datasets.in_unlabeled_order`).

    Returns:
      A dataset of dicts {"x_labeled": [B_l, D] float32, "y_labeled": [B_l] int32,
      "x_unlabeled": [B_u, D] float32}, prefetched.
    """
    x_labeled, y_labeled, x_unlabeled = _checked_inputs(
        x_labeled, y_labeled, x_unlabeled, batch_size, num_classes, binarize, preprocess,
        likelihood)
    labeled_batch_size = labeled_batch_size or min(len(x_labeled), batch_size)
    return _training_steps(x_labeled, y_labeled, x_unlabeled, batch_size, labeled_batch_size,
                           seed, binarize, first_epoch, preprocess, shuffle_unlabeled)


def _checked_inputs(x_labeled, y_labeled, x_unlabeled, batch_size, num_classes, binarize,
                    preprocess, likelihood):
    """`semi_supervised_dataset`'s arguments checked: the arrays as the dataset holds them
    (float32, or their own dtype when `preprocess` turns raw batches into inputs)."""
    raw = None if preprocess is not None else np.float32  # raw inputs keep their dtype
    for name, x in (("x_labeled", x_labeled), ("x_unlabeled", x_unlabeled)):
        if preprocess is None and np.asarray(x).dtype == np.uint8:
            raise ValueError(
                f"{name} holds raw uint8 values: pass preprocess=data.preprocess (the "
                "SemiSupervisedData's) to turn each batch into model inputs."
            )
    if binarize and preprocess is not None:
        raise ValueError("binarize=True and preprocess are alternatives; pass one of them.")
    x_labeled = check_features(x_labeled, "x_labeled", dtype=raw)
    x_unlabeled = check_features(x_unlabeled, "x_unlabeled", x_labeled.shape[1], dtype=raw)
    if likelihood is not None and preprocess is None:  # raw inputs: checked after preprocess
        check_support(x_labeled, likelihood, "x_labeled")
        check_support(x_unlabeled, likelihood, "x_unlabeled")
    k = int(num_classes) if num_classes is not None else int(np.max(y_labeled)) + 1
    y_labeled = check_labels(y_labeled, k, "y_labeled", x_labeled.shape[0])
    missing = sorted(set(range(k)) - set(y_labeled.tolist()))
    if missing:
        raise ValueError(
            f"Classes {missing} have no labeled example; semi-supervised training needs at "
            f"least one label per class (got {len(y_labeled)} labels for {k} classes)."
        )
    if batch_size < 1 or batch_size > len(x_unlabeled):
        raise ValueError(
            f"batch_size must lie in [1, {len(x_unlabeled)}] (the unlabeled set's size); "
            f"got {batch_size}."
        )
    if binarize:
        for name, x in (("x_labeled", x_labeled), ("x_unlabeled", x_unlabeled)):
            if x.min() < 0 or x.max() > 1:
                raise ValueError(
                    f"binarize=True samples Bernoulli(x), so {name} must lie in [0, 1]; found "
                    f"values from {x.min()} to {x.max()}. Scale the inputs first."
                )
    return x_labeled, y_labeled, x_unlabeled


def _training_steps(x_labeled, y_labeled, x_unlabeled, batch_size, labeled_batch_size, seed,
                    binarize, first_epoch, preprocess, shuffle_unlabeled) -> tf.data.Dataset:
    """The dataset of `semi_supervised_dataset` from checked arrays."""
    steps = len(x_unlabeled) // batch_size
    labeled_rounds = -(-steps * labeled_batch_size // len(x_labeled))  # ceil
    x_l, y_l, x_u = tf.constant(x_labeled), tf.constant(y_labeled), tf.constant(x_unlabeled)

    def one_epoch(epoch):
        """The steps of `epoch`: permutations drawn from (seed, epoch) only."""
        epoch = tf.cast(epoch, tf.int64)
        unlabeled = tf.range(len(x_unlabeled))
        if shuffle_unlabeled:
            unlabeled = tf.random.experimental.stateless_shuffle(
                unlabeled, seed=tf.stack([seed, epoch]))
        unlabeled = unlabeled[: steps * batch_size]
        labeled = tf.concat([
            tf.random.experimental.stateless_shuffle(
                tf.range(len(x_labeled)), seed=tf.stack([seed + 1 + r, epoch]))
            for r in range(labeled_rounds)
        ], 0)[: steps * labeled_batch_size]
        return tf.data.Dataset.from_tensor_slices((
            tf.reshape(labeled, (steps, labeled_batch_size)),
            tf.reshape(unlabeled, (steps, batch_size)),
            tf.range(steps, dtype=tf.int64) + epoch * steps,  # global step: binarisation seed
        ))

    def gather(labeled, unlabeled, step):
        out = {"x_labeled": tf.gather(x_l, labeled), "y_labeled": tf.gather(y_l, labeled),
               "x_unlabeled": tf.gather(x_u, unlabeled)}
        if binarize:
            out["x_labeled"] = bernoulli_sample(out["x_labeled"], tf.stack([seed + 7, step]))
            out["x_unlabeled"] = bernoulli_sample(out["x_unlabeled"], tf.stack([seed + 8, step]))
        if preprocess is not None:
            out["x_labeled"] = preprocess(out["x_labeled"], tf.stack([seed + 7, step]))
            out["x_unlabeled"] = preprocess(out["x_unlabeled"], tf.stack([seed + 8, step]))
        return out

    if first_epoch is None:  # a fresh random epoch number at every iteration
        epochs = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).take(1)
    else:
        epochs = tf.data.Dataset.range(int(first_epoch), 2**31)
    dataset = (
        epochs.flat_map(one_epoch)
        .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(tf.data.AUTOTUNE)
    )
    if preprocess is not None:
        # tf.data's default graph rewrites copy the captured arrays whenever an iterator is
        # made (SVHN: 1.9 GB more); without them the arrays live twice, in numpy and in x_u.
        options = tf.data.Options()
        options.experimental_optimization.apply_default_optimizations = False
        dataset = dataset.with_options(options)
    return dataset


def bernoulli_sample(x: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A {0, 1} image with P(pixel = 1) = x, reproducible from the [2] int seed."""
    return tf.cast(tf.random.stateless_uniform(tf.shape(x), seed) < x, x.dtype)


def labeled_dataset(x: np.ndarray, y: np.ndarray, batch_size: int,
                    likelihood: str | None = None) -> tf.data.Dataset:
    """(x, y) batches for `evaluate` / validation, in order; `likelihood` as in
    `semi_supervised_dataset`."""
    if likelihood is not None:
        check_support(x, likelihood, "x")
    return tf.data.Dataset.from_tensor_slices((x.astype(np.float32), y.astype(np.int32))).batch(
        batch_size
    )
