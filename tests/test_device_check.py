"""bin/device_check.sh, the one command for a GPU machine, on a tiny case on the CPU."""

import csv
import json
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_device_check_runs_every_step_into_one_folder(tmp_path):
    out = tmp_path / "out"
    result = subprocess.run(
        ["bash", str(ROOT / "bin" / "device_check.sh"), str(out), "--tiny", "--skip-install",
         "--long-minutes=5"],
        cwd=ROOT, env=dict(os.environ, PYTHON=sys.executable), capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    steps = [line.split()[:2] for line in (out / "summary.txt").read_text().splitlines()]
    assert steps == [["machine", "rc=0"], ["tests", "rc=0"], ["benchmark", "rc=0"],
                     ["epoch", "rc=0"], ["long", "rc=0"]]
    assert "tensorflow" in (out / "machine.txt").read_text()
    assert " passed" in (out / "tests.log").read_text()
    report = json.loads((out / "benchmark.json").read_text())
    assert [(c["model"], c["jit_compile"]) for c in report["cases"]] == [("sdgm", True)]
    assert report["cases"][0]["ms_per_step"] > 0
    assert 0 <= json.loads((out / "epoch" / "metrics.json").read_text())["test_error"] <= 1
    # the long run's history is brought up beside the others; its checkpoint resumes it
    with open(out / "long_history.csv") as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [0, 1]
    assert (out / "long" / "checkpoint").is_dir()


def test_device_check_refuses_bad_arguments(tmp_path):
    script = str(ROOT / "bin" / "device_check.sh")
    for args, message in [([], "usage"), ([str(tmp_path), "--fast"], "unknown option --fast"),
                          ([str(tmp_path), "--long-minutes=soon"], "must be a number")]:
        result = subprocess.run(["bash", script, *args], cwd=ROOT, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 2 and message in result.stderr, args
    assert not (tmp_path / "summary.txt").exists()
