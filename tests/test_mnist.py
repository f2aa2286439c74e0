"""The MNIST loader: idx parsing, checksums, clear errors, the label draw and binarisation."""

import dataclasses
import gzip
import importlib
import os
import shutil
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from adgm_tf import datasets, evaluation, mnist
from adgm_tf.configs import checks, mnist_adgm
from adgm_tf.input_pipeline import semi_supervised_dataset
from adgm_tf.train import build_model, train_and_evaluate

DATA_DIR = mnist.data_dir_from(None)


def idx_bytes(array: np.ndarray) -> bytes:
    """An idx file holding `array` (uint8), as the MNIST files are written."""
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def data_config(**overrides) -> ml_collections.ConfigDict:
    cfg = mnist_adgm.get_config().data
    cfg.update(overrides)
    return cfg


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    images = np.random.default_rng(0).integers(0, 256, size=(7, 4, 3), dtype=np.uint8)
    raw = idx_bytes(images)
    path = tmp_path / ("images.gz" if compress else "images")
    path.write_bytes(gzip.compress(raw) if compress else raw)
    np.testing.assert_array_equal(mnist.parse_idx(mnist.read_raw(str(path))), images)


def test_idx_refuses_bad_magic_and_truncation():
    raw = idx_bytes(np.zeros((5, 2, 2), np.uint8))
    with pytest.raises(mnist.DataError, match="not an idx file"):
        mnist.parse_idx(b"\x12\x34" + raw[2:])
    with pytest.raises(mnist.DataError, match="truncated or corrupt"):
        mnist.parse_idx(raw[:-3])


def test_corrupt_gzip_is_named(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(np.random.default_rng(0).bytes(5000))[:2000])
    with pytest.raises(mnist.DataError, match="train-images-idx3-ubyte.gz.*corrupt"):
        mnist.read_raw(str(path))


def test_missing_directory_and_file(tmp_path):
    with pytest.raises(mnist.DataError, match="does not exist"):
        mnist.load_arrays(str(tmp_path / "nowhere"))
    with pytest.raises(mnist.DataError, match="train-images-idx3-ubyte.*not found"):
        mnist.load_arrays(str(tmp_path))


@pytest.fixture(scope="module")
def real_dir():
    assert DATA_DIR is not None and os.path.isdir(DATA_DIR), (
        "Set ADGM_TF_DATA_DIR to a folder with the original MNIST files (../shared/data)."
    )
    return DATA_DIR


def test_checksum_mismatch_is_refused(tmp_path, real_dir):
    for name in mnist.FILES:
        shutil.copy(mnist.find_file(real_dir, name), tmp_path)
    labels = mnist.parse_idx(mnist.read_raw(str(tmp_path / "t10k-labels-idx1-ubyte.gz"))).copy()
    labels[0] = (labels[0] + 1) % 10  # one wrong label: same shape, different bytes
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(mnist.DataError, match="t10k-labels-idx1-ubyte.*MD5"):
        mnist.load_arrays(str(tmp_path))
    _, _, _, y_test = mnist.load_arrays(str(tmp_path), check_md5=False)
    assert y_test[0] == labels[0]


def test_real_files(real_dir):
    x, y, x_test, y_test = mnist.load_arrays(real_dir)
    assert x.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert x.dtype == np.float32 and 0.0 == x.min() and x.max() == 1.0
    assert sorted(np.unique(y)) == list(range(10)) and y_test.shape == (10000,)
    assert len(mnist.high_variance_pixels(x, 0.1)) == 444  # the paper's dim(x)


def test_label_draw_balanced_seeded(real_dir):
    first = datasets.load("mnist", data_config(seed=3))
    again = datasets.load("mnist", data_config(seed=3))
    other = datasets.load("mnist", data_config(seed=4))
    assert np.bincount(first.y_labeled, minlength=10).tolist() == [10] * 10
    np.testing.assert_array_equal(first.x_labeled, again.x_labeled)
    assert not np.array_equal(first.x_labeled, other.x_labeled)
    assert first.input_dim == 444 and len(first.x_unlabeled) == 60000
    full = datasets.load("mnist", data_config(min_pixel_std=0.0, num_train=500, num_test=50))
    assert full.input_dim == 784 and full.feature_indices is None


# the labels of the authors' ADGM log: their draw with seed 123456 (pinned, so that a change of
# numpy's RandomState stream would show)
AUTHORS_LABELED_DIGIT_0 = [27407, 46227, 28855, 596, 5373, 14153, 37686, 6097, 1590, 56775]


def test_authors_label_draw_on_mnist(real_dir):
    x, y, _, _ = mnist.load_arrays(real_dir)
    data = datasets.load("mnist", data_config(seed=123456, label_draw="authors",
                                              min_pixel_std=0.0))
    assert data.y_labeled.tolist() == np.repeat(np.arange(10), 10).tolist()
    np.testing.assert_array_equal(data.x_labeled[:10], x[AUTHORS_LABELED_DIGIT_0])
    drawn = datasets.load("mnist", data_config(seed=123456, min_pixel_std=0.0))
    assert not np.array_equal(drawn.x_labeled, data.x_labeled)


