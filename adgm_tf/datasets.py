"""Semi-supervised data sets: a few labeled examples, many unlabeled ones, a test set.

Each loader takes the experiment's `config.data` and returns a `SemiSupervisedData`;
`LOADERS` maps `config.dataset` to its loader.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import ml_collections
import numpy as np
from sklearn import datasets as sk_datasets

from adgm_tf import mnist, preprocessing, raw_formats
from adgm_tf.input_pipeline import check_features, check_labels, check_support


@dataclasses.dataclass(frozen=True)
class SemiSupervisedData:
    """Arrays of one experiment; the unlabeled set may contain the labeled examples.

    The inputs are model-ready float32, except where `preprocess` is set (SVHN, whose training
    set would not fit in memory as float32): x_labeled and x_unlabeled then hold raw values
    (uint8 pixels) that training turns into model inputs one batch at a time, with
    `semi_supervised_dataset(..., preprocess=data.preprocess)`. x_test is always model-ready.
    """

    x_labeled: np.ndarray  # [N_l, D] float32 (raw, e.g. uint8, when preprocess is set)
    y_labeled: np.ndarray  # [N_l] int32
    x_unlabeled: np.ndarray  # [N_u, D] float32 (raw, e.g. uint8, when preprocess is set)
    x_test: np.ndarray  # [N_t, D] float32, model-ready
    y_test: np.ndarray  # [N_t] int32
    num_classes: int
    likelihood: str  # the observation model the data suits: "bernoulli" or "gaussian"
    # Indices of the raw input's features that x keeps (None: all); serving applies them.
    feature_indices: np.ndarray | None = None
    raw_input_dim: int | None = None  # the raw input's size when features were dropped
    # (raw batch [B, D], seed [2] int tensor) -> model inputs float32 [B, D]; None: none needed
    preprocess: Callable | None = None
    # One input as (planes, height, width) for pictures; None: one square grey image
    image_shape: tuple[int, int, int] | None = None
    # The unlabeled examples' true classes where the data set has them (None: unknown). They
    # never reach the loss; only config.unlabeled_order="by_class" reads them, to order batches.
    y_unlabeled: np.ndarray | None = None

    def __post_init__(self):
        d = self.x_labeled.shape[1] if self.x_labeled.ndim == 2 else None
        check_features(self.x_labeled, "x_labeled", dtype=None)  # checks only: no copy
        check_features(self.x_unlabeled, "x_unlabeled", d, dtype=None)
        check_features(self.x_test, "x_test", d, dtype=None)
        check_labels(self.y_labeled, self.num_classes, "y_labeled", len(self.x_labeled))
        check_labels(self.y_test, self.num_classes, "y_test", len(self.x_test))
        if self.y_unlabeled is not None:
            check_labels(self.y_unlabeled, self.num_classes, "y_unlabeled", len(self.x_unlabeled))
        check_support(self.x_test, self.likelihood, "x_test")
        if self.preprocess is None:  # else raw values; x_test shows what preprocess makes
            check_support(self.x_labeled, self.likelihood, "x_labeled")
            check_support(self.x_unlabeled, self.likelihood, "x_unlabeled")

    @property
    def input_dim(self) -> int:
        return int(self.x_labeled.shape[1])


# data.label_draw: how `draw_labeled` picks the labeled examples; the first is the value where
# a config lacks the key
LABEL_DRAWS = ("choice", "authors")
DEFAULT_LABEL_DRAW = LABEL_DRAWS[0]


def draw_labeled(y: np.ndarray, per_class: int, num_classes: int, seed: int,
                 how: str = DEFAULT_LABEL_DRAW) -> np.ndarray:
    """Indices of `per_class` examples of every class, drawn without replacement.

    how: "choice": numpy's Generator(seed) chooses each class's examples in turn. "authors":
    the draw of the authors' code (ml-lab/auxiliary-deep-generative-models,
    data_preparation/mnist.py, `_create_semi_supervised`): one legacy RandomState(seed)
    shuffles the positions of each class's examples in turn, classes 0, 1, ..., and the first
    `per_class` are taken. RandomState's stream is fixed across numpy versions, so with MNIST's
    60,000 training images in file order (their train + validation pickles, in that order,
    are the idx file's rows) and seed 123456 these are the labels behind the authors' ADGM log.

    Returns:
      [per_class * num_classes] indices into y, grouped by class, reproducible from `seed`.
    """
    if how not in LABEL_DRAWS:
        raise ValueError(f"label_draw must be one of {LABEL_DRAWS}; got {how!r}.")
    if how == "choice":
        generator = np.random.default_rng(seed)
        pick = lambda members: generator.choice(members, size=per_class, replace=False)
    else:  # RandomState.permutation: arange, then the legacy shuffle
        random_state = np.random.RandomState(seed)
        pick = lambda members: members[random_state.permutation(len(members))[:per_class]]
    picks = []
    for k in range(num_classes):
        members = np.flatnonzero(y == k)
        if len(members) < per_class:
            raise ValueError(
                f"Class {k} has {len(members)} examples; cannot draw {per_class} labels from it."
            )
        picks.append(pick(members))
    return np.concatenate(picks)


def moon_curve(label: int, t: np.ndarray) -> np.ndarray:
    """Noise-free points of moon `label` at angles t in [0, pi]: [len(t), 2]."""
    if label == 0:
        return np.stack([np.cos(t), np.sin(t)], axis=1)
    return np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)


def spread_moon_labels(x: np.ndarray, y: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the training points nearest to `per_class` evenly spaced places on each moon.

    With 3 per class these are the two ends and the middle of each moon.
    """
    picks = []
    for label in (0, 1):
        members = np.flatnonzero(y == label)
        for target in moon_curve(label, np.linspace(0.0, np.pi, per_class)):
            distance = np.sum((x[members] - target) ** 2, axis=1)
            picks.append(members[np.argmin(distance)])
    return np.asarray(picks)


def half_moons(cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """Two half-moons (paper Sec. 4.2): top (cos t, sin t), bottom (1 - cos t, 0.5 - sin t).

    Config keys: num_train, num_test, noise (std of the added Gaussian noise),
    labels_per_class, label_positions ("spread" or "random"), seed (the test set uses
    seed + 1, the random label draw seed + 2).
    """
    x, y = sk_datasets.make_moons(cfg.num_train, noise=cfg.noise, random_state=cfg.seed)
    x_test, y_test = sk_datasets.make_moons(cfg.num_test, noise=cfg.noise, random_state=cfg.seed + 1)
    if cfg.label_positions == "spread":
        idx = spread_moon_labels(x, y, cfg.labels_per_class)
    elif cfg.label_positions == "random":
        idx = draw_labeled(y, cfg.labels_per_class, 2, cfg.seed + 2)
    else:
        raise ValueError(
            f"data.label_positions must be 'spread' or 'random'; got {cfg.label_positions!r}."
        )
    return SemiSupervisedData(
        x_labeled=x[idx].astype(np.float32),
        y_labeled=y[idx].astype(np.int32),
        x_unlabeled=x.astype(np.float32),
        x_test=x_test.astype(np.float32),
        y_test=y_test.astype(np.int32),
        num_classes=2,
        likelihood="gaussian",
        y_unlabeled=y.astype(np.int32),
    )


def mnist_digits(cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """MNIST with `labels_per_class` labels per digit (paper Sec. 4.3: 10 per class).

    Config keys: data_dir (None: $ADGM_TF_DATA_DIR, else tensorflow-datasets), check_md5,
    labels_per_class, min_pixel_std (keep the pixels whose std over the training set exceeds
    it: 0.1 gives the paper's 444 inputs, 0 keeps all 784), num_train and num_test (None for
    all; a slice for quick runs), seed and label_draw (the label draw, `draw_labeled`; a config
    without label_draw draws by "choice").
    The unlabeled set is every training image, the labeled ones included; images are grey
    levels in [0, 1] (binarisation happens per step in the input pipeline).
    """
    return _idx_images(cfg, mnist.MNIST)


def fashion_mnist(cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """Fashion-MNIST (Zalando's 10 kinds of clothing), read and drawn exactly as `mnist_digits`.

    Same config keys; min_pixel_std 0.1 keeps 690 of the 784 pixels (0.05: 736).
    """
    return _idx_images(cfg, mnist.FASHION_MNIST)


def _idx_images(cfg: ml_collections.ConfigDict, spec: mnist.IdxSet) -> SemiSupervisedData:
    x, y, x_test, y_test = mnist.load_arrays(mnist.data_dir_from(cfg.data_dir), cfg.check_md5,
                                             spec)
    x, y = x[: cfg.num_train], y[: cfg.num_train]
    x_test, y_test = x_test[: cfg.num_test], y_test[: cfg.num_test]
    keep = None
    if cfg.min_pixel_std > 0:
        keep = mnist.high_variance_pixels(x, cfg.min_pixel_std)
        if len(keep) == 0:
            raise ValueError(
                f"data.min_pixel_std={cfg.min_pixel_std} drops every pixel of {spec.title}; use "
                "0.1 (MNIST: the paper's 444 pixels) or 0 (all 784)."
            )
    idx = draw_labeled(y, cfg.labels_per_class, 10, cfg.seed,
                       cfg.get("label_draw", DEFAULT_LABEL_DRAW))
    select = (lambda v: v[:, keep]) if keep is not None else (lambda v: v)
    return SemiSupervisedData(
        x_labeled=select(x[idx]),
        y_labeled=y[idx],
        x_unlabeled=select(x),
        x_test=select(x_test),
        y_test=y_test,
        num_classes=10,
        likelihood="bernoulli",
        y_unlabeled=y,
        feature_indices=keep,
        raw_input_dim=x.shape[1],
    )


def svhn_digits(cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """SVHN cropped digits with `labels_per_class` labels per digit (paper Sec. 4.3: 100).

    Config keys: data_dir (None: $ADGM_TF_DATA_DIR, else tensorflow-datasets; files as in
    `raw_formats`), include_extra (train + extra, 604,388 images, as the paper; False: train's
    73,257, for which the paper reports 29.82%), labels_per_class, num_train and num_test (None
    for all; a slice for quick runs), seed (the label draw; the test set's noise: seed + 1).

    Inputs (3072): 3 colour planes of 32 x 32; pixel + U(0, 1), divided by the std of its
    channel over the training set (`preprocessing`). The labeled and unlabeled sets stay uint8
    (1.9 GB with extra; float32 would be 7.4 GB) and `preprocess` prepares each training batch
    with fresh noise; the test set is prepared once (26,032 x 3072 float32: 320 MB). Training
    holds the uint8 set twice, in numpy and as the input pipeline's tensor: 3.7 GB measured.
    """
    x, y, x_test, y_test = raw_formats.load_svhn(
        mnist.data_dir_from(cfg.data_dir), cfg.include_extra, cfg.num_train, cfg.num_test)
    dequantize = preprocessing.svhn_dequantizer(x)
    idx = draw_labeled(y, cfg.labels_per_class, 10, cfg.seed)
    return SemiSupervisedData(
        x_labeled=x[idx],
        y_labeled=y[idx],
        x_unlabeled=x,
        x_test=dequantize.apply(x_test, cfg.seed + 1),
        y_test=y_test,
        num_classes=10,
        likelihood="gaussian",
        preprocess=dequantize,
        image_shape=(3, 32, 32),
        y_unlabeled=y,
    )


def small_norb(cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """Small NORB stereo pairs with `labels_per_class` labels per class (paper: 200 of 5).

    Config keys: data_dir (None: $ADGM_TF_DATA_DIR, else tensorflow-datasets; files as in
    `raw_formats`), resize_method (96 -> 32: "area", the mean of each 3 x 3 block; "nearest"
    as the authors' code), labels_per_class, num_train and num_test (None for all 24,300; a
    slice for quick runs), seed (the label draw; the noise: seed + 1 train, seed + 2 test).

    Inputs (2048): both images of a pair resized to 32 x 32, pixel + U(0, 1) drawn once,
    divided by 256, minus the training set's mean per input (`preprocessing`); float32,
    200 MB per set.
    """
    pairs, y, pairs_test, y_test = raw_formats.load_smallnorb(
        mnist.data_dir_from(cfg.data_dir), cfg.num_train, cfg.num_test)
    x = preprocessing.resize_pairs(pairs, 32, cfg.resize_method)
    x_test = preprocessing.resize_pairs(pairs_test, 32, cfg.resize_method)
    dequantize = preprocessing.norb_dequantizer(x)
    x, x_test = dequantize.apply(x, cfg.seed + 1), dequantize.apply(x_test, cfg.seed + 2)
    idx = draw_labeled(y, cfg.labels_per_class, 5, cfg.seed)
    return SemiSupervisedData(
        x_labeled=x[idx],
        y_labeled=y[idx],
        x_unlabeled=x,
        x_test=x_test,
        y_test=y_test,
        num_classes=5,
        likelihood="gaussian",
        image_shape=(2, 32, 32),
        y_unlabeled=y,
    )


# config.unlabeled_order: how training takes the unlabeled set (`in_unlabeled_order`); the
# first is the value where a config lacks the key
UNLABELED_ORDERS = ("shuffled", "by_class")
DEFAULT_UNLABELED_ORDER = UNLABELED_ORDERS[0]


def in_unlabeled_order(data: SemiSupervisedData, order: str) -> tuple[SemiSupervisedData, bool]:
    """`data` with its unlabeled set in the order training takes it, and whether the input
    pipeline reshuffles it every epoch.

    "shuffled": as loaded, reshuffled every epoch. "by_class": sorted by class, each class in
    its loaded order, the same order every epoch, as the authors' early ADGM code (the log
    that reaches 1.59% at epoch 200) took it: nearly every unlabeled batch holds one class, and
    the classes follow each other in the same order every epoch. The loss never sees the
    classes; but their code read the unlabeled bound's samples across the images of a batch
    (`bounds.authors_sample_layout`), so with several samples, in this order, their loss
    pulled each unlabeled image towards its batch's class, and their log classifies its
    unlabeled images far better than new ones (BENCHMARKS.md). For reproducing that log,
    not for semi-supervised results.
    """
    if order == "shuffled":
        return data, True
    if order != "by_class":
        raise ValueError(f"unlabeled_order must be one of {UNLABELED_ORDERS}; got {order!r}.")
    if data.y_unlabeled is None:
        raise ValueError("unlabeled_order='by_class' needs the unlabeled set's classes, which "
                         "this data set does not give; use unlabeled_order='shuffled'.")
    idx = np.argsort(data.y_unlabeled, kind="stable")
    return dataclasses.replace(data, x_unlabeled=data.x_unlabeled[idx],
                               y_unlabeled=data.y_unlabeled[idx]), False


LOADERS: dict[str, Callable[[ml_collections.ConfigDict], SemiSupervisedData]] = {
    "moons": half_moons,
    "mnist": mnist_digits,
    "fashion_mnist": fashion_mnist,
    "svhn": svhn_digits,
    "norb": small_norb,
}


def load(name: str, cfg: ml_collections.ConfigDict) -> SemiSupervisedData:
    """The data set `name` built from its config section."""
    if name not in LOADERS:
        raise ValueError(f"Unknown dataset {name!r}; choose one of {sorted(LOADERS)}.")
    return LOADERS[name](cfg)
