"""Prints the table of BENCHMARKS.md ("What carried their gap"): authors_log_10s resumed after
epoch 200 twice from the same checkpoint, once with the training loss as shipped
(`per_image`) and once reading the unlabeled bound's samples as the authors' early code did
(`authors`, `--config.unlabeled_sample_layout=authors`): the test error and the error on the
last 10,000 unlabeled training images (`bin/evaluate.py`) every 5 epochs.

    python docs/runs/authors_layout/table.py

Each arm's folder holds its `evaluation_epochN.json` and the rows of its history.csv after
epoch 200 (the rows before are ../long200/authors_log_10s/history.csv); epoch 200 is
authors_log_10s's own evaluation, the arms' common start.
"""

import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
START = HERE.parent / "long200" / "authors_log_10s" / "evaluation_epoch200.json"
ARMS = ("per_image", "authors")


def evaluations(arm: str) -> dict[int, dict]:
    found = {200: json.loads(START.read_text())}
    for path in (HERE / arm).glob("evaluation_epoch*.json"):
        found[int(path.stem.removeprefix("evaluation_epoch"))] = json.loads(path.read_text())
    return found


def main() -> None:
    runs = {arm: evaluations(arm) for arm in ARMS}
    epochs = sorted(set.intersection(*(set(r) for r in runs.values())))
    print("| epoch | " + " | ".join(f"{arm}: test / unlabeled (ratio)" for arm in ARMS) + " |")
    print("|---" * (len(ARMS) + 1) + "|")
    for epoch in epochs:
        cells = []
        for arm in ARMS:
            e = runs[arm][epoch]
            cells.append(f"{100 * e['test_error']:.2f}% / {100 * e['unlabeled_error']:.2f}% "
                         f"({e['unlabeled_error'] / e['test_error']:.2f})")
        print(f"| {epoch} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
