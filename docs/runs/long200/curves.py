"""Prints the 200-epoch table of BENCHMARKS.md ("MNIST-100 to epoch 200: Monte Carlo samples
and an informative `a`") and draws docs/mnist_200_epochs_study.png: test error against epoch
for the runs in this folder (10 samples; free bits) beside the authors' ADGM log and our
earlier 1-sample runs to epoch 200.

    python docs/runs/long200/curves.py

Each run NAME here has NAME/history.csv (bin/train.py, evaluated every 5 epochs) and, once it
reached its last epoch, NAME/evaluation.json (bin/evaluate.py); NAME/evaluation_epochN.json
are `bin/evaluate.py --output=evaluation_epochN.json` on the weights after epoch N. Runs
still going show their last evaluated epoch; their rows grow as the runs are resumed from
their checkpoints. The figure's second panel: the error on unlabeled training images
(`unlabeled_error`) over the test error, ours from the evaluations, the authors' from their
log's per-epoch validation column (../authors_log_1000/errors.csv).
"""

import csv
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
RUNS = HERE.parent
EPOCHS = (5, 10, 20, 30, 50, 100, 150, 200)

# The authors' early ADGM log (reproduction notes): 10 samples, 784 inputs, no batch norm.
AUTHORS_LOG = {10: 0.1727, 20: 0.1475, 30: 0.1269, 50: 0.1460, 100: 0.0544, 150: 0.0274,
               200: 0.0159}
# The control, `mnist_adgm` with 1 sample, seeds 0, to epoch 200 (reproduction notes).
CONTROL = {1: 0.1742, 5: 0.1478, 10: 0.1117, 20: 0.0830, 30: 0.0701, 50: 0.0598,
           100: 0.0468, 150: 0.0422, 200: 0.0392}
# Our other 1-sample runs to epoch 200 (BENCHMARKS.md, "MNIST-100 to epoch 200"), and the
# first 126 epochs of the authors' settings with 10 samples, shuffled, on an earlier commit.
REFERENCE_RUNS = {
    "authors' early model, beta 2, 1 sample": RUNS / "long" / "adgm_200.csv",
    "mnist_sdgm, 1 sample": RUNS / "long" / "sdgm_200.csv",
    "authors' log settings, 10 samples (earlier commit)": RUNS / "authors_log" / "history.csv",
}


AUTHORS_PER_EPOCH = RUNS / "authors_log_1000" / "errors.csv"

# Twins: the same command but for the unlabeled order (class-ordered, reshuffled every epoch).
ORDER_TWINS = (("authors_1s_by_class", "authors_1s_shuffled"),)


def authors_per_epoch() -> dict[int, tuple[float, float]]:
    """{epoch: (1-sample test error, 1-sample error on their validation images)}."""
    return {int(r["epoch"]): (float(r["test_error"]), float(r["valid_error"]))
            for r in csv.DictReader(AUTHORS_PER_EPOCH.open())}


def unlabeled_errors(run: pathlib.Path) -> dict[int, tuple[float, float]]:
    """{epoch: (test_error, unlabeled_error)} from the run's evaluations."""
    found = {}
    for path in run.glob("evaluation*.json"):
        e = json.loads(path.read_text())
        if "unlabeled_error" not in e:
            continue
        suffix = path.stem.removeprefix("evaluation").removeprefix("_epoch")
        epoch = int(suffix) if suffix else len(list(csv.DictReader((run / "history.csv").open())))
        found[epoch] = (e["test_error"], e["unlabeled_error"])
    return dict(sorted(found.items()))


def unlabeled_ratios(run: pathlib.Path) -> dict[int, float]:
    """{epoch: unlabeled_error / test_error} from the run's evaluations."""
    return {epoch: u / t for epoch, (t, u) in unlabeled_errors(run).items()}


def errors(history: pathlib.Path) -> dict[int, float]:
    """{epoch (1-based): test error} of the evaluated epochs of one history."""
    rows = csv.DictReader(history.open())
    return {int(r["epoch"]) + 1: float(r["val_error"]) for r in rows
            if r.get("val_error") not in (None, "", "nan")}


def curves() -> dict[str, dict[int, float]]:
    found = {"mnist_adgm (control), 1 sample": CONTROL}
    found.update({name: errors(path) for name, path in REFERENCE_RUNS.items() if path.exists()})
    for history in sorted(HERE.glob("*/history.csv")):
        found[f"{history.parent.name} (this study)"] = errors(history)
    return found


