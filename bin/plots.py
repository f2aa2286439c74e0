"""The paper's figures from a trained run: python bin/plots.py --workdir=DIR.

Writes into --out_dir (default DIR/figures): analogies.png (Fig. 3a), class_samples.png
(Fig. 3b), kl_per_unit.png (Fig. 4a), pca_a.png (Fig. 4b) and test_error.png (Fig. 5, with
the curves of --compare workdirs beside this run's), and test_error_minutes.png (the same
curves against wall time, for runs that recorded their epochs' times).
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

import os

from absl import app, flags

from adgm_tf import evaluation

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run of bin/train.py.")
_OUT_DIR = flags.DEFINE_string("out_dir", None, "Where the PNGs go; default WORKDIR/figures.")
_COMPARE = flags.DEFINE_list("compare", [], "Further workdirs drawn in test_error.png.")
_NUM_EXAMPLES = flags.DEFINE_integer("num_examples", 2000, "Test examples for KL and PCA.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    out_dir = _OUT_DIR.value or os.path.join(_WORKDIR.value, "figures")
    for path in evaluation.figures(_WORKDIR.value, out_dir, _COMPARE.value, _NUM_EXAMPLES.value):
        print(path)


if __name__ == "__main__":
    app.run(main)
