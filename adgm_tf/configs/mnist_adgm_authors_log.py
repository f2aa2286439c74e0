"""MNIST with 100 labels: the authors' early ADGM run, whose log reaches 1.59% at epoch 200.

    python bin/train.py --config=adgm_tf/configs/mnist_adgm_authors_log.py --workdir=runs/log

The settings of that log (reproduction notes, "The authors' own training curves"): the
`adgm_fixed_qa` model (p(a) = N(0, I), q(z|y,x), q(a|x) never trained), 784 inputs, 3 hidden
layers of 500 in every network, no batch normalisation, 10 Monte Carlo samples,
alpha = 1200 (beta = 2), Adam 3e-4 with the learning rate x0.75 every 200 epochs, 1000
epochs; and from the code that wrote it (ml-lab/auxiliary-deep-generative-models,
data_preparation/mnist.py), the unlabeled set in class order, never reshuffled
(`unlabeled_order="by_class"`: nearly every unlabeled batch holds one digit, the digits in the
same order every epoch). What the log does not give stays as `mnist_adgm` (global-norm
clipping at 5, the weight prior, small initial Gaussian heads); the authors' code drew hidden
kernels Glorot-normal with ReLU gain, as here. Ten samples make a step about ten times the cost of
`mnist_adgm`'s (BENCHMARKS.md).
"""

from adgm_tf.configs import mnist_adgm_fixed_qa


def get_config():
    config = mnist_adgm_fixed_qa.get_config()
    config.data.min_pixel_std = 0.0  # all 784 pixels
    config.hidden_sizes = (500, 500, 500)
    config.batch_norm = False
    config.init = "glorot_normal_relu"
    config.num_samples = 10
    config.beta = 2.0  # alpha = 2 * 60,100 / 100 = 1202
    config.unlabeled_order = "by_class"  # as the authors' early code: no batch norm here
    return config
