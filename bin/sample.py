"""Samples of the generative model per class: python bin/sample.py --workdir=DIR.

Draws --num_rows latents z ~ p(z) and decodes each under every class (the mean of p(x|.)).
Writes DIR/samples.npy [rows, classes, features] and DIR/samples.png (an image grid for
image data, a scatter plot coloured by class for 2-D data).
"""

import os

import numpy as np
from absl import app, flags

from adgm_tf import evaluation, plots

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory of a run of bin/train.py.")
_NUM_ROWS = flags.DEFINE_integer("num_rows", 8, "Samples of z, each decoded under every class.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the z samples.")
flags.mark_flags_as_required(["workdir"])


def main(argv):
    del argv
    if _NUM_ROWS.value < 1:
        raise app.UsageError("--num_rows must be a positive integer.")
    _, data, model = evaluation.load_trained(_WORKDIR.value)
    samples = evaluation.class_samples(model, _NUM_ROWS.value, _SEED.value)
    np.save(os.path.join(_WORKDIR.value, "samples.npy"), samples)
    png = os.path.join(_WORKDIR.value, "samples.png")
    if data.input_dim == 2:
        classes = np.tile(np.arange(model.num_classes), _NUM_ROWS.value)
        plots.scatter_classes(samples.reshape(-1, 2), classes, png, "samples of p(x|y,z) by class")
    else:
        plots.image_grid(evaluation.as_images(samples, data), png,
                         "z ~ p(z) (rows) decoded under each class (columns)",
                         column_labels=[str(k) for k in range(model.num_classes)])
    print(png)


if __name__ == "__main__":
    app.run(main)
