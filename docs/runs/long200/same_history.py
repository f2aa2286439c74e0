"""Whether a run started over reproduces a committed history, epoch by epoch
(BENCHMARKS.md: authors_log_10s started over on another machine from its seed).

    python docs/runs/long200/same_history.py COMMITTED_HISTORY NEW_HISTORY

Compares every column but the wall times over the epochs both files hold and prints how
many epochs are bit for bit the same and the largest difference. Exits with 1 where they
differ.
"""

import sys

import numpy as np

from adgm_tf.workdir import read_history

WALL_TIMES = ("epoch_time_s", "eval_time_s")


def compare(committed: str, new: str) -> int:
    old, now = read_history(committed), read_history(new)
    if set(old) != set(now):
        print(f"the columns differ: {sorted(set(old) ^ set(now))}")
        return 1
    columns = [c for c in old if c not in WALL_TIMES]
    epochs = min(len(old["epoch"]), len(now["epoch"]))
    a = np.array([old[c][:epochs] for c in columns])
    b = np.array([now[c][:epochs] for c in columns])
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    identical = int(np.sum(np.all(same, axis=0)))
    gap = np.nanmax(np.abs(a - b), initial=0.0)
    print(f"{epochs} epochs in both ({len(old['epoch'])} committed, {len(now['epoch'])} new): "
          f"{identical} the same bit for bit; largest difference {gap:g}")
    return 0 if identical == epochs else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(compare(sys.argv[1], sys.argv[2]))
