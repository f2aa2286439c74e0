"""How the study's runs spread their predictions over the ten classes after epoch 20: the mean
entropy of q(y|x) over the test images, the mean of its largest probability, and how many of
the 10,000 test images each class is predicted for (argmax of q(y|x), 10 samples of `a`);
and whether the generative model still tells the classes apart: the bound L(x, k) of each
image with each class k (inference mode, 10 samples of `a` and `z`), its spread across the
classes (standard deviation over k, mean over the images, nats) and the error of
argmax_k L(x, k) (the class under which the model explains the image best).

    python docs/runs/seeds/class_use.py runs/seeds/wu50_s0 runs/seeds/adgm_s0 ...

Each argument is a study run's workdir (its config.json and model.weights.h5; the checkpoints
stay in runs/, so this reads the machine that trained them).
"""

import sys

import numpy as np
import tensorflow as tf

from adgm_tf import evaluation

SAMPLES = 10
BATCH = 100


def class_bounds(model, x):
    """L(x, k) for every image and class, [N, K] (`class_bounds`, SAMPLES samples)."""
    return np.concatenate([
        model.class_bounds(tf.constant(x[start:start + BATCH]), SAMPLES, training=False,
                           update_stats=False).numpy()
        for start in range(0, len(x), BATCH)])


def main(workdirs):
    print("| run | mean entropy of q(y\\|x) (nats; uniform 2.30) | mean largest probability "
          "| test images predicted per class 0-9 | classes never predicted | test error "
          "| spread of L(x, k) over k (nats) | error of argmax_k L(x, k) |")
    print("|---" * 8 + "|")
    for workdir in workdirs:
        _, data, model = evaluation.load_trained(workdir)
        probs = np.asarray(model.class_probabilities(data.x_test, num_samples=SAMPLES))
        entropy = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1).mean()
        predicted = probs.argmax(axis=1)
        counts = np.bincount(predicted, minlength=probs.shape[1])
        error = np.mean(predicted != data.y_test)
        bounds = class_bounds(model, data.x_test)
        bound_error = np.mean(bounds.argmax(axis=1) != data.y_test)
        print(f"| {workdir.rstrip('/').split('/')[-1]} | {entropy:.3f} | {probs.max(axis=1).mean():.3f} "
              f"| {' '.join(map(str, counts))} | {int(np.sum(counts == 0))} | {100 * error:.2f}% "
              f"| {bounds.std(axis=1).mean():.2f} | {100 * bound_error:.2f}% |")


if __name__ == "__main__":
    main(sys.argv[1:])
