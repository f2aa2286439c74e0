"""MNIST with 100 labels: the ADGM with a deterministic a = mu(x) (the paper's ablation, Fig. 5).

    python bin/train.py --config=adgm_tf/configs/mnist_adgm_det.py --workdir=runs/mnist_adgm_det

Everything else as `mnist_adgm`; without a stochastic `a` there is no p(a|.).
"""

from adgm_tf.configs import mnist_adgm


def get_config():
    config = mnist_adgm.get_config()
    config.model = "adgm_deterministic"
    config.p_a_inputs = None
    return config
