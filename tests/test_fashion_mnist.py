"""Fashion-MNIST: MNIST's idx reader with its own checksums and folders, loader and configs."""

import gzip
import hashlib
import importlib
import os

import numpy as np
import pytest

from adgm_tf import datasets, mnist
from adgm_tf.configs import checks, fashion_mnist_adgm

DEBIAN_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's package dataset-fashion-mnist
CANONICAL_GZ_MD5 = {  # Zalando's .gz files
    "train-images-idx3-ubyte": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte": "bb300cfdad3c16e7a12a480ee83cd310",
}
# .ci/run installs the package and sets ADGM_TF_REQUIRE_ALL_DATA=1: there a missing folder
# fails these tests instead of skipping them.
_MISSING = f"{DEBIAN_DIR} absent (apt-get install dataset-fashion-mnist)"
if not os.path.isdir(DEBIAN_DIR) and os.environ.get("ADGM_TF_REQUIRE_ALL_DATA") == "1":
    needs_files = pytest.mark.usefixtures("_fail_missing_files")
else:
    needs_files = pytest.mark.skipif(not os.path.isdir(DEBIAN_DIR), reason=_MISSING)


@pytest.fixture
def _fail_missing_files():
    pytest.fail(f"{_MISSING}; ADGM_TF_REQUIRE_ALL_DATA=1 asks for every data set")


def idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def test_files_are_found_in_their_folders_and_checked_as_fashion(tmp_path):
    folder = tmp_path / "fashion-mnist"
    folder.mkdir()
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(5))))
    with pytest.raises(mnist.DataError, match="original Fashion-MNIST train-labels.*MD5"):
        mnist.read_file(str(tmp_path), "train-labels-idx1-ubyte", spec=mnist.FASHION_MNIST)
    with pytest.raises(mnist.DataError, match=r"shape \(5,\); expected \(60000,\)"):
        mnist.read_file(str(tmp_path), "train-labels-idx1-ubyte", False, mnist.FASHION_MNIST)
    with pytest.raises(mnist.DataError, match="train-images-idx3-ubyte.*not found.*fashion_mnist"):
        mnist.load_arrays(str(tmp_path), spec=mnist.FASHION_MNIST)


@needs_files
def test_debian_files_are_recompressed_but_canonical_inside():
    for name, (raw_md5, _) in mnist.FASHION_MNIST.files.items():
        path = os.path.join(DEBIAN_DIR, name + ".gz")
        with open(path, "rb") as f:
            gz_md5 = hashlib.md5(f.read()).hexdigest()
        assert hashlib.md5(mnist.read_raw(path)).hexdigest() == raw_md5
        assert gz_md5 != CANONICAL_GZ_MD5[name]  # why the uncompressed sums are the ones checked


@needs_files
def test_loader_on_the_real_files():
    cfg = fashion_mnist_adgm.get_config().data
    cfg.update(data_dir=DEBIAN_DIR, seed=3)
    data = datasets.load("fashion_mnist", cfg)
    assert data.input_dim == 690 and data.likelihood == "bernoulli" and data.num_classes == 10
    assert len(data.x_unlabeled) == 60000 and len(data.x_test) == 10000
    assert np.bincount(data.y_labeled, minlength=10).tolist() == [10] * 10
    assert 0.0 <= data.x_unlabeled.min() and data.x_unlabeled.max() <= 1.0
    mnist_cfg = cfg.copy_and_resolve_references()
    with pytest.raises(mnist.DataError, match="does not hold the original MNIST"):
        datasets.load("mnist", mnist_cfg)  # Fashion-MNIST files are not MNIST's


@pytest.mark.parametrize("name", ["fashion_mnist_adgm", "fashion_mnist_sdgm", "fashion_mnist_m2"])
def test_fashion_configs_build_their_models(name):
    from adgm_tf import train
    from adgm_tf.benchmark import _synthetic_data

    config = importlib.import_module(f"adgm_tf.configs.{name}").get_config()
    checks.check_config(config)
    assert config.dataset == "fashion_mnist" and config.data.min_pixel_std == 0.1
    assert config.likelihood == "bernoulli" and config.data.binarize
    model = train.build_model(config, _synthetic_data(690, 200, 2))
    assert type(model).ARCHITECTURE == config.model == name.rsplit("_", 1)[1]
