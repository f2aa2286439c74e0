"""MNIST with 100 labels: the SDGM, p(x|a,y,z) p(a|y,z) (paper eq. 22, Table 1: 1.32%).

    python bin/train.py --config=adgm_tf/configs/mnist_sdgm.py --workdir=runs/mnist_sdgm

Everything else as `mnist_adgm` (its docstring weighs the recipe's options).

Measured (BENCHMARKS.md, bf16, seeds 0, 2-core AMD EPYC): 4.56% after 20 epochs, 2.64% after
100, 2.01% after 200 (108 minutes on one core).
"""

from adgm_tf.configs import mnist_adgm


def get_config():
    config = mnist_adgm.get_config()
    config.model = "sdgm"
    return config
