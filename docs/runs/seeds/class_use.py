"""How the study's runs spread their predictions over the ten classes after epoch 20: the mean
entropy of q(y|x) over the test images, the mean of its largest probability, and how many of
the 10,000 test images each class is predicted for (argmax of q(y|x), 10 samples of `a`).

    python docs/runs/seeds/class_use.py runs/seeds/wu50_s0 runs/seeds/adgm_s0 ...

Each argument is a study run's workdir (its config.json and model.weights.h5; the checkpoints
stay in runs/, so this reads the machine that trained them).
"""

import sys

import numpy as np

from adgm_tf import evaluation

SAMPLES = 10


def main(workdirs):
    print("| run | mean entropy of q(y\\|x) (nats; uniform 2.30) | mean largest probability "
          "| test images predicted per class 0-9 | classes never predicted | test error |")
    print("|---|---|---|---|---|---|")
    for workdir in workdirs:
        _, data, model = evaluation.load_trained(workdir)
        probs = np.asarray(model.class_probabilities(data.x_test, num_samples=SAMPLES))
        entropy = -(probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=1).mean()
        predicted = probs.argmax(axis=1)
        counts = np.bincount(predicted, minlength=probs.shape[1])
        error = np.mean(predicted != data.y_test)
        print(f"| {workdir.rstrip('/').split('/')[-1]} | {entropy:.3f} | {probs.max(axis=1).mean():.3f} "
              f"| {' '.join(map(str, counts))} | {int(np.sum(counts == 0))} | {100 * error:.2f}% |")


if __name__ == "__main__":
    main(sys.argv[1:])
