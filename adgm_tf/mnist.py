"""MNIST from its four original idx files, checked before any training starts.

Where the files are looked for, in order:
  1. the config's `data.data_dir`;
  2. the environment variable `ADGM_TF_DATA_DIR`;
  3. tensorflow-datasets' `mnist` (downloads once, for machines with internet).
In a data directory DIR the files may lie in DIR/mnist/ or in DIR itself, gzipped or not, under
their original names (train-images-idx3-ubyte.gz, ...). Each file's uncompressed bytes are
checked against the canonical MD5 sum, and its shape against the idx header.
"""

from __future__ import annotations

import gzip
import hashlib
import os

import numpy as np

DATA_DIR_ENV = "ADGM_TF_DATA_DIR"

# name -> (canonical MD5 of the uncompressed file, expected array shape)
FILES = {
    "train-images-idx3-ubyte": ("6bbc9ace898e44ae57da46a324031adb", (60000, 28, 28)),
    "train-labels-idx1-ubyte": ("a25bea736e30d166cdddb491f175f624", (60000,)),
    "t10k-images-idx3-ubyte": ("2646ac647ad5339dbf082846283269ea", (10000, 28, 28)),
    "t10k-labels-idx1-ubyte": ("27ae3e4e09519cfbb04c329615203637", (10000,)),
}

# idx type codes (the third byte of the magic number) -> numpy dtype (big-endian)
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_HELP = (
    "Put the four original MNIST files (gzipped or not) in that directory or its mnist/ "
    f"subdirectory, point data.data_dir or {DATA_DIR_ENV} elsewhere, or leave both unset to "
    "let tensorflow-datasets download MNIST."
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


def read_raw(path: str) -> bytes:
    """The uncompressed bytes of `path` (gunzipped when it ends in .gz)."""
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return f.read()
        with open(path, "rb") as f:
            return f.read()
    except (OSError, EOFError) as e:  # gzip raises BadGzipFile (an OSError) or EOFError
        raise DataError(f"Cannot read {path}: {e}. The file is corrupt; replace it. {_HELP}")


def find_file(data_dir: str, name: str) -> str:
    """The path of MNIST file `name` under data_dir (or data_dir/mnist), gzipped or not."""
    for folder in (os.path.join(data_dir, "mnist"), data_dir):
        for candidate in (name + ".gz", name):
            path = os.path.join(folder, candidate)
            if os.path.isfile(path):
                return path
    raise DataError(
        f"MNIST file {name}(.gz) not found in {data_dir} or {os.path.join(data_dir, 'mnist')}. "
        + _HELP
    )


def read_file(data_dir: str, name: str, check_md5: bool = True) -> np.ndarray:
    """One MNIST array, its checksum and shape verified."""
    path = find_file(data_dir, name)
    raw = read_raw(path)
    md5, shape = FILES[name]
    if check_md5 and hashlib.md5(raw).hexdigest() != md5:
        raise DataError(
            f"{path} does not hold the original MNIST {name}: its MD5 sum "
            f"{hashlib.md5(raw).hexdigest()} differs from {md5}. Replace the file. {_HELP}"
        )
    array = parse_idx(raw, path)
    if array.shape != shape:
        raise DataError(f"{path} holds an array of shape {array.shape}; expected {shape}.")
    return array


def data_dir_from(configured: str | None) -> str | None:
    """The data directory to read: the config's, else $ADGM_TF_DATA_DIR, else None."""
    return configured or os.environ.get(DATA_DIR_ENV) or None


def load_arrays(data_dir: str | None, check_md5: bool = True):
    """(x_train [60000, 784], y_train, x_test [10000, 784], y_test): grey levels in [0, 1].

    With data_dir None, MNIST comes from tensorflow-datasets (a download on first use).
    """
    if data_dir is None:
        return _load_tfds()
    if not os.path.isdir(data_dir):
        raise DataError(f"The MNIST data directory {data_dir} does not exist. {_HELP}")
    arrays = {name: read_file(data_dir, name, check_md5) for name in FILES}
    return (
        _images(arrays["train-images-idx3-ubyte"]),
        arrays["train-labels-idx1-ubyte"].astype(np.int32),
        _images(arrays["t10k-images-idx3-ubyte"]),
        arrays["t10k-labels-idx1-ubyte"].astype(np.int32),
    )


def _images(array: np.ndarray) -> np.ndarray:
    return (array.reshape(len(array), -1) / 255.0).astype(np.float32)


def _load_tfds():
    import tensorflow_datasets as tfds  # imported here: slow, and only needed for downloads

    try:
        train, test = tfds.as_numpy(tfds.load("mnist", split=["train", "test"], batch_size=-1))
    except Exception as e:  # network, disk or format errors from the download
        raise DataError(
            f"No MNIST data directory is configured and tensorflow-datasets could not load "
            f"MNIST ({type(e).__name__}: {str(e)[:200]}). Set data.data_dir or {DATA_DIR_ENV} "
            "to a folder holding the four original MNIST files."
        ) from e
    return (
        _images(train["image"][..., 0]),
        train["label"].astype(np.int32),
        _images(test["image"][..., 0]),
        test["label"].astype(np.int32),
    )


def high_variance_pixels(x: np.ndarray, min_std: float) -> np.ndarray:
    """Indices of the pixels whose standard deviation over x exceeds `min_std` (paper: 0.1)."""
    return np.flatnonzero(np.std(x, axis=0) > min_std)
