"""Every script in bin/ runs end to end on a tiny budget."""

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Each script in bin/ with a tiny run of it; a script missing here fails the test below.
SMOKE_RUNS = {
    "train.py": [
        ["--config=adgm_tf/configs/moons.py", "--config.num_epochs=1",
         "--config.data.num_train=400", "--config.data.num_test=200",
         "--config.num_samples=1", "--config.kl_warmup_epochs=0.5", "--config.progress_bar=False"],
        ["--config=adgm_tf/configs/moons.py", "--config.model=m2", "--config.num_epochs=1",
         "--config.data.num_train=200", "--config.data.num_test=100", "--config.threads=1",
         "--config.progress_bar=False"],
        ["--config=adgm_tf/configs/potential.py", "--config.num_epochs=1",
         "--config.steps_per_epoch=20", "--config.num_eval_samples=1000",
         "--config.num_restarts=2", "--config.progress_bar=False"],
    ],
    # Two tiny cases in fresh processes; the workdir receives benchmark.json.
    "benchmark.py": [
        ["--models=adgm,m2", "--input_dims=12", "--num_samples=2", "--dtype_policies=float32",
         "--steps=2", "--warmup_steps=2", "--num_unlabeled=200", "--peak_size=0",
         "--profile_steps=2", "--config.hidden_sizes=(8, 8)", "--config.a_dim=3",
         "--config.z_dim=2", "--steps_per_execution=2", "--threads=1"],
        # one real epoch through bin/train.py (here the half-moons, no download)
        ["--models=", "--config=adgm_tf/configs/moons.py",
         "--config.data.num_train=300", "--config.data.num_test=100",
         "--epoch_policies=float32", "--epoch_eval_predict_samples=2",
         "--epoch_variants=threads=0+eval_predict_samples=3"],
    ],
    # These read a trained run: the `trained_mnist` workdir below.
    "evaluate.py": [["--iw_samples=3", "--batch_size=40"],
                    ["--iw_samples=2", "--dtype_policy=mixed_bfloat16",
                     "--output=evaluation_bf16.json"]],
    "plots.py": [["--num_examples=60"]],
    "sample.py": [["--num_rows=3"]],
    "export.py": [["--export_dir=EXPORT"]],
    # MNIST against itself (CI has no Fashion-MNIST files): identical bounds, AUROC 0.5
    "ood.py": [["--out_data=mnist", "--num_examples=40"]],
}
NEEDS_TRAINED_RUN = {"evaluate.py", "plots.py", "sample.py", "export.py", "ood.py"}


def test_every_script_has_a_smoke_run():
    scripts = sorted(p.name for p in (ROOT / "bin").glob("*.py"))
    assert scripts == sorted(SMOKE_RUNS), "add the new script to SMOKE_RUNS"


# A line of TensorFlow's C++ logging ("I0000 00:00:1796 ... port.cc:153] oneDNN ...") or of
# its start-up notices, which the scripts send to WORKDIR/tensorflow.log (adgm_tf.console).
NATIVE_LOG_LINE = re.compile(
    r"^[IWEF]\d{4} [\d:.]+\s+\d+ \S+\.(cc|h):\d+\]|absl::InitializeLog|cpu_feature_guard"
    r"|oneDNN custom operations|cuda_platform|cudart_stub|INFO:(absl|tensorflow):", re.M)


