"""SVHN (cropped digits) and small NORB read from their original files, checked as they are read.

Where the files are looked for, in order: the config's `data.data_dir`; the environment
variable `ADGM_TF_DATA_DIR`; else tensorflow-datasets (`svhn_cropped`, `smallnorb`). In a data
directory DIR the files may lie in DIR/svhn/ (NORB: DIR/smallnorb/) or DIR itself:
- SVHN: train_32x32.mat, test_32x32.mat, extra_32x32.mat (MATLAB files; .gz also read) with
  `X` [32, 32, 3, N] uint8 and `y` [N, 1] labels 1..10, where 10 means digit 0;
- small NORB: smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat}.mat and
  smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat}.mat, gzipped or not, in the NORB binary
  matrix format (`read_norb_matrix`): dat [N, 2, 96, 96] uint8 stereo pairs, cat [N] int32
  labels 0..4 (animal, human, airplane, truck, car). The -info files (instance, elevation,
  azimuth, lighting) are not needed for classification; `read_norb_matrix` reads them too.

Why not tensorflow-datasets for local files: its builders do work offline (tried with 4.9.10:
they take the files from tfds' manual directory, ~/tensorflow_datasets/downloads/manual/, before
any download), but only from the exact original files (the size and SHA-256 of each are
checked; NORB only as the hosted .mat.gz), so not from other copies, slices or test fixtures, and
they first rewrite every image as PNG into their own TFRecord copy (SVHN: 630,000 images, the
1.3 GB extra file read whole) that is decoded again on loading. Reading the two formats here is
a few dozen lines. tensorflow-datasets remains the fallback when no data directory is set: it
downloads, or builds offline from its manual directory if the original files lie there.

Both readers return uint8 pixels; `preprocessing` turns them into the paper's Gaussian inputs.
Memory: SVHN train + extra is 604,388 x 3072 uint8 = 1.9 GB; reading the extra file (1.6 GB of
pixels) and appending it to train peaks at about 4 GB, once. Small NORB's dat files (448 MB
each) are memory-mapped when not gzipped.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
import scipy.io

from adgm_tf.mnist import DATA_DIR_ENV, DataError, find_file, load_tfds, read_raw

SVHN_FOLDERS = ("svhn",)
NORB_FOLDERS = ("smallnorb", "norb")
NORB_FILES = {
    "train": "smallnorb-5x46789x9x18x6x2x96x96-training-{}.mat",
    "test": "smallnorb-5x01235x9x18x6x2x96x96-testing-{}.mat",
}
# NORB binary matrix magic numbers -> element dtype (little-endian)
NORB_DTYPES = {0x1E3D4C55: np.dtype(np.uint8), 0x1E3D4C54: np.dtype("<i4")}

SVHN_HELP = (
    "Put the original SVHN cropped-digit files train_32x32.mat, test_32x32.mat and "
    "extra_32x32.mat (http://ufldl.stanford.edu/housenumbers/) in the data directory or its "
    f"svhn/ subdirectory (set data.data_dir or {DATA_DIR_ENV}), or set data.include_extra=False "
    "to train without the extra file."
)
NORB_HELP = (
    "Put the original small NORB files smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat}.mat "
    "and smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat}.mat, gzipped or not "
    "(https://cs.nyu.edu/~ylclab/data/norb-v1.0-small/), in the data directory or its "
    f"smallnorb/ subdirectory (set data.data_dir or {DATA_DIR_ENV})."
)


# --- SVHN -----------------------------------------------------------------------------------


def read_svhn_mat(path: str) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN file: images as a view [N, 3, 32, 32] (colour planes first) and digits [N].

    Returns:
      x: uint8 [N, 3, 32, 32], a strided view of the file's X [32, 32, 3, N] (no copy);
      y: int32 [N] digits 0..9 (the file's label 10 is digit 0).
    Raises:
      DataError naming the file: unreadable, truncated, or not holding X and y as above.
    """
    try:
        with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
            mat = scipy.io.loadmat(f, variable_names=["X", "y"])
    except Exception as e:  # scipy raises OSError, ValueError, IndexError or MatReadError
        raise DataError(
            f"Cannot read {path} as a MATLAB file ({type(e).__name__}: {e}); it is truncated "
            f"or corrupt. Replace it. {SVHN_HELP}"
        ) from e
    x, y = mat.get("X"), mat.get("y")
    if x is None or y is None:
        raise DataError(f"{path} lacks the variable X or y of an SVHN cropped-digit file.")
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[:3] != (32, 32, 3):
        raise DataError(
            f"{path}: X has shape {x.shape} and dtype {x.dtype}; SVHN's is [32, 32, 3, N] uint8."
        )
    y = np.asarray(y).reshape(-1)
    if len(y) != x.shape[3]:
        raise DataError(f"{path} holds {x.shape[3]} images but {len(y)} labels.")
    if len(y) and (y.min() < 1 or y.max() > 10):
        raise DataError(
            f"{path}: labels run from {y.min()} to {y.max()}; SVHN's are 1..10 (10: digit 0)."
        )
    return x.transpose(3, 2, 0, 1), (y % 10).astype(np.int32)


