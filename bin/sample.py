"""Samples of the generative model per class: python bin/sample.py --workdir=DIR.

Draws --num_rows latents z ~ p(z) and decodes each under every class (the mean of p(x|.)).
Writes DIR/samples.npy [rows, classes, features] and DIR/samples.png (an image grid for
image data, a scatter plot coloured by class for 2-D data).
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

import os

import numpy as np
from absl import app, flags

from adgm_tf import evaluation

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run of bin/train.py.")
_NUM_ROWS = flags.DEFINE_integer("num_rows", 8, "Samples of z, each decoded under every class.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the z samples.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    if _NUM_ROWS.value < 1:
        raise app.UsageError("--num_rows must be a positive integer.")
    console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    _, data, model = evaluation.load_trained(_WORKDIR.value)
    samples = evaluation.class_samples(model, _NUM_ROWS.value, _SEED.value)
    np.save(os.path.join(_WORKDIR.value, "samples.npy"), samples)
    print(evaluation.class_samples_figure(model, data, samples,
                                          os.path.join(_WORKDIR.value, "samples.png")))


if __name__ == "__main__":
    app.run(main)