def _run(script, args, workdir):
    """Runs a script as a user would (TF_CPP_MIN_LOG_LEVEL unset) and checks that neither its
    standard output nor its standard error shows a line of TensorFlow's C++ logging."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bin" / script), f"--workdir={workdir}", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
    )
    for stream in (result.stdout, result.stderr):
        noise = NATIVE_LOG_LINE.search(stream)
        assert noise is None, f"{script} printed TensorFlow's log: {stream[noise.start():][:300]}"
    return result


@pytest.mark.parametrize(
    "script, args",
    [(s, a) for s, runs in SMOKE_RUNS.items() for a in runs],
    ids=lambda v: v if isinstance(v, str) else "|".join(a.split("/")[-1] for a in v[:2]),
)
def test_script_runs(script, args, tmp_path, request):
    if script in NEEDS_TRAINED_RUN:
        workdir = request.getfixturevalue("trained_mnist")
        args = [a.replace("EXPORT", str(tmp_path / "export")) for a in args]
        result = _run(script, args, workdir)
        assert result.returncode == 0, result.stderr[-3000:]
        if script == "export.py":
            served = tf.saved_model.load(str(tmp_path / "export")).signatures["serve"](
                x=tf.zeros([2, 784]))  # raw images: the pixel selection is inside
            assert served["probabilities"].shape == (2, 10)
        elif script == "ood.py":
            report = json.loads((workdir / "ood.json").read_text())
            assert report["auroc"] == pytest.approx(0.5) and report["num_examples"] == 40
            assert report["mean_bound_mnist"] < 0
            assert (workdir / "ood_roc.png").stat().st_size > 1000
        elif script == "sample.py":
            assert np.load(workdir / "samples.npy").shape[:2] == (3, 10)  # [rows, classes, D]
            assert (workdir / "samples.png").exists()
        elif script == "evaluate.py" and "--dtype_policy=mixed_bfloat16" in args:
            evaluation = json.loads((workdir / "evaluation_bf16.json").read_text())
            trained = json.loads((workdir / "metrics.json").read_text())
            # bf16 products on the float32 weights: close to the float32 run's numbers
            assert evaluation["test_bound"] == pytest.approx(trained["test_bound"], rel=0.01)
            assert abs(evaluation["test_error"] - trained["test_error"]) <= 0.05
        elif script == "evaluate.py":
            evaluation = json.loads((workdir / "evaluation.json").read_text())
            trained = json.loads((workdir / "metrics.json").read_text())
            # the reloaded weights classify as the trained model did
            assert evaluation["test_error"] == pytest.approx(trained["test_error"], abs=1e-6)
            assert evaluation["test_iw_bound_3"] >= evaluation["test_bound"] - 5.0
            for key in ("test_bound_binarized", "test_bound_batch_stats",
                        "test_bound_binarized_batch_stats"):
                assert np.isfinite(evaluation[key]), key
            assert evaluation["a_posterior_var"] > 0 and evaluation["a_mean_spread"] >= 0
            assert 0 <= evaluation["error_a_noise"] <= 1 and evaluation["a_kl"] >= 0
            assert evaluation["num_unlabeled_checked"] == 300  # the whole slice
            assert 0 <= evaluation["unlabeled_error"] <= 1
        else:
            for name in ("analogies.png", "class_samples.png", "kl_per_unit.png",
                         "pca_a.png", "test_error.png", "test_error_minutes.png"):
                assert (workdir / "figures" / name).stat().st_size > 1000, name
        return
    result = _run(script, args, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    if script == "benchmark.py":
        report = json.loads((tmp_path / "benchmark.json").read_text())
        if "--epoch_policies=float32" in args:
            epochs = report["epochs"]
            assert [e["overrides"].get("eval_predict_samples") for e in epochs] == [2, 3]
            assert [e["speed"]["threads"] for e in epochs][1] == 0  # the variant's setting
            for e in epochs:
                assert 0 < e["eval_s"] < e["epoch_s"] and 0 <= e["val_error"] <= 1
                # the floor: the epoch's steps at the machine's matmul rate
                assert e["steps"] == 3 and e["train_gflop"] > 0  # 300 points, batches of 100
                rate = report["matmul_gflops"]["float32:10000"]  # K S B_u rows, S = 10
                assert e["floor_s"] == pytest.approx(3 * e["train_gflop"] / rate)
                assert e["best_floor_s"] > 0
            assert result.stdout.count("one epoch of moons.py (") == 2
            assert "x the fastest precision's floor" in result.stdout
            return
        assert [(c["model"], c["threads"], c["steps_per_execution"]) for c in report["cases"]] == [
            ("adgm", 1, 2), ("m2", 1, 2)]
        for case in report["cases"]:
            assert case["ms_per_step"] > 0 and case["timed_steps"] == 2 and case["loss_finite"]
            profile = case["profile_ms_per_step"]
            assert profile["matmul"] > 0 and profile["other"] > 0 and profile["top_ops"]
            running = profile["ops_running"]  # ms a step with 0, 1, ..., all cores' ops
            assert len(running) == report["machine"]["usable_cores"] + 1
            assert all(t >= 0 for t in running) and sum(running[1:]) > 0
            assert case["train_gflop"] > 0 and case["peak_memory_mb"] > 0
        assert report["matmul_gflops"]["float32:2000"] > 0  # K * S * B_u rows
        assert "| m2 D=12 S=2 fp32 1-thread ops 2 steps/call |" in result.stdout
        assert report["machine"]["usable_cores"] >= 1
        before, after = report["machine"]["matmul_gflops_before_after"]["float32:2000"]
        assert report["matmul_gflops"]["float32:2000"] == max(before, after)
        assert "| adgm D=12 S=2 fp32 1-thread ops 2 steps/call | " in result.stdout.split(
            "op time in products")[1]
        return
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert (tmp_path / "config.json").exists()
    if "potential" in args[0]:
        assert metrics["gaussian_bound"] < metrics["true_log_Z"]
        assert [r["seed"] for r in metrics["auxiliary_runs"]] == metrics["seeds"] == [0, 1]
        assert metrics["auxiliary_bound"] == max(r["bound"] for r in metrics["auxiliary_runs"])
        assert 0 <= metrics["gaussian_both_modes"] <= 2
        for name in ("densities.png", "bound.png", "auxiliary_seed0/history.csv",
                     "auxiliary_seed1/history.csv", "gaussian_seed1/history.csv"):
            assert (tmp_path / name).exists(), name
    else:
        assert 0.0 <= metrics["test_error"] <= 1.0 and metrics["epochs"] == 1
        # what the run is, before the first step; TensorFlow's start-up lines in the log
        summary = result.stdout.split("\n")
        assert summary[0].startswith("config: adgm_tf/configs/moons.py, overridden: {")
        assert summary[1].startswith("adgm_tf: semi_supervised training, seed 0")
        for row in ("model", "data", "training", "machine", "speed", "workdir", "TF log"):
            assert any(line.split()[:1] == row.split()[:1] for line in summary[2:10]), row
        assert "moons: 6 labeled" in result.stdout
        speed_line = next(line for line in summary if line.split()[:1] == ["speed"])
        threads_given = any(a.startswith("--config.threads=") for a in args)
        assert ("per op (auto: " in speed_line) != threads_given, speed_line  # said when chosen
        assert metrics["speed"]["steps_per_execution"] == 1  # the moons config's own
        assert (tmp_path / "tensorflow.log").exists()
        assert not NATIVE_LOG_LINE.search(result.stdout.split("TF log")[0])
        assert (tmp_path / "history.csv").exists()
        assert (tmp_path / "decision_boundary.png").exists()
        assert (tmp_path / "test_error.png").exists()
        served = tf.saved_model.load(str(tmp_path / "saved_model")).signatures["serve"](
            x=tf.zeros([3, 2]))
        assert served["probabilities"].shape == (3, 2)


@pytest.fixture(scope="module")
def trained_mnist(tmp_path_factory):
    """A workdir of a tiny SDGM run on a slice of MNIST (p(x|a,y,z) exercises most paths)."""
    workdir = tmp_path_factory.mktemp("mnist_run")
    result = _run("train.py", [
        "--config=adgm_tf/configs/mnist_adgm.py", "--config.model=sdgm",
        "--config.data.num_train=300", "--config.data.num_test=80",
        "--config.hidden_sizes=(40, 40)", "--config.a_dim=8", "--config.z_dim=8",
        "--config.num_predict_samples=5", "--config.num_epochs=1",
        "--config.progress_bar=False"], workdir)
    assert result.returncode == 0, result.stderr[-3000:]
    return workdir


def test_evaluate_refuses_a_workdir_without_a_run(tmp_path):
    result = _run("evaluate.py", [], tmp_path)
    assert result.returncode != 0 and "does not hold a trained run" in result.stderr


def test_benchmark_refuses_bad_flags(tmp_path):
    result = _run("benchmark.py", ["--models=vae"], tmp_path)
    assert result.returncode != 0 and "Unknown model or dtype policy" in result.stderr
    result = _run("benchmark.py", ["--config.num_epoch=3", "--input_dims=4"], tmp_path)
    assert result.returncode != 0 and "num_epoch" in result.stderr


def test_unknown_config_key_is_refused(tmp_path):
    result = _run("train.py", ["--config=adgm_tf/configs/moons.py", "--config.num_epoch=3"],
                  tmp_path)
    assert result.returncode != 0 and "num_epoch" in result.stderr
    assert not (tmp_path / "metrics.json").exists()


def test_impossible_config_value_is_refused_before_training(tmp_path):
    result = _run("train.py", ["--config=adgm_tf/configs/moons.py", "--config.model=vae"],
                  tmp_path)
    assert result.returncode != 0 and "Unknown model 'vae'" in result.stderr
    assert not (tmp_path / "history.csv").exists()


def test_training_writes_tensorboard_summaries(trained_mnist):
    tags = {}
    for path in (trained_mnist / "tensorboard").rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                tags[value.tag] = value.metadata.plugin_data.plugin_name
    assert tags.get("kl_per_unit/z") == "histograms" and tags.get("kl_per_unit/a") == "histograms"
    assert tags.get("class_samples") == "images"
    assert "epoch_loss" in tags and "epoch_error" in tags  # per-epoch metrics


def test_a_shipped_mnist_config_runs_at_the_machines_speed_settings(trained_mnist):
    """mnist_adgm.py leaves precision, threads and steps per call to the machine: the run
    used what `speed` chooses here (300 unlabeled images in batches of 100: 3 steps an epoch,
    all in one call), and config.json keeps the config as given."""
    from adgm_tf import console, speed

    used = json.loads((trained_mnist / "metrics.json").read_text())["speed"]
    cpu_policy = speed.dtype_policy([], console.cpu_flags())[0]
    assert used["dtype_policy"] == cpu_policy or tf.config.list_physical_devices("GPU")
    assert used["threads"] == speed.threads(len(tf.config.list_physical_devices("GPU")),
                                            console.usable_cores())[0]
    assert used["steps_per_execution"] == 3 and used["eval_every_epochs"] == 5
    given = json.loads((trained_mnist / "config.json").read_text())
    assert (given["dtype_policy"], given["threads"], given["steps_per_execution"]) == (
        "auto", None, None)
