"""Prints the seed study's table (BENCHMARKS.md) from the runs' files in this folder, and draws
docs/study_auxiliary_usage.png: per run and epoch (a colour per variant, a line style per
seed), the spread of E[a|x] across test images over the variance of q(a|x), and the
test-error cost of noise in place of `a`.

    python docs/runs/seeds/table.py

Each run NAME_sSEED has NAME_sSEED/history.csv (bin/train.py) and, when it finished,
evaluation.json (bin/evaluate.py, 10,000 test images). A variant's row gives the mean and the
spread (min-max) over its seeds of the test error at epochs 5, 10, 15, 20 and of the `a`
diagnostics after epoch 20; runs still going show their last evaluated epoch. A second table
gives each variant's error after epoch 20 minus the control's on the same seeds.
"""

import csv
import json
import pathlib
import re
from collections import defaultdict

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
EPOCHS = (5, 10, 15, 20)
LINE_STYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)))  # seeds 0, 1, 2, 3, 4


def variant_and_seed(run):
    """("wu50", 2) for the run folder "wu50_s2"."""
    name, seed = re.fullmatch(r"(.+)_s(\d+)", run).groups()
    return name, int(seed)


def runs():
    variants = defaultdict(dict)
    for history in sorted(HERE.glob("*_s*/history.csv")):
        name, seed = variant_and_seed(history.parent.name)
        rows = list(csv.DictReader(history.open()))
        errors = {int(r["epoch"]) + 1: float(r["val_error"]) for r in rows
                  if r.get("val_error") not in (None, "", "nan")}
        evaluation = history.parent / "evaluation.json"
        final = json.loads(evaluation.read_text()) if evaluation.exists() else None
        variants[name][seed] = (errors, final)
    return variants


def cell(values, percent=True, digits=2):
    """Mean (min-max) of the values present; "[n of m]" where some seeds have none yet."""
    present = [v for v in values if v is not None]
    if not present:
        return "-"
    scale = 100 if percent else 1
    unit = "%" if percent else ""
    text = f"{np.mean(present) * scale:.{digits}f}{unit}"
    if len(present) > 1:
        text += f" ({min(present) * scale:.{digits}f}-{max(present) * scale:.{digits}f})"
    if len(present) < len(values):
        text += f" [{len(present)} of {len(values)}]"
    return text


def paired(variants, control="adgm", epoch=EPOCHS[-1]):
    """Each variant against the control on the seeds both ran (seed s: the same 100 labels and
    the same seed): the per-seed difference in test error at `epoch`, its mean and
    range in points, and on how many of those seeds the variant is ahead."""
    base = {s: errors.get(epoch) for s, (errors, _) in variants[control].items()}
    print(f"\n| variant | seeds shared with {control} | test error at epoch {epoch} minus "
          f"{control}'s: mean (min to max), points | seeds where it is ahead |")
    print("|---|---|---|---|")
    for name, seeds in sorted(variants.items(), key=lambda item: natural(item[0])):
        shared = [s for s in sorted(seeds) if base.get(s) is not None and epoch in seeds[s][0]]
        if name == control or not shared:
            continue
        diffs = 100 * np.array([seeds[s][0][epoch] - base[s] for s in shared])
        print(f"| {name} | {','.join(map(str, shared))} | {diffs.mean():+.2f} "
              f"({diffs.min():+.2f} to {diffs.max():+.2f}) | {int((diffs < 0).sum())} of "
              f"{len(shared)} |")


def natural(name):
    """Sort key that puts wu10 before wu50 before wu200."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def figure(path=HERE.parents[1] / "study_auxiliary_usage.png"):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    colours = {}  # one colour per variant, one line style per seed
    for history in sorted(HERE.glob("*_s*/history.csv"), key=lambda h: natural(h.parent.name)):
        rows = list(csv.DictReader(history.open()))
        if not rows or float(rows[0].get("a_posterior_var") or 0) == 0:
            continue  # no stochastic `a` (M2, the deterministic-`a` ADGM)
        name, seed = variant_and_seed(history.parent.name)
        style = dict(color=colours.setdefault(name, f"C{len(colours) % 10}"),
                     ls=LINE_STYLES[seed % len(LINE_STYLES)], label=name if seed == 0 else None)
        epochs = [int(r["epoch"]) + 1 for r in rows]
        ratio = [float(r["a_mean_spread"]) / float(r["a_posterior_var"]) for r in rows]
        cost = [100 * (float(r["val_error_a_noise"]) - float(r["val_error_a_mean"])) for r in rows]
        axes[0].semilogy(epochs, ratio, **style)
        axes[1].plot(epochs, cost, **style)
    axes[0].axhline(0.1, color="grey", ls="--", lw=1)
    axes[0].set(xlabel="epoch", ylabel="spread of E[a|x] / var q(a|x)",
                title="does a vary with x? (dashed: the issue's 0.1)")
    axes[1].axhline(1.0, color="grey", ls="--", lw=1)
    axes[1].set(xlabel="epoch", ylabel="error with a as noise - with a at its mean (points)",
                title="is a read? (2,000 test images; dashed: 1 point)")
    axes[1].legend(fontsize=7, title_fontsize=7,
                   title="seed 0 solid, 1 dashed, 2 dotted, 3 dash-dot, 4 dash-dot-dot")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def main():
    print("| variant | seeds | " + " | ".join(f"epoch {e}" for e in EPOCHS)
          + " | spread of E[a\\|x] / var q(a\\|x) | error, a at mean / a noise | KL of a |")
    print("|---" * (len(EPOCHS) + 5) + "|")
    variants = runs()
    for name, seeds in sorted(variants.items(), key=lambda item: natural(item[0])):
        errors = [[s[0].get(e) for s in seeds.values()] for e in EPOCHS]
        finals = [s[1] or {} for s in seeds.values()]
        spread = cell([f.get("a_mean_spread") for f in finals], False, 5)
        var = cell([f.get("a_posterior_var") for f in finals], False)
        mean = cell([f.get("error_a_mean") for f in finals])
        noise = cell([f.get("error_a_noise") for f in finals])
        kl = cell([f.get("a_kl") for f in finals], False, 3)
        print(f"| {name} | {','.join(map(str, sorted(seeds)))} | "
              + " | ".join(cell(e) for e in errors)
              + f" | {spread} / {var} | {mean} / {noise} | {kl} |")
    paired(variants)
    print(figure())


if __name__ == "__main__":
    main()
