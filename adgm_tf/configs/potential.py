"""Auxiliary VAE against a plain Gaussian on the two-mode potential (paper Sec. 4.1, Fig. 2a, 2b).

Reproduce (writes metrics.json with both bounds and the true log Z, densities.png, bound.png):

    python bin/train.py --config=adgm_tf/configs/potential.py --workdir=runs/potential

Paper: 3 hidden layers of 20 units, dim(a) = 4, dim(z) = 2. From a symmetric start both fits
stay at or near the saddle between the modes; random initial means (init_std) and restarts
from several seeds break the symmetry (the paper: the one-mode solution is the more frequent).
Measured results: BUILD.md.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    config = ml_collections.ConfigDict()
    config.trainer = "potential"
    config.potential = "two_modes"  # U_1 of Rezende and Mohamed (2015)
    config.a_dim = 4
    config.hidden_sizes = (20, 20, 20)
    config.num_samples = 100  # Monte Carlo samples per step
    config.learning_rate = 3e-3  # Adam (1e-3 stayed near the broad start in 10,000 steps)
    config.num_epochs = 20
    config.steps_per_epoch = 1000
    config.num_eval_samples = 100_000  # samples of the final bound estimate
    config.progress_bar = True
    config.seed = 0  # the first restart's; restart k uses seed + k
    config.num_restarts = 5  # independent fits; metrics.json has each, the best, the spread
    config.init_std = 1.0  # random initial means (q(z|a)'s head, the Gaussian's mean); None: 0
    return config
