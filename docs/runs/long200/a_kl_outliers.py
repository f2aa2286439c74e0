"""Which test images carry the KL of `a` that a run's history reports (`a_kl`: the mean over
the first N test images under their true classes, one sample of `z`; BENCHMARKS.md, fb05_10s).

    python docs/runs/long200/a_kl_outliers.py WORKDIR [N]

Prints the quantiles of each image's KL of `a` (`latents.kl_per_example`, summed over the
units) and the images above 200 nats with their class and q(y|x)'s.
"""

import sys

import numpy as np

from adgm_tf import evaluation, latents


def main(workdir: str, num_images: int = 2000) -> None:
    _, data, model = evaluation.load_trained(workdir)
    x, y = data.x_test[:num_images], data.y_test[:num_images]
    kl = latents.kl_per_example(model, x, y)["a"].sum(axis=-1)
    predicted = np.argmax(model.class_probabilities(x).numpy(), axis=-1)
    print(f"{num_images} test images, KL of a (nats): mean {kl.mean():.1f}, median "
          f"{np.median(kl):.1f}, 99th percentile {np.quantile(kl, 0.99):.1f}, max {kl.max():.1f}")
    for i in np.argsort(kl)[::-1]:
        if kl[i] <= 200:
            break
        print(f"  image {i}: class {y[i]}, q(y|x) says {predicted[i]}, KL of a {kl[i]:.0f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(n) for n in sys.argv[2:3]))
