"""SVHN with 1000 labels: the ADGM (paper Table 1: 22.86%), Gaussian inputs.

    python bin/train.py --config=adgm_tf/configs/svhn_adgm.py --workdir=runs/svhn_adgm

Result here: not run yet (no SVHN files on the project's machines).
Everything else as `svhn_sdgm` (its docstring gives the data and the recipe).
"""

from adgm_tf.configs import svhn_sdgm


def get_config():
    config = svhn_sdgm.get_config()
    config.model = "adgm"
    return config
