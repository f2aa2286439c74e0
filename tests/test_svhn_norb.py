"""SVHN and small NORB: their original file formats, the paper's preprocessing, the loaders,
and the refusal of inputs outside a likelihood's support. Tiny files written here, in the
original formats, stand in for the real ones."""

import gzip
import importlib

import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from adgm_tf import datasets, preprocessing, raw_formats
from adgm_tf.configs import checks, norb_sdgm, svhn_sdgm
from adgm_tf.input_pipeline import check_support, semi_supervised_dataset
from adgm_tf.mnist import DataError

UINT8_MAGIC, INT32_MAGIC = 0x1E3D4C55, 0x1E3D4C54


# --- writers of the original formats ----------------------------------------------------------


def svhn_arrays(n: int, seed: int):
    """X [32, 32, 3, n] uint8 with channels of different spread, y [n, 1] labels 1..10."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(32, 32, 3, n)).astype(np.uint8)
    x[:, :, 2] //= 4  # blue: a quarter of the range, so the channel stds differ
    y = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(n, 1)  # 10: digit 0
    return x, y


def write_svhn(folder, name: str, n: int, seed: int):
    folder.mkdir(parents=True, exist_ok=True)
    x, y = svhn_arrays(n, seed)
    scipy.io.savemat(str(folder / name), {"X": x, "y": y})
    return x, y


def norb_bytes(array: np.ndarray) -> bytes:
    """A NORB binary matrix file holding `array` (uint8 or int32)."""
    magic = UINT8_MAGIC if array.dtype == np.uint8 else INT32_MAGIC
    dims = list(array.shape) + [1] * max(0, 3 - array.ndim)  # at least 3 dims are stored
    header = np.array([magic, array.ndim] + dims, "<i4").tobytes()
    return header + array.astype(array.dtype.newbyteorder("<")).tobytes()


def norb_arrays(n: int, seed: int):
    rng = np.random.default_rng(seed)
    pairs = rng.integers(0, 256, size=(n, 2, 96, 96)).astype(np.uint8)
    labels = (np.arange(n) % 5).astype(np.int32)
    info = rng.integers(0, 10, size=(n, 4)).astype(np.int32)
    return pairs, labels, info


def write_norb(folder, n_train: int = 15, n_test: int = 10):
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for split, n in (("train", n_train), ("test", n_test)):
        arrays = norb_arrays(n, seed=len(split))
        for kind, array in zip(("dat", "cat", "info"), arrays):
            (folder / raw_formats.NORB_FILES[split].format(kind)).write_bytes(norb_bytes(array))
        written[split] = arrays
    return written


# --- SVHN files -------------------------------------------------------------------------------


def test_svhn_mat_is_read_with_digit_zero_as_label_zero(tmp_path):
    x, y = write_svhn(tmp_path, "test_32x32.mat", 12, seed=0)
    images, labels = raw_formats.read_svhn_mat(str(tmp_path / "test_32x32.mat"))
    assert images.shape == (12, 3, 32, 32) and images.dtype == np.uint8
    np.testing.assert_array_equal(images[5], x[..., 5].transpose(2, 0, 1))  # planes [3, H, W]
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, np.where(y[:, 0] == 10, 0, y[:, 0]))
    assert labels[9] == 0 and labels[0] == 1


def test_svhn_train_extra_and_slices(tmp_path):
    folder = tmp_path / "svhn"
    x_train, _ = write_svhn(folder, "train_32x32.mat", 30, seed=1)
    x_extra, _ = write_svhn(folder, "extra_32x32.mat", 20, seed=2)
    write_svhn(folder, "test_32x32.mat", 10, seed=3)
    x, y, x_test, y_test = raw_formats.load_svhn(str(tmp_path))
    assert x.shape == (50, 3072) and x.dtype == np.uint8 and x.flags.c_contiguous
    assert x_test.shape == (10, 3072) and y.shape == (50,) and y_test.shape == (10,)
    np.testing.assert_array_equal(x[31], x_extra[..., 1].transpose(2, 0, 1).ravel())
    x, _, x_test, _ = raw_formats.load_svhn(str(tmp_path), num_train=33, num_test=4)
    assert len(x) == 33 and len(x_test) == 4
    np.testing.assert_array_equal(x[29], x_train[..., 29].transpose(2, 0, 1).ravel())
    x, *_ = raw_formats.load_svhn(str(folder), include_extra=False)  # the folder itself
    assert len(x) == 30


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[: len(raw) // 2], "truncated or corrupt"),
    (lambda raw: raw[:10], "truncated or corrupt"),
    (lambda raw: b"not a MATLAB file" * 10, "truncated or corrupt"),
])
def test_svhn_damaged_file_is_named(tmp_path, damage, message):
    write_svhn(tmp_path, "train_32x32.mat", 10, seed=0)
    path = tmp_path / "train_32x32.mat"
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=f"train_32x32.mat.*{message}"):
        raw_formats.read_svhn_mat(str(path))


def test_svhn_wrong_contents_and_missing_files(tmp_path):
    path = tmp_path / "train_32x32.mat"
    scipy.io.savemat(str(path), {"X": np.zeros((28, 28, 1, 4), np.uint8), "y": np.ones((4, 1))})
    with pytest.raises(DataError, match=r"train_32x32.mat: X has shape \(28, 28, 1, 4\)"):
        raw_formats.read_svhn_mat(str(path))
    scipy.io.savemat(str(path), {"X": np.zeros((32, 32, 3, 2), np.uint8), "y": [[0], [3]]})
    with pytest.raises(DataError, match="labels run from 0 to 3"):
        raw_formats.read_svhn_mat(str(path))
    write_svhn(tmp_path, "train_32x32.mat", 10, seed=0)
    write_svhn(tmp_path, "test_32x32.mat", 10, seed=0)
    with pytest.raises(DataError, match="extra_32x32.mat.*not found.*include_extra=False"):
        raw_formats.load_svhn(str(tmp_path))
    with pytest.raises(DataError, match="does not exist"):
        raw_formats.load_svhn(str(tmp_path / "nowhere"))


# --- NORB files -------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True])
def test_norb_matrices_round_trip(tmp_path, compress):
    for array in norb_arrays(4, seed=0):
        path = tmp_path / ("m.mat.gz" if compress else "m.mat")
        raw = norb_bytes(array)
        path.write_bytes(gzip.compress(raw) if compress else raw)
        read = raw_formats.read_norb_matrix(str(path))
        assert read.shape == array.shape and read.dtype == array.dtype
        np.testing.assert_array_equal(read, array)


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-7], "holds 1837.*truncated or corrupt"),
    (lambda raw: raw + b"\0", "truncated or corrupt"),
    (lambda raw: raw[:14], "truncated inside its NORB header"),
    (lambda raw: raw[:5], "truncated inside its NORB header"),
    (lambda raw: b"\x51" + raw[1:], "magic number 0x1e3d4c51"),
    (lambda raw: raw[:4] + np.int32(-2).tobytes() + raw[8:], "impossible number of dim"),
])
def test_norb_damaged_matrix_is_named(tmp_path, damage, message):
    path = tmp_path / "smallnorb-5x46789x9x18x6x2x96x96-training-cat.mat"
    path.write_bytes(damage(norb_bytes(np.arange(461, dtype=np.int32))))
    with pytest.raises(DataError, match=f"training-cat.mat.*{message}"):
        raw_formats.read_norb_matrix(str(path))


def test_norb_split_checks_that_files_agree(tmp_path):
    write_norb(tmp_path)
    pairs, labels = raw_formats.read_norb_split(str(tmp_path), "train")
    assert pairs.shape == (15, 2, 96, 96) and labels.tolist() == [0, 1, 2, 3, 4] * 3
    cat = tmp_path / raw_formats.NORB_FILES["train"].format("cat")
    cat.write_bytes(norb_bytes(np.zeros(14, np.int32)))
    with pytest.raises(DataError, match="training-cat.mat holds int32 .14,.; expected int32 .15."):
        raw_formats.read_norb_split(str(tmp_path), "train")
    cat.write_bytes(norb_bytes(np.full(15, 7, np.int32)))
    with pytest.raises(DataError, match="labels run from 7 to 7, not 0..4"):
        raw_formats.read_norb_split(str(tmp_path), "train")
    dat = tmp_path / raw_formats.NORB_FILES["test"].format("dat")
    dat.write_bytes(norb_bytes(np.zeros((3, 2, 32, 32), np.uint8)))
    with pytest.raises(DataError, match=r"testing-dat.mat holds uint8 \(3, 2, 32, 32\)"):
        raw_formats.read_norb_split(str(tmp_path), "test")
    dat.unlink()
    with pytest.raises(DataError, match="testing-dat.mat.*not found.*smallnorb"):
        raw_formats.read_norb_split(str(tmp_path), "test")


# --- the paper's preprocessing ----------------------------------------------------------------


def test_svhn_channels_have_unit_std_after_preparation():
    x = raw_formats._flat(svhn_arrays(100, seed=0)[0].transpose(3, 2, 0, 1))  # [100, 3072]
    std = preprocessing.channel_std(x)
    by_channel = x.reshape(100, 3, 1024).transpose(1, 0, 2).reshape(3, -1).astype(np.float64)
    np.testing.assert_allclose(std, np.sqrt(by_channel.var(axis=1) + 1 / 12), rtol=1e-9)
    assert std[2] < std[0] / 3  # the narrow blue channel
    dequantize = preprocessing.svhn_dequantizer(x)
    prepared = dequantize.apply(x, seed=0)
    assert prepared.dtype == np.float32 and prepared.shape == x.shape
    np.testing.assert_allclose(prepared.reshape(100, 3, 1024).std(axis=(0, 2)), 1.0, atol=5e-3)
    noise = prepared * np.repeat(std, 1024) - x  # the U(0, 1) draws
    assert -1e-3 < noise.min() and noise.max() < 1 + 1e-3 and abs(noise.mean() - 0.5) < 0.01
    np.testing.assert_array_equal(prepared, dequantize.apply(x, seed=0))


def test_svhn_batches_get_fresh_seeded_noise():
    x = raw_formats._flat(svhn_arrays(8, seed=0)[0].transpose(3, 2, 0, 1))
    dequantize = preprocessing.svhn_dequantizer(x)
    batch = lambda s: dequantize(tf.constant(x), tf.constant([0, s])).numpy()  # noqa: E731
    first = batch(1)
    assert first.dtype == np.float32
    noise = first / dequantize.scale - x
    assert -1e-3 < noise.min() and noise.max() < 1 + 1e-3
    np.testing.assert_array_equal(first, batch(1))
    assert not np.array_equal(first, batch(2))


def test_norb_pairs_resized_and_centred():
    pairs = norb_arrays(6, seed=0)[0]
    resized = preprocessing.resize_pairs(pairs)
    blocks = pairs.reshape(6, 2, 32, 3, 32, 3).mean(axis=(3, 5)).reshape(6, 2048)
    np.testing.assert_allclose(resized, blocks, rtol=1e-5)  # area: 3 x 3 block means
    nearest = preprocessing.resize_pairs(pairs, method="nearest")
    np.testing.assert_array_equal(nearest[:, :1024].reshape(6, 32, 32), pairs[:, 0, 1::3, 1::3])
    x = np.repeat(resized, 50, axis=0)  # 300 pairs: the noise's mean is close to 1/2
    dequantize = preprocessing.norb_dequantizer(x)
    prepared = dequantize.apply(x, seed=0)
    assert abs(prepared.mean()) < 1e-4 and np.abs(prepared.mean(axis=0)).max() < 2e-3
    noise = (prepared + dequantize.offset) * 256 - x
    assert -1e-3 < noise.min() and noise.max() < 1 + 1e-3


# --- loaders ----------------------------------------------------------------------------------


def svhn_files(root):
    write_svhn(root / "svhn", "train_32x32.mat", 40, seed=1)
    write_svhn(root / "svhn", "extra_32x32.mat", 30, seed=2)
    write_svhn(root / "svhn", "test_32x32.mat", 20, seed=3)


def test_svhn_loader_keeps_uint8_and_prepares_batches(tmp_path, monkeypatch):
    svhn_files(tmp_path)
    cfg = svhn_sdgm.get_config().data
    cfg.update(labels_per_class=3, seed=5)
    monkeypatch.setenv("ADGM_TF_DATA_DIR", str(tmp_path))  # data_dir None: the environment's
    data = datasets.load("svhn", cfg)
    assert data.likelihood == "gaussian" and data.num_classes == 10 and data.input_dim == 3072
    assert data.x_unlabeled.dtype == np.uint8 and data.x_unlabeled.shape == (70, 3072)
    assert data.x_labeled.dtype == np.uint8 and data.x_test.dtype == np.float32
    assert np.bincount(data.y_labeled, minlength=10).tolist() == [3] * 10
    assert data.image_shape == (3, 32, 32) and data.preprocess is not None
    np.testing.assert_array_equal(data.y_labeled, datasets.load("svhn", cfg).y_labeled)
    cfg.seed = 6
    assert not np.array_equal(data.x_labeled, datasets.load("svhn", cfg).x_labeled)

    step = next(iter(semi_supervised_dataset(
        data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=10, labeled_batch_size=30,
        preprocess=data.preprocess)))
    assert step["x_unlabeled"].dtype == tf.float32 and step["x_unlabeled"].shape == (10, 3072)
    assert step["x_labeled"].shape == (30, 3072) and float(tf.reduce_max(step["x_labeled"])) < 20
    with pytest.raises(ValueError, match="raw uint8 values: pass preprocess=data.preprocess"):
        semi_supervised_dataset(data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=10)


def test_norb_loader(tmp_path):
    written = write_norb(tmp_path / "smallnorb")
    cfg = norb_sdgm.get_config().data
    cfg.update(data_dir=str(tmp_path), labels_per_class=2, num_test=7)
    data = datasets.load("norb", cfg)
    assert data.likelihood == "gaussian" and data.num_classes == 5 and data.input_dim == 2048
    assert data.x_unlabeled.shape == (15, 2048) and data.x_test.shape == (7, 2048)
    assert data.x_unlabeled.dtype == np.float32 and data.preprocess is None
    assert np.bincount(data.y_labeled).tolist() == [2] * 5
    assert abs(data.x_unlabeled.mean()) < 1e-3
    np.testing.assert_array_equal(data.y_test, written["test"][1][:7])
    np.testing.assert_array_equal(data.x_labeled, datasets.load("norb", cfg).x_labeled)


def test_every_loader_is_registered():
    assert {"mnist", "fashion_mnist", "svhn", "norb"} <= set(datasets.LOADERS)


# --- likelihood support -----------------------------------------------------------------------


def test_check_support():
    pixels = np.arange(256, dtype=np.float32).reshape(16, 16)
    with pytest.raises(ValueError, match=r"x holds values from 0.0 to 255.0.*Divide them by 255"):
        check_support(pixels, "bernoulli", "x")
    check_support(pixels / 255, "bernoulli", "x")
    check_support(pixels - 1000, "gaussian", "x")
    with pytest.raises(ValueError, match="NaN or infinite"):
        check_support(np.array([[0.0, np.inf]]), "gaussian", "x")
    with pytest.raises(ValueError, match="Unknown likelihood 'poisson'"):
        check_support(pixels, "poisson", "x")


def test_a_bernoulli_data_set_of_0_255_pixels_is_refused():
    x = np.random.default_rng(0).integers(0, 256, size=(20, 6)).astype(np.float32)
    y = np.arange(20) % 2
    kwargs = dict(x_labeled=x[:4], y_labeled=y[:4], x_unlabeled=x, x_test=x, y_test=y,
                  num_classes=2)
    with pytest.raises(ValueError, match="x_test holds values .* Divide them by 255"):
        datasets.SemiSupervisedData(likelihood="bernoulli", **kwargs)
    datasets.SemiSupervisedData(likelihood="gaussian", **kwargs)


# --- configs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name, input_dim", [
    ("svhn_sdgm", 3072), ("svhn_adgm", 3072), ("norb_sdgm", 2048), ("norb_adgm", 2048),
])
def test_gaussian_configs_follow_the_paper(name, input_dim):
    config = importlib.import_module(f"adgm_tf.configs.{name}").get_config()
    checks.check_config(config)
    assert config.likelihood == "gaussian" and config.batch_norm and config.kl_warmup_epochs > 0
    assert config.dataset in datasets.LOADERS
    per_class, steps = (100, 1000) if config.dataset == "svhn" else (200, 100)
    assert config.data.labels_per_class == per_class  # 1000 labels: 10 x 100 or 5 x 200
    assert config.batch_size == config.labeled_batch_size == steps  # paper: 2000 and 200
    assert config.model == name.split("_")[1]


def test_pictures_show_the_planes_side_by_side():
    from types import SimpleNamespace

    from adgm_tf.latents import as_images

    x = np.arange(2 * 24).reshape(2, 24)  # two inputs of 2 planes of 3 x 4
    images = as_images(x, SimpleNamespace(image_shape=(2, 3, 4), feature_indices=None))
    assert images.shape == (2, 3, 8)
    np.testing.assert_array_equal(images[1, :, :4], x[1, :12].reshape(3, 4))
    np.testing.assert_array_equal(images[1, :, 4:], x[1, 12:].reshape(3, 4))


def test_without_a_data_directory_tensorflow_datasets_arrays_get_the_same_layout(monkeypatch):
    svhn_x, svhn_y = svhn_arrays(10, seed=0)
    pairs, labels, _ = norb_arrays(4, seed=0)
    fake = {  # what tfds.as_numpy(tfds.load(..., batch_size=-1)) gives per split
        "svhn_cropped": dict(image=svhn_x.transpose(3, 0, 1, 2), label=svhn_y[:, 0] % 10),
        "smallnorb": dict(image=pairs[:, 0, ..., None], image2=pairs[:, 1, ..., None],
                          label_category=labels),
    }
    monkeypatch.delenv("ADGM_TF_DATA_DIR", raising=False)
    monkeypatch.setattr(raw_formats, "load_tfds",
                        lambda name, splits, hint: [fake[name]] * len(splits))
    x, y, x_test, _ = raw_formats.load_svhn(None, include_extra=True, num_test=2)
    assert x.shape == (20, 3072) and x_test.shape == (2, 3072) and y[9] == 0  # train + extra
    np.testing.assert_array_equal(x[1], svhn_x[..., 1].transpose(2, 0, 1).ravel())
    x, y, _, _ = raw_formats.load_smallnorb(None, num_train=3)
    np.testing.assert_array_equal(x, pairs[:3])
    np.testing.assert_array_equal(y, labels[:3])
