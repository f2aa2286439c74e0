"""Writes errors.csv here from the authors' early ADGM log (1000 epochs, 10 samples, their
class-ordered unlabeled batches): per epoch the 1-sample test error, the 1-sample error on
their validation split (10,000 images that were also in the unlabeled training set), and the
100-sample test error where the log has one (every 10 epochs).

    python docs/runs/authors_log_1000/extract.py LOG

LOG: output/id_20151209002003_ADGMSSL_784_[500, 500, 500, 500, 500, 500]_200/
_logging_2015-12-09-002003.log in github.com/ml-lab/auxiliary-deep-generative-models (MIT
licence), e.g. `git show "HEAD:PATH" > log.txt` in a clone.
"""

import csv
import pathlib
import sys


def parse(lines):
    """[(epoch, test 1-sample, valid 1-sample, test 100-sample or None)] from the log's lines."""
    rows = []
    for line in lines:
        if line.startswith("[epoch,"):
            fields = line.strip().split(";")
            rows.append([int(fields[1]), float(fields[4].rstrip("%")) / 100,
                         float(fields[5].rstrip("%")) / 100, None])
        elif line.startswith("test 100-samples:") and rows:
            rows[-1][3] = float(line.split(":")[1].strip().rstrip(".%")) / 100
    return rows


def main(log: str) -> None:
    rows = parse(pathlib.Path(log).read_text().splitlines())
    out = pathlib.Path(__file__).resolve().parent / "errors.csv"
    with out.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["epoch", "test_error", "valid_error", "test_error_100_samples"])
        for epoch, test, valid, test100 in rows:
            writer.writerow([epoch, f"{test:.4f}", f"{valid:.4f}",
                             "" if test100 is None else f"{test100:.4f}"])
    print(f"{out}: {len(rows)} epochs")


if __name__ == "__main__":
    main(sys.argv[1])
