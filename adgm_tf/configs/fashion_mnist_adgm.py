"""Fashion-MNIST with 100 labels: the ADGM with MNIST's recipe (not in the paper).

Reproduce (checkpoints every epoch; rerun the same command to resume):

    python bin/train.py --config=adgm_tf/configs/fashion_mnist_adgm.py \
        --config.data.data_dir=/usr/share/datasets/fashion-mnist --workdir=runs/fashion_mnist_adgm

Result here: not run yet.

Data: the four original idx files (gzipped or not; Debian's package dataset-fashion-mnist puts
them in /usr/share/datasets/fashion-mnist/) from data.data_dir, else $ADGM_TF_DATA_DIR (its
fashion_mnist/ or fashion-mnist/ folder or itself), else tensorflow-datasets; each checked
against the canonical MD5 of its uncompressed bytes. 10 labels per class, binarised afresh at
every step as MNIST. data.min_pixel_std = 0.1 keeps 690 of the 784 pixels (0.05: 736, 0: all):
clothes cover far more of the frame than digits (MNIST keeps 444), so the cut drops only the
border pixels that are nearly always black.
Everything else as `mnist_adgm` (its docstring weighs the recipe's options).
"""

import ml_collections

from adgm_tf.configs import mnist_adgm


def as_fashion(config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
    """An MNIST config turned into its Fashion-MNIST twin."""
    config.dataset = "fashion_mnist"
    config.data.min_pixel_std = 0.1  # 690 inputs
    return config


def get_config() -> ml_collections.ConfigDict:
    return as_fashion(mnist_adgm.get_config())