def load_svhn(data_dir: str | None, include_extra: bool = True, num_train: int | None = None,
              num_test: int | None = None):
    """SVHN as uint8 vectors: (x [N, 3072], y [N], x_test [N_t, 3072], y_test [N_t]).

    Args:
      data_dir: the folder of the .mat files (None: tensorflow-datasets).
      include_extra: the training set is train + extra (604,388 images), else train (73,257).
      num_train, num_test: keep the first so many (None: all); extra is then only read if
        train has fewer images than num_train.
    Returns:
      Vectors of 3 colour planes of 32 x 32 pixels (red, green, blue), uint8; digits int32.
    """
    if data_dir is None:
        return _svhn_from_tfds(include_extra, num_train, num_test)
    if not os.path.isdir(data_dir):
        raise DataError(f"The SVHN data directory {data_dir} does not exist. {SVHN_HELP}")
    x_test, y_test = read_svhn_mat(find_file(data_dir, "test_32x32.mat", SVHN_FOLDERS, SVHN_HELP))
    x_test, y_test = _flat(x_test[:num_test]), y_test[:num_test]
    names = ["train_32x32.mat", "extra_32x32.mat"] if include_extra else ["train_32x32.mat"]
    parts, wanted = [], num_train if num_train is not None else np.inf
    for name in names:
        if wanted <= 0:
            break
        x, y = read_svhn_mat(find_file(data_dir, name, SVHN_FOLDERS, SVHN_HELP))
        keep = int(min(len(y), wanted))
        parts.append((_flat(x[:keep]), y[:keep]))
        wanted -= keep
        del x  # the whole file's X, before the next one is read
    x = np.concatenate([p[0] for p in parts]) if len(parts) > 1 else parts[0][0]
    y = np.concatenate([p[1] for p in parts])
    return x, y, x_test, y_test


def _flat(x: np.ndarray) -> np.ndarray:
    """[N, 3, 32, 32] (any strides) -> a contiguous uint8 copy [N, 3072]."""
    return np.ascontiguousarray(x).reshape(len(x), -1)


def _svhn_from_tfds(include_extra, num_train, num_test):
    splits = ["train", "test"] + (["extra"] if include_extra else [])
    arrays = load_tfds("svhn_cropped", splits, "the original SVHN .mat files")
    train, test = arrays[::2], arrays[1]  # train (and extra); test
    x = np.concatenate([_flat(a["image"].transpose(0, 3, 1, 2)) for a in train])  # HWC -> planes
    y = np.concatenate([a["label"] for a in train]).astype(np.int32)
    x_test = _flat(test["image"][:num_test].transpose(0, 3, 1, 2))
    return x[:num_train], y[:num_train], x_test, test["label"][:num_test].astype(np.int32)


# --- small NORB -----------------------------------------------------------------------------


