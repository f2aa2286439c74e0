"""MNIST with 100 labels: the SDGM, p(x|a,y,z) p(a|y,z) (paper eq. 22, Table 1: 1.32%).

    python bin/train.py --config=adgm_tf/configs/mnist_sdgm.py --workdir=runs/mnist_sdgm

Everything else as `mnist_adgm` (its docstring weighs the recipe's options).

Measured (BENCHMARKS.md, bf16, seeds 0, 2-core AMD EPYC): 4.56% after 20 epochs, 2.64% after
100, 2.01% after 200 (108 minutes on one core). With 5 Monte Carlo samples (one seed,
2-core Intel Xeon): 2.30% after 200, ahead of 1 sample only in the first 30 epochs and
mostly behind it after epoch 65, for 4.2 times the step time; with 10 samples, level with
both at epoch 40 (3.38% against 3.36% and 3.31%; not trained further, BENCHMARKS.md says
why); so num_samples stays 1.
"""

from adgm_tf.configs import mnist_adgm


def get_config():
    config = mnist_adgm.get_config()
    config.model = "sdgm"
    return config
