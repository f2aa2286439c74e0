"""Exports a trained run for serving: python bin/export.py --workdir=DIR --export_dir=PATH.

The SavedModel takes raw inputs (for MNIST all 784 grey levels in [0, 1]; the pixel selection
travels inside it) and has two signatures: `serve` -> {"probabilities", "label"} and
`bound` -> {"bound"} (the bound on log p(x) per example). bin/train.py writes the same export
to DIR/saved_model at the end of training.
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

from absl import app, flags

from adgm_tf import evaluation
from adgm_tf.export import export_saved_model

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run of bin/train.py.")
_EXPORT_DIR = flags.DEFINE_string("export_dir", None, "Where the SavedModel goes.")
_BOUND_SAMPLES = flags.DEFINE_integer("bound_samples", 10, "Monte Carlo samples of `bound`.")
flags.mark_flags_as_required(["workdir", "export_dir"])


def main(argv):
    del argv
    if _BOUND_SAMPLES.value < 1:
        raise app.UsageError("--bound_samples must be a positive integer.")
    console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    _, data, model = evaluation.load_trained(_WORKDIR.value)
    print(export_saved_model(model, _EXPORT_DIR.value, data.feature_indices, data.raw_input_dim,
                             _BOUND_SAMPLES.value))


if __name__ == "__main__":
    app.run(main)
