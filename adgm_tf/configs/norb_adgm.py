"""Small NORB with 1000 labels: the ADGM (paper Table 1: 10.06%), Gaussian inputs.

    python bin/train.py --config=adgm_tf/configs/norb_adgm.py --workdir=runs/norb_adgm

Result here: not run yet (no small NORB files on the project's machines).
Everything else as `norb_sdgm` (its docstring gives the data and the recipe).
"""

from adgm_tf.configs import norb_sdgm


def get_config():
    config = norb_sdgm.get_config()
    config.model = "adgm"
    return config
