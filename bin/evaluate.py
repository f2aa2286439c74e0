"""Evaluates a trained run: python bin/evaluate.py --workdir=DIR.

Prints and writes DIR/evaluation.json: the test error of q(y|x) (averaged over the config's
num_predict_samples samples of a), the test bound -U(x), and the importance-weighted bound on
log p(x) with --iw_samples samples (Burda et al., 2015); and the error on the last 10,000
unlabeled training images (`evaluation.unlabeled_error`: far below the test error, the run
learned classes it was not given).
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

import json
import os

from absl import app, flags

from adgm_tf import evaluation
from adgm_tf.configs.checks import DTYPE_POLICIES
from adgm_tf.workdir import write_json

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run of bin/train.py.")
_IW_SAMPLES = flags.DEFINE_integer("iw_samples", 10, "Samples of the importance-weighted bound.")
_BOUND_SAMPLES = flags.DEFINE_integer("bound_samples", 1, "Monte Carlo samples of -U(x).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", evaluation.EVAL_BATCH_SIZE,
                                    "Images per call of the model.")
_DTYPE_POLICY = flags.DEFINE_enum(
    "dtype_policy", None, list(DTYPE_POLICIES),
    "Evaluate in this precision instead of the run's (e.g. to measure bf16's effect).")
_OUTPUT = flags.DEFINE_string("output", "evaluation.json", "File name written in --workdir.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    for name in ("iw_samples", "bound_samples", "batch_size"):
        if flags.FLAGS[name].value < 1:
            raise app.UsageError(f"--{name} must be a positive integer.")
    console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    result = evaluation.evaluate_workdir(
        _WORKDIR.value, bound_samples=_BOUND_SAMPLES.value, iw_samples=_IW_SAMPLES.value,
        batch_size=_BATCH_SIZE.value, dtype_policy=_DTYPE_POLICY.value,
    )
    write_json(os.path.join(_WORKDIR.value, _OUTPUT.value), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main)