def a_usage(run: pathlib.Path) -> str:
    """The `a` diagnostics after the run's last epoch, from evaluation.json or the history."""
    evaluation = run / "evaluation.json"
    if evaluation.exists():
        e = json.loads(evaluation.read_text())
        values = [e.get(k) for k in ("a_mean_spread", "a_posterior_var", "error_a_mean",
                                     "error_a_noise")]
    else:
        last = list(csv.DictReader((run / "history.csv").open()))[-1]
        values = [last.get(k) for k in ("a_mean_spread", "a_posterior_var", "val_error_a_mean",
                                        "val_error_a_noise")]
    if any(v in (None, "", "nan") for v in values):
        return "-"
    spread, var, at_mean, noise = map(float, values)
    return f"{spread:.4f} / {var:.3f}; {100 * at_mean:.2f}% / {100 * noise:.2f}%"


def figure(found, path=RUNS.parent / "mnist_200_epochs_study.png"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ratio) = plt.subplots(1, 2, figsize=(13, 5), width_ratios=(3, 2))
    ax.semilogy(list(AUTHORS_LOG), [100 * v for v in AUTHORS_LOG.values()], "ko--",
                label="authors' ADGM log, 10 samples")
    per_epoch = authors_per_epoch()
    ax.semilogy(list(per_epoch), [100 * v for _, v in per_epoch.values()], color="0.6",
                lw=0.8, label="authors' log: their validation images (unlabeled set), 1 sample")
    ratio.semilogy(list(per_epoch), [v / t for t, v in per_epoch.values()], color="0.6",
                   lw=0.8, label="authors' log (validation / test, 1 sample)")
    for name, curve in found.items():
        style = "-" if "this study" in name else ":"
        line, = ax.semilogy(list(curve), [100 * v for v in curve.values()], style, label=name)
        ratios = unlabeled_ratios(HERE / name.removesuffix(" (this study)"))
        if "this study" in name and ratios:
            ratio.semilogy(list(ratios), list(ratios.values()), "o", color=line.get_color(),
                           label=name)
    ax.set(xlabel="epoch", ylabel="test error (%)", xlim=(0, 205),
           title="MNIST, 100 labels: 200 epochs")
    ratio.set(xlabel="epoch", ylabel="error on unlabeled training images / test error",
              xlim=(0, 1000), title="Does a run know its unlabeled images' classes?")
    for a in (ax, ratio):
        a.grid(True, which="both", alpha=0.3)
        a.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main():
    found = curves()
    print("| run | " + " | ".join(f"epoch {e}" for e in EPOCHS) + " | last evaluated epoch | "
          "`a` after the last epoch trained: spread / var; error a at mean / a noise |")
    print("|---" * (len(EPOCHS) + 3) + "|")
    print("| authors' ADGM log | " + " | ".join(
        f"{100 * AUTHORS_LOG[e]:.2f}%" if e in AUTHORS_LOG else "" for e in EPOCHS) + " | 1000 | - |")
    for name, curve in found.items():
        cells = [f"{100 * curve[e]:.2f}%" if e in curve else "" for e in EPOCHS]
        run = HERE / name.removesuffix(" (this study)")
        usage = a_usage(run) if "this study" in name else "-"
        print(f"| {name} | " + " | ".join(cells) + f" | {max(curve, default=0)} | {usage} |")
    print("\n| run | epoch | test error | error on the last 10,000 unlabeled images | ratio |")
    print("|---|---|---|---|---|")
    for name in found:
        if "this study" in name:
            for epoch, (t, u) in unlabeled_errors(HERE / name.removesuffix(" (this study)")).items():
                print(f"| {name.removesuffix(' (this study)')} | {epoch} | {100 * t:.2f}% | "
                      f"{100 * u:.2f}% | {u / t:.2f} |")
    for by_class, shuffled in ORDER_TWINS:
        ordered, reshuffled = unlabeled_errors(HERE / by_class), unlabeled_errors(HERE / shuffled)
        both = sorted(set(ordered) & set(reshuffled))
        if not both:
            continue
        print(f"\n| epoch | {by_class}: test / unlabeled (ratio) | "
              f"{shuffled}: test / unlabeled (ratio) |")
        print("|---|---|---|")
        for epoch in both:
            cells = [f"{100 * t:.2f}% / {100 * u:.2f}% ({u / t:.2f})"
                     for t, u in (ordered[epoch], reshuffled[epoch])]
            print(f"| {epoch} | " + " | ".join(cells) + " |")
    print(figure(found))


if __name__ == "__main__":
    main()
