"""Fashion-MNIST with 100 labels: M2 of Kingma et al. (2014), the model without `a`.

    python bin/train.py --config=adgm_tf/configs/fashion_mnist_m2.py \
        --config.data.data_dir=/usr/share/datasets/fashion-mnist --workdir=runs/fashion_mnist_m2

Result here: not run yet. Data as `fashion_mnist_adgm`; everything else as `mnist_m2`.
"""

from adgm_tf.configs import fashion_mnist_adgm, mnist_m2


def get_config():
    return fashion_mnist_adgm.as_fashion(mnist_m2.get_config())