def parse_norb_matrix(buffer: np.ndarray, source: str = "<bytes>") -> np.ndarray:
    """The array in a NORB binary matrix file, given the file's bytes as uint8 [size].

    Format (little-endian): int32 magic (0x1E3D4C55: uint8 data, 0x1E3D4C54: int32), int32
    ndim, max(ndim, 3) int32 dims (unused ones 1), then the data in C order.

    Returns:
      A view of `buffer` (no copy: a memory map stays one) with the announced shape.
    Raises:
      DataError naming `source`: bad magic number, impossible header, or a data size that does
      not match the header (a truncated or padded file).
    """
    if len(buffer) < 8:
        raise DataError(f"{source} is truncated inside its NORB header ({len(buffer)} bytes).")
    magic, ndim = (int(v) for v in buffer[:8].view("<i4"))
    if magic not in NORB_DTYPES:
        raise DataError(
            f"{source} is not a NORB uint8 or int32 matrix file (magic number {magic:#x}; "
            "expected 0x1e3d4c55 or 0x1e3d4c54). Replace it."
        )
    if not 0 <= ndim <= 16:
        raise DataError(f"{source}: impossible number of dimensions {ndim} in its header.")
    header = 8 + 4 * max(ndim, 3)
    if len(buffer) < header:
        raise DataError(f"{source} is truncated inside its NORB header ({len(buffer)} bytes).")
    shape = tuple(int(d) for d in buffer[8:8 + 4 * ndim].view("<i4"))
    if any(d < 0 for d in shape):
        raise DataError(f"{source}: negative dimension in its header {shape}; it is corrupt.")
    dtype = NORB_DTYPES[magic]
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(buffer) - header != expected:
        raise DataError(
            f"{source}: the header announces shape {shape} ({expected} bytes of data) but the "
            f"file holds {len(buffer) - header}; it is truncated or corrupt. Replace it."
        )
    return buffer[header:].view(dtype).reshape(shape)


def read_norb_matrix(path: str) -> np.ndarray:
    """The array of one NORB file: memory-mapped (read-only) if plain, read whole if .gz."""
    if path.endswith(".gz"):
        buffer = np.frombuffer(read_raw(path, NORB_HELP), np.uint8)
    elif os.path.getsize(path) == 0:  # np.memmap refuses empty files
        buffer = np.zeros(0, np.uint8)
    else:
        buffer = np.memmap(path, np.uint8, mode="r")
    return parse_norb_matrix(buffer, path)


def read_norb_split(data_dir: str, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(pairs [N, 2, 96, 96] uint8, labels [N] int32 in 0..4) of split "train" or "test"."""
    paths = [find_file(data_dir, NORB_FILES[split].format(kind), NORB_FOLDERS, NORB_HELP)
             for kind in ("dat", "cat")]
    pairs, labels = (read_norb_matrix(p) for p in paths)
    if pairs.dtype != np.uint8 or pairs.ndim != 4 or pairs.shape[1:] != (2, 96, 96):
        raise DataError(
            f"{paths[0]} holds {pairs.dtype} {pairs.shape}; small NORB's images are uint8 "
            "[N, 2, 96, 96]."
        )
    if labels.dtype.kind != "i" or labels.ndim != 1 or len(labels) != len(pairs):
        raise DataError(
            f"{paths[1]} holds {labels.dtype} {labels.shape}; expected int32 [{len(pairs)}], "
            f"one label per pair of {paths[0]}."
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 4):
        raise DataError(f"{paths[1]}: labels run from {labels.min()} to {labels.max()}, not 0..4.")
    return pairs, labels.astype(np.int32)


def load_smallnorb(data_dir: str | None, num_train: int | None = None,
                   num_test: int | None = None):
    """Small NORB: (pairs [N, 2, 96, 96] uint8, y [N], pairs_test, y_test); 24,300 each.

    num_train, num_test keep the first so many pairs (None: all). With data_dir None the data
    comes from tensorflow-datasets.
    """
    if data_dir is None:
        train, test = load_tfds("smallnorb", ["train", "test"], "the original small NORB files")
        return (*_tfds_pairs(train, num_train), *_tfds_pairs(test, num_test))
    if not os.path.isdir(data_dir):
        raise DataError(f"The small NORB data directory {data_dir} does not exist. {NORB_HELP}")
    x, y = read_norb_split(data_dir, "train")
    x_test, y_test = read_norb_split(data_dir, "test")
    return x[:num_train], y[:num_train], x_test[:num_test], y_test[:num_test]


def _tfds_pairs(split: dict, n: int | None):
    """tfds' smallnorb images [N, 96, 96, 1] and image2 -> (pairs [n, 2, 96, 96], labels [n])."""
    pairs = np.stack([split["image"][:n, ..., 0], split["image2"][:n, ..., 0]], axis=1)
    return pairs, split["label_category"][:n].astype(np.int32)
