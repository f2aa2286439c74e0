"""MNIST and Fashion-MNIST from their four original idx files, checked before training starts.

Where the files are looked for, in order:
  1. the config's `data.data_dir`;
  2. the environment variable `ADGM_TF_DATA_DIR`;
  3. tensorflow-datasets (`mnist`, `fashion_mnist`; downloads once, for machines with internet).
In a data directory DIR the files may lie in DIR/mnist/ (Fashion-MNIST: DIR/fashion_mnist/ or
DIR/fashion-mnist/) or in DIR itself, gzipped or not, under their original names
(train-images-idx3-ubyte.gz, ...). Each file's uncompressed bytes are checked against the
canonical MD5 sum, and its shape against the idx header. The uncompressed sums are the ones to
check: Debian's package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/) ships
recompressed .gz files whose own MD5 sums differ from the canonical .gz sums while their
contents are the canonical bytes.

The data-file helpers here (`DataError`, `data_dir_from`, `find_file`, `read_raw`) also serve
the SVHN and NORB readers (`raw_formats`).
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import os

import numpy as np

DATA_DIR_ENV = "ADGM_TF_DATA_DIR"


@dataclasses.dataclass(frozen=True)
class IdxSet:
    """A data set stored as MNIST is: four idx files, 28 x 28 grey images, 10 classes."""

    title: str  # as written in messages
    folders: tuple[str, ...]  # subfolders of a data directory that may hold the files
    tfds_name: str  # its tensorflow-datasets name, for the download fallback
    files: dict  # file name -> (canonical MD5 of the uncompressed file, array shape)


MNIST = IdxSet("MNIST", ("mnist",), "mnist", {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", (60000,)),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", (10000,)),
})
# Zalando's files. The canonical .gz files' own sums (8d4fb7e6c68d591d4c3dfef9ec88bf0d,
# 25c81989df183df01b3e8a0aad5dffbe, bef4ecab320f06d8554ea6380940ec79,
# bb300cfdad3c16e7a12a480ee83cd310, same order) are not checked: recompressed copies differ.
FASHION_MNIST = IdxSet("Fashion-MNIST", ("fashion_mnist", "fashion-mnist"), "fashion_mnist", {
    "train-images-idx3-ubyte": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("9018921c3c673c538a1fc5bad174d6f9", (60000,)),
    "t10k-images-idx3-ubyte": ("8181f5470baa50b63fa0f6fddb340f0a", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("15d484375f8d13e6eb1aabb0c3f46965", (10000,)),
})
FILES = MNIST.files

# idx type codes (the third byte of the magic number) -> numpy dtype (big-endian)
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def _help(spec: IdxSet) -> str:
    return (
        f"Put the four original {spec.title} files (gzipped or not) in that directory or its "
        f"{spec.folders[0]}/ subdirectory, point data.data_dir or {DATA_DIR_ENV} elsewhere, or "
        f"leave both unset to let tensorflow-datasets download {spec.title}."
    )


class DataError(ValueError):
    """A data file is missing, corrupt or not what it claims to be."""


def parse_idx(raw: bytes, source: str = "<bytes>") -> np.ndarray:
    """The array stored in the bytes of an (uncompressed) idx file.

    Raises:
      DataError: the header is not an idx header or the payload's size does not match it.
    """
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{source} is not an idx file (bad magic number {raw[:4].hex()}).")
    dtype, rank = _IDX_DTYPES[raw[2]], raw[3]
    header = 4 + 4 * rank
    if len(raw) < header:
        raise DataError(f"{source} is truncated inside its idx header.")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=rank, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - header != expected:
        raise DataError(
            f"{source}: the idx header announces shape {shape} ({expected} bytes of data) but "
            f"the file holds {len(raw) - header} bytes; it is truncated or corrupt."
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(shape)


def read_raw(path: str, help_text: str = _help(MNIST)) -> bytes:
    """The uncompressed bytes of `path` (gunzipped when it ends in .gz)."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:  # gzip raises BadGzipFile (an OSError) or EOFError
        raise DataError(f"Cannot read {path}: {e}. The file is corrupt; replace it. {help_text}")


