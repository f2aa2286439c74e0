"""What a training run writes into its workdir, written so that no reader sees half a file."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from typing import Any


def write_json(path: str, payload: dict[str, Any]) -> str:
    """Writes JSON to a temporary file beside `path`, then renames it over `path`."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, path)
    return path


def replace_dir(tmp_dir: str, path: str) -> str:
    """Moves a finished directory `tmp_dir` to `path`, replacing what was there."""
    old = path + ".old"
    if os.path.exists(path):
        shutil.rmtree(old, ignore_errors=True)
        os.replace(path, old)
    os.replace(tmp_dir, path)
    shutil.rmtree(old, ignore_errors=True)
    return path


def read_history(path: str) -> dict[str, list[float]]:
    """Columns of the per-epoch history CSV written by `keras.callbacks.CSVLogger`.

    Cells CSVLogger writes as "NA" (a metric missing in that epoch) read as NaN.
    """
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {
        key: [float("nan") if r[key] in ("NA", "") else float(r[key]) for r in rows]
        for key in (rows[0] if rows else {})
    }


def trim_history(path: str, num_epochs: int) -> None:
    """Keeps the rows of epochs < num_epochs in a CSVLogger history (atomically).

    A run killed after its history row but before its checkpoint would otherwise repeat that
    epoch's row when it resumes.
    """
    if not os.path.isfile(path):
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if len(rows) <= 1:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) < num_epochs]
    if len(kept) == len(rows):
        return
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
    with os.fdopen(fd, "w", newline="") as f:
        csv.writer(f).writerows(kept)
    os.replace(tmp, path)


WEIGHTS_FILE = "model.weights.h5"  # the model's weights after the last finished epoch
CHECKPOINT_DIR = "checkpoint"  # Keras BackupAndRestore state: the resume point


def finished_epochs(workdir: str) -> int:
    """The number of epochs of the run in `workdir` that finished (0 for a new run)."""
    path = os.path.join(workdir, CHECKPOINT_DIR, "training_metadata.json")
    if not os.path.isfile(path):
        return 0
    with open(path) as f:
        return int(json.load(f)["epoch"])