def test_binarised_steps():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(400, 30)).astype(np.float32)
    y = np.arange(10) % 5

    def first_step(seed):
        ds = semi_supervised_dataset(x[:10], y, x, batch_size=200, seed=seed, binarize=True)
        return next(iter(ds))

    step = first_step(0)
    values = np.unique(np.concatenate([step["x_labeled"].numpy(), step["x_unlabeled"].numpy()]))
    assert set(values.tolist()) <= {0.0, 1.0}
    assert abs(step["x_unlabeled"].numpy().mean() - 0.5) < 0.03  # E[Bernoulli(U(0,1))] = 1/2
    np.testing.assert_array_equal(step["x_unlabeled"], first_step(0)["x_unlabeled"])
    with pytest.raises(ValueError, match="must lie in \\[0, 1\\]"):
        semi_supervised_dataset(x[:10] * 2, y, x, batch_size=10, binarize=True)


def test_one_epoch_on_a_slice(tmp_path, real_dir):
    config = mnist_adgm.get_config()
    config.data.num_train = 1000
    config.data.num_test = 500
    config.num_epochs = 1
    config.progress_bar = False
    metrics = train_and_evaluate(config, str(tmp_path))
    assert 0.0 <= metrics["test_error"] < 0.9  # 10 steps: better than chance
    assert np.isfinite(metrics["test_bound"]) and metrics["test_bound"] < 0
    assert (tmp_path / "model.weights.h5").exists() and (tmp_path / "saved_model").is_dir()


def test_steps_per_execution_must_divide_an_epoch_and_needs_one_device(tmp_path, real_dir):
    config = mnist_adgm.get_config()
    config.data.num_train = 1000  # 10 steps an epoch
    config.data.num_test = 500
    config.num_epochs = 1
    config.steps_per_execution = 3
    with pytest.raises(ValueError, match=r"steps_per_execution \(3\) must divide the 10 steps"):
        train_and_evaluate(config, str(tmp_path))
    assert not (tmp_path / "history.csv").exists()
    config.steps_per_execution = 2
    config.strategy = "mirrored"
    with pytest.raises(ValueError, match="steps_per_execution > 1 is for the semi_supervised "
                                         "trainer on one device"):
        checks.check_config(config)


@pytest.mark.parametrize("name", sorted(
    p.stem for p in (Path(__file__).parents[1] / "adgm_tf" / "configs").glob("mnist_*.py")))
def test_every_mnist_config_is_possible_and_builds_its_model(name):
    from adgm_tf import train
    from adgm_tf.benchmark import _synthetic_data

    config = importlib.import_module(f"adgm_tf.configs.{name}").get_config()
    checks.check_config(config)
    input_dim = 784 if config.data.min_pixel_std == 0 else 444
    model = train.build_model(config, _synthetic_data(input_dim, 200, 2))
    assert model.q_y.mlp.hidden_sizes == tuple(config.hidden_sizes)
    assert type(model).ARCHITECTURE == config.model


def test_unlabeled_error_classifies_the_last_unlabeled_images(monkeypatch):
    from adgm_tf.benchmark import _synthetic_data

    config = mnist_adgm.get_config()
    config.hidden_sizes, config.a_dim, config.z_dim = (16,), 4, 4
    data = _synthetic_data(444, 40, 2)
    model = build_model(config, data)
    assert evaluation.unlabeled_error(model, data) == {}  # the data set gives no classes
    y = np.argmax(model.predict_on_batch(data.x_unlabeled), axis=-1)  # all right ...
    y[[-1, -3, -5]] = (y[[-1, -3, -5]] + 1) % 10  # ... but 3 of the last 7
    monkeypatch.setattr(evaluation, "UNLABELED_CHECKED", 7)
    result = evaluation.unlabeled_error(model, dataclasses.replace(data, y_unlabeled=y),
                                        batch_size=3)
    assert result == {"unlabeled_error": pytest.approx(3 / 7), "num_unlabeled_checked": 7}


@pytest.mark.parametrize("call, message", [
    (lambda model, data: evaluation.unlabeled_error(model, data, batch_size=0), "batch_size"),
    (lambda model, data: evaluation.evaluate(model, data.x_test, data.y_test, iw_samples=0),
     "iw_samples"),
    (lambda model, data: evaluation.evaluate(model, data.x_test, data.y_test, bound_samples=2.5),
     "bound_samples"),
    (lambda model, data: evaluation.evaluate_workdir("/nonexistent", batch_size=-1), "batch_size"),
])
def test_evaluation_refuses_counts_that_are_not_positive_integers(call, message):
    from adgm_tf.benchmark import _synthetic_data

    config = mnist_adgm.get_config()
    config.hidden_sizes, config.a_dim, config.z_dim = (16,), 4, 4
    data = _synthetic_data(444, 40, 2)
    # evaluate_workdir refuses before it looks for the run (no FileNotFoundError)
    with pytest.raises(ValueError, match=rf"{message} must be a positive integer"):
        call(build_model(config, data), data)