def find_file(data_dir: str, name: str, folders: tuple[str, ...] = MNIST.folders,
              help_text: str = _help(MNIST)) -> str:
    """The path of file `name` (or name.gz) in data_dir/<one of folders>, or in data_dir."""
    places = [os.path.join(data_dir, folder) for folder in folders] + [data_dir]
    for folder in places:
        for candidate in (name + ".gz", name):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    raise DataError(f"File {name}(.gz) not found in {' or '.join(places)}. {help_text}")


def read_file(data_dir: str, name: str, check_md5: bool = True, spec: IdxSet = MNIST) -> np.ndarray:
    """One array of the idx set `spec`, its checksum and shape verified."""
    path = find_file(data_dir, name, spec.folders, _help(spec))
    raw = read_raw(path, _help(spec))
    md5, shape = spec.files[name]
    if check_md5 and hashlib.md5(raw).hexdigest() != md5:
        raise DataError(
            f"{path} does not hold the original {spec.title} {name}: its MD5 sum "
            f"{hashlib.md5(raw).hexdigest()} differs from {md5}. Replace the file. {_help(spec)}"
        )
    array = parse_idx(raw, path)
    if array.shape != shape:
        raise DataError(f"{path} holds an array of shape {array.shape}; expected {shape}.")
    return array


def data_dir_from(configured: str | None) -> str | None:
    """The data directory to read: the config's, else $ADGM_TF_DATA_DIR, else None."""
    return configured or os.environ.get(DATA_DIR_ENV) or None


def load_arrays(data_dir: str | None, check_md5: bool = True, spec: IdxSet = MNIST):
    """(x_train [60000, 784], y_train, x_test [10000, 784], y_test): grey levels in [0, 1].

    With data_dir None, the set comes from tensorflow-datasets (a download on first use).
    """
    if data_dir is None:
        return _load_tfds(spec)
    if not os.path.isdir(data_dir):
        raise DataError(f"The {spec.title} data directory {data_dir} does not exist. {_help(spec)}")
    arrays = {name: read_file(data_dir, name, check_md5, spec) for name in spec.files}
    return (
        _images(arrays["train-images-idx3-ubyte"]),
        arrays["train-labels-idx1-ubyte"].astype(np.int32),
        _images(arrays["t10k-images-idx3-ubyte"]),
        arrays["t10k-labels-idx1-ubyte"].astype(np.int32),
    )


def _images(array: np.ndarray) -> np.ndarray:
    return (array.reshape(len(array), -1) / 255.0).astype(np.float32)


def load_tfds(name: str, splits: list[str], files_hint: str) -> list[dict]:
    """The numpy arrays of tensorflow-datasets' `name` (a download or build on first use).

    Args:
      name: the tfds name; splits: e.g. ["train", "test"]; files_hint: what the user can put in
        a data directory instead (for the error message).
    Returns:
      One dict of whole-split arrays per split.
    """
    import tensorflow_datasets as tfds  # imported here: slow, and only needed for downloads

    try:
        return tfds.as_numpy(tfds.load(name, split=splits, batch_size=-1))
    except Exception as e:  # network, disk, checksum or format errors from the download
        raise DataError(
            f"No data directory is configured and tensorflow-datasets could not load {name!r} "
            f"({type(e).__name__}: {str(e)[:200]}). Set data.data_dir or {DATA_DIR_ENV} to a "
            f"folder holding {files_hint}."
        ) from e


def _load_tfds(spec: IdxSet):
    train, test = load_tfds(spec.tfds_name, ["train", "test"],
                            f"the four original {spec.title} files")
    return (
        _images(train["image"][..., 0]),
        train["label"].astype(np.int32),
        _images(test["image"][..., 0]),
        test["label"].astype(np.int32),
    )


def high_variance_pixels(x: np.ndarray, min_std: float) -> np.ndarray:
    """Indices of the pixels whose standard deviation over x exceeds `min_std` (paper: 0.1)."""
    return np.flatnonzero(np.std(x, axis=0) > min_std)
