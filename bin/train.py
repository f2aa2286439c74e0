"""Trains one experiment: python bin/train.py --config=adgm_tf/configs/moons.py --workdir=DIR.

Every hyperparameter lives in the config file; override any of them on the command line,
e.g. --config.num_epochs=3 --config.model=m2.
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

from absl import app, flags
from ml_collections import config_flags

from adgm_tf import train

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for the run's outputs.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    del argv
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    print(f"config: {config_flags.get_config_filename(flags.FLAGS['config'])}"
          + (f", overridden: {overrides}" if overrides else ""))
    metrics = train.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    print({k: v for k, v in metrics.items()})


if __name__ == "__main__":
    app.run(main)
