"""Small NORB with 1000 labels (paper Sec. 4.3, Table 1: SDGM 9.40%): the SDGM, Gaussian inputs.

Reproduce (checkpoints every epoch; rerun the same command to resume):

    python bin/train.py --config=adgm_tf/configs/norb_sdgm.py --workdir=runs/norb_sdgm

Result here: not run yet (no small NORB files on the project's machines).

Data: the original smallnorb-...-training-{dat,cat}.mat and -testing- files (gzipped or not)
from data.data_dir, else $ADGM_TF_DATA_DIR (its smallnorb/ folder or itself), else
tensorflow-datasets. 200 labels per class (5 classes) drawn with data.seed; the unlabeled set
is all 24,300 training pairs. Inputs (2048): both 96 x 96 images of a stereo pair resized to
32 x 32 (data.resize_method "area": 3 x 3 block means; the authors' code used "nearest"),
pixel + U(0, 1) drawn once, divided by 256, minus the training set's mean per input.

The paper's recipe: 2 hidden layers of 500 or 1000 units with dim(a) = dim(z) = 100 or 300
(it does not say which for NORB: the larger here, as for SVHN; a factor to study), Gaussian
p(x|.), batches of 200 of which half are labeled (100 + 100), Adam 3e-4, beta = 0.1. The
stabilisers the paper names for Gaussian inputs are ON: batch normalisation and a warm-up of
the KL terms of a and z (25 epochs, about 6,000 steps as for SVHN). The rest as `mnist_adgm`,
whose docstring weighs it; the paper gives no NORB schedule, so 1000 epochs as MNIST's (its
text: the SDGM reaches about 12% in 100 epochs). Evaluation during training uses 10 samples of
a every 5 epochs; the final one, the paper's 100.
"""

import ml_collections
from ml_collections import config_dict

from adgm_tf.configs import mnist_adgm


def get_config() -> ml_collections.ConfigDict:
    config = mnist_adgm.get_config()
    config.dataset = "norb"
    config.data = ml_collections.ConfigDict(
        dict(
            data_dir=config_dict.placeholder(str),  # None: $ADGM_TF_DATA_DIR, else tfds
            resize_method="area",  # 96 -> 32 (tf.image.resize): "area", "nearest", "bilinear"
            labels_per_class=200,
            num_train=config_dict.placeholder(int),  # None: all 24,300 (a slice for quick runs)
            num_test=config_dict.placeholder(int),  # None: all 24,300
            seed=0,  # the label draw (the noise: seed + 1 training set, seed + 2 test set)
        )
    )
    config.model = "sdgm"
    config.likelihood = "gaussian"
    config.x_var_floor = 1e-4  # p(x|.)'s variance floor; inputs in [0, 1] steps of 1/256: std >= 0.01
    config.hidden_sizes = (1000, 1000)
    config.a_dim = 300
    config.z_dim = 300
    config.batch_norm = True
    config.weight_prior = 1.0 / 24_300  # N(0, 1) prior on the weights, divided by N
    config.kl_warmup_epochs = 25.0  # KL terms of a and z weighted up from 0 to 1
    config.a_free_bits = 0.0  # nats per unit of a its KL may hold at no cost (0: off)
    config.batch_size = 100  # unlabeled examples per step
    config.labeled_batch_size = 100  # labeled examples per step
    config.eval_every_epochs = 5
    config.dtype_policy = "float32"  # bf16 products not measured on Gaussian inputs
    config.eval_predict_samples = 10
    return config
