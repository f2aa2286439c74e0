"""MNIST with 100 labels: M2 of Kingma et al. (2014), the model without `a` (paper Fig. 5).

    python bin/train.py --config=adgm_tf/configs/mnist_m2.py --workdir=runs/mnist_m2

Everything else as `mnist_adgm`; a_dim and p_a_inputs do not apply to M2.
"""

from adgm_tf.configs import mnist_adgm


def get_config():
    config = mnist_adgm.get_config()
    config.model = "m2"
    config.p_a_inputs = None
    return config
