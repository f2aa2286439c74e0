"""The exported bound as an out-of-distribution score: python bin/ood.py --workdir=DIR.

Loads DIR/saved_model in this fresh process, scores the test images of --in_data (the set the
model was trained on) and of --out_data with the `bound` signature, and writes the AUROC into
DIR/ood.json and the ROC curve into DIR/ood_roc.png. Each data set is read as its loader reads
it: --in_data_dir / --out_data_dir, else $ADGM_TF_DATA_DIR.
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

import json
import os

from absl import app, flags

from adgm_tf import mnist, ood, plots
from adgm_tf.workdir import write_json

SETS = {"mnist": mnist.MNIST, "fashion_mnist": mnist.FASHION_MNIST}
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run with a saved_model/.")
_IN = flags.DEFINE_enum("in_data", "mnist", list(SETS), "The training data set.")
_OUT = flags.DEFINE_enum("out_data", "fashion_mnist", list(SETS), "The other data set.")
_IN_DIR = flags.DEFINE_string("in_data_dir", None, "Directory of --in_data's idx files.")
_OUT_DIR = flags.DEFINE_string("out_data_dir", None, "Directory of --out_data's idx files.")
_NUM = flags.DEFINE_integer("num_examples", 10_000, "Test images of each set to score.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    if _NUM.value < 1:
        raise app.UsageError("--num_examples must be positive.")
    console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    model_dir = os.path.join(_WORKDIR.value, "saved_model")
    if not os.path.isdir(model_dir):
        raise app.UsageError(f"{model_dir} does not exist: train or export a model first.")
    scores = {}
    for name, directory in ((_IN.value, _IN_DIR.value), (_OUT.value, _OUT_DIR.value)):
        _, _, x_test, _ = mnist.load_arrays(mnist.data_dir_from(directory), True, SETS[name])
        scores[name] = ood.bound_scores(model_dir, x_test[: _NUM.value])
    result = ood.separation(scores[_IN.value], scores[_OUT.value])
    title = f"bound as a score: {_IN.value} (in) vs {_OUT.value}, AUROC {result['auroc']:.4f}"
    plots.curves_against({"ROC": (result.pop("fpr"), result.pop("tpr"))},
                         os.path.join(_WORKDIR.value, "ood_roc.png"),
                         f"false positive rate ({_OUT.value} taken as {_IN.value})",
                         "true positive rate", title=title)
    result.update(in_data=_IN.value, out_data=_OUT.value, num_examples=_NUM.value,
                  **{f"mean_bound_{k}": float(v.mean()) for k, v in scores.items()})
    write_json(os.path.join(_WORKDIR.value, "ood.json"), result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    app.run(main)
