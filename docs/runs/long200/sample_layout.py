"""What the unlabeled bound tells the classifier about each unlabeled image, read per image and
as the authors' early code read it (`bounds.authors_sample_layout`), on a run's last weights.

    python docs/runs/long200/sample_layout.py WORKDIR [SAMPLES] [IMAGES]

On the last 10,000 unlabeled training images (their validation split), in batches of 100 as
their code took them, once in class order (their batches: nearly every one holds one digit)
and once shuffled, with SAMPLES (default 10, their training's) samples of `a` and `z`:
the error of q(y|x); the error of argmax_k of the mean over the samples of log w(x, k), the
class under which the model explains the image best; and the error of the same argmax with
the samples read as their reshape read them. In the unlabeled bound the classifier's
gradient pulls q(y|x) towards softmax_k of that mean, so its argmax is the class each image
is pulled towards. The last two columns: of the images that q(y|x) gets wrong, the share
that each reading pulls towards their true class (the classes the loss adds to what the
classifier knows). Inference mode, the weights of the run's last epoch. IMAGES=test reads the
first 10,000 test images instead, shuffled only: whether the class the model explains an
image best under is right on images it never trained on too.
"""

import argparse

import numpy as np
import tensorflow as tf

from adgm_tf import bounds, evaluation

BATCH = 100  # their unlabeled batch
CHECKED = 10_000
SAMPLES = 10  # their training's
IMAGE_SETS = ("unlabeled", "test")


def pulled_towards(model, x, samples):
    """argmax_k of q(y|x), of the per-image mean of log w and of the authors' reading, [3, B]."""
    log_w, log_qy = model.unlabeled_terms(x, model._fresh_noise(x, samples), training=False)
    return np.stack([
        tf.argmax(tf.reduce_mean(tf.exp(log_qy), axis=1), axis=0).numpy(),
        tf.argmax(tf.reduce_mean(log_w, axis=1), axis=0).numpy(),
        tf.argmax(tf.reduce_mean(bounds.authors_sample_layout(log_w), axis=1), axis=0).numpy(),
    ])


def main(workdir: str, samples: int = SAMPLES, images: str = IMAGE_SETS[0]) -> None:
    if BATCH % samples:
        raise ValueError(f"SAMPLES must divide the batch of {BATCH}; got {samples}.")
    if images not in IMAGE_SETS:
        raise ValueError(f"IMAGES must be one of {IMAGE_SETS}; got {images!r}.")
    _, data, model = evaluation.load_trained(workdir)
    if images == "test":
        x, y, which = data.x_test[:CHECKED], data.y_test[:CHECKED], "first"
    else:
        x, y, which = data.x_unlabeled[-CHECKED:], data.y_unlabeled[-CHECKED:], "last"
    orders = {"shuffled": np.random.default_rng(0).permutation(len(y))}
    if images == "unlabeled":  # their batches: nearly every one holds one digit
        orders = {"class order": np.argsort(y, kind="stable"), **orders}
    print(f"{workdir}: {which} {CHECKED:,} {images} images, batches of {BATCH}, {samples} samples")
    print("| order | error of q(y\\|x) | error of argmax_k mean_s log w (per image) "
          "| error of argmax_k as their reshape read it | of q(y\\|x)'s errors, pulled to the "
          "true class: per image | as their reshape read it |")
    print("|---|---|---|---|---|---|")
    for name, idx in orders.items():
        xs, ys = x[idx], y[idx]
        got = np.concatenate([pulled_towards(model, tf.constant(xs[i:i + BATCH]), samples)
                              for i in range(0, len(ys), BATCH)], axis=1)
        errors = [f"{100 * np.mean(row != ys):.2f}%" for row in got]
        wrong = got[0] != ys
        errors += [f"{100 * np.mean(row[wrong] == ys[wrong]):.1f}% of {wrong.sum()}"
                   for row in got[1:]]
        print(f"| {name} | " + " | ".join(errors) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workdir")
    parser.add_argument("samples", nargs="?", type=int, default=SAMPLES)
    parser.add_argument("images", nargs="?", choices=IMAGE_SETS, default=IMAGE_SETS[0])
    args = parser.parse_args()
    main(args.workdir, args.samples, args.images)
