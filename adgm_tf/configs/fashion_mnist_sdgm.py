"""Fashion-MNIST with 100 labels: the SDGM with MNIST's recipe.

    python bin/train.py --config=adgm_tf/configs/fashion_mnist_sdgm.py \
        --config.data.data_dir=/usr/share/datasets/fashion-mnist --workdir=runs/fashion_mnist_sdgm

Result here: not run yet. Data as `fashion_mnist_adgm`; everything else as `mnist_sdgm`.
"""

from adgm_tf.configs import fashion_mnist_adgm, mnist_sdgm


def get_config():
    return fashion_mnist_adgm.as_fashion(mnist_sdgm.get_config())
