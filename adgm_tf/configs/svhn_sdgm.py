"""SVHN with 1000 labels (paper Sec. 4.3, Table 1: SDGM 16.61%): the SDGM, Gaussian inputs.

Reproduce (checkpoints every epoch; rerun the same command to resume):

    python bin/train.py --config=adgm_tf/configs/svhn_sdgm.py --workdir=runs/svhn_sdgm

Result here: not run yet (no SVHN files on the project's machines).

Data: the original train_32x32.mat, extra_32x32.mat and test_32x32.mat from data.data_dir,
else $ADGM_TF_DATA_DIR (its svhn/ folder or itself), else tensorflow-datasets. 100 labels per
digit drawn with data.seed; the unlabeled set is train + extra (604,388 images). Inputs (3072):
pixel + U(0, 1) divided by its colour channel's std over the training set, fresh noise at
every step; the training set stays uint8 (1.9 GB) and is prepared one batch at a time.

The paper's recipe: 2 hidden layers of 500 or 1000 units with dim(a) = dim(z) = 100 or 300
(it does not say which for SVHN: the larger here, for 3072 Gaussian inputs; a factor to
study), Gaussian p(x|.) with mean and log-variance heads, batches of 2000 of which half are
labeled (1000 + 1000), Adam 3e-4, beta = 0.1 (its range: 0.1 to 2). For Gaussian inputs the
paper names a warm-up of the KL terms or batch normalisation as stabilisers and found the SDGM
more stable than the ADGM: both are ON here (the warm-up over 10 epochs, about 6,000 steps).
The rest (initialisation, clipping, weight prior 1/N, learning-rate decay) as `mnist_adgm`,
whose docstring weighs them; the paper gives no SVHN schedule, so 1000 epochs as MNIST's.
Evaluation during training uses 10 samples of a every 5 epochs; the final one, the paper's 100.
"""

import ml_collections
from ml_collections import config_dict

from adgm_tf.configs import mnist_adgm


def get_config() -> ml_collections.ConfigDict:
    config = mnist_adgm.get_config()
    config.dataset = "svhn"
    config.data = ml_collections.ConfigDict(
        dict(
            data_dir=config_dict.placeholder(str),  # None: $ADGM_TF_DATA_DIR, else tfds
            include_extra=True,  # train + extra: 604,388 unlabeled images (False: 73,257)
            labels_per_class=100,
            num_train=config_dict.placeholder(int),  # None: all (a slice for quick runs)
            num_test=config_dict.placeholder(int),  # None: all 26,032
            seed=0,  # the label draw (the test set's noise: seed + 1)
        )
    )
    config.model = "sdgm"
    config.likelihood = "gaussian"
    config.x_var_floor = 1e-3  # p(x|.)'s variance floor; inputs have unit variance per channel: std >= 0.03
    config.hidden_sizes = (1000, 1000)
    config.a_dim = 300
    config.z_dim = 300
    config.batch_norm = True
    config.weight_prior = 1.0 / 604_388  # N(0, 1) prior on the weights, divided by N
    config.kl_warmup_epochs = 10.0  # KL terms of a and z weighted up from 0 to 1
    config.a_free_bits = 0.0  # nats per unit of a its KL may hold at no cost (0: off)
    config.batch_size = 1000  # unlabeled examples per step
    config.labeled_batch_size = 1000  # labeled examples per step: all of them
    config.eval_every_epochs = 5
    config.dtype_policy = "float32"  # bf16 products not measured on Gaussian inputs
    config.eval_predict_samples = 10
    return config
