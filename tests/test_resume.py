"""Interruption and faults: kill-and-resume, non-finite losses, and a workdir of another run."""

import csv
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

from adgm_tf import callbacks, datasets, train
from adgm_tf.configs import checks, mnist_adgm, moons
from adgm_tf.workdir import WEIGHTS_FILE, finished_epochs

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _history(workdir):
    with open(workdir / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _tiny_moons(**overrides):
    config = moons.get_config()
    config.data.num_train = 600
    config.data.num_test = 200
    config.num_samples = 1
    config.num_epochs = 1
    config.kl_warmup_epochs = 0.5
    config.progress_bar = False
    config.update(overrides)
    return config


@pytest.mark.parametrize("sig", [signal.SIGKILL])
def test_a_killed_run_resumes_from_its_last_finished_epoch(tmp_path, sig):
    args = [sys.executable, str(ROOT / "bin" / "train.py"), "--config=adgm_tf/configs/moons.py",
            f"--workdir={tmp_path}", "--config.num_epochs=6", "--config.num_samples=1",
            "--config.data.num_train=3000", "--config.data.num_test=300",
            "--config.progress_bar=False"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    run = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if finished_epochs(str(tmp_path)) >= 2:  # the checkpoint holds 2 epochs
            break
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be interrupted"
    run.send_signal(sig)  # mid-epoch: epochs 1 and 2 (at least) have finished
    run.wait(timeout=60)
    finished = finished_epochs(str(tmp_path))
    assert 2 <= finished < 6
    before = _history(tmp_path)[:finished]
    assert not (tmp_path / "metrics.json").exists()

    resumed = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"Epoch {finished + 1}/6" in resumed.stdout + resumed.stderr
    history = _history(tmp_path)
    assert [int(r["epoch"]) for r in history] == list(range(6))  # each epoch once
    assert history[:finished] == before  # what was finished is intact
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["epochs"] == 6 and 0.0 <= metrics["test_error"] <= 1.0

    # Same optimizer state, noise and data order: the resumed run matches an uninterrupted one.
    straight = tmp_path / "uninterrupted"
    args[3] = f"--workdir={straight}"
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    for got, want in zip(history, _history(straight)):
        for key in ("loss", "val_error", "val_bound"):
            assert float(got[key]) == pytest.approx(float(want[key]), rel=1e-4, abs=1e-6), (
                key, got["epoch"], finished)


def test_a_finished_run_continues_when_given_more_epochs(tmp_path):
    first = train.train_and_evaluate(_tiny_moons(num_epochs=1), str(tmp_path))
    metrics = train.train_and_evaluate(_tiny_moons(num_epochs=2), str(tmp_path))
    history = _history(tmp_path)
    assert [int(r["epoch"]) for r in history] == [0, 1]
    assert metrics["epochs"] == 2
    # the wall time is this invocation's; the epochs' total counts the first invocation's too
    assert (first["resumed_after_epoch"], metrics["resumed_after_epoch"]) == (0, 1)
    assert first["epoch_time_total_s"] == pytest.approx(float(history[0]["epoch_time_s"]), abs=0.1)
    assert metrics["epoch_time_total_s"] == pytest.approx(
        first["epoch_time_total_s"] + float(history[1]["epoch_time_s"]), abs=0.1)
    assert metrics["epoch_time_total_s"] > float(history[1]["epoch_time_s"]) > 0
    with pytest.raises(ValueError, match="model='adgm' there but 'm2' here"):
        train.train_and_evaluate(_tiny_moons(num_epochs=3, model="m2"), str(tmp_path))
    with pytest.raises(ValueError, match="holds a different run.*hidden_sizes"):
        train.train_and_evaluate(_tiny_moons(num_epochs=3, hidden_sizes=(10, 10)), str(tmp_path))
    # a run started before a config key existed resumes where the key keeps its neutral value
    saved = json.loads((tmp_path / "config.json").read_text())
    for key in checks.ADDED_KEYS:
        saved.pop(key, None)  # the moons config has no data.label_draw
    (tmp_path / "config.json").write_text(json.dumps(saved))
    with pytest.raises(ValueError, match="a_free_bits=0.0 there but 0.5 here"):
        train.train_and_evaluate(_tiny_moons(num_epochs=3, a_free_bits=0.5), str(tmp_path))
    assert train.train_and_evaluate(_tiny_moons(num_epochs=3), str(tmp_path))["epochs"] == 3


def test_an_older_mnist_workdir_without_a_label_draw_resumes(tmp_path):
    config = mnist_adgm.get_config()
    saved = json.loads(config.to_json_best_effort())
    del saved["data"]["label_draw"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    (tmp_path / WEIGHTS_FILE).write_bytes(b"")  # a run was started there
    checks.check_workdir(config, str(tmp_path))  # its draw was the neutral "choice"
    config.data.label_draw = "authors"
    with pytest.raises(ValueError, match="holds a different run.*'label_draw': 'authors'"):
        checks.check_workdir(config, str(tmp_path))


def _guarded_model(tmp_path, policy):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    path = str(tmp_path / "good.weights.h5")
    model.save_weights(path)
    good = [w.copy() for w in model.get_weights()]
    model.set_weights([w + 1.0 for w in good])  # the weights that went bad
    guard = callbacks.NonFiniteGuard(path, policy, max_rollbacks=1)
    guard.set_model(model)
    guard.on_epoch_begin(4)
    return model, guard, good


def test_non_finite_loss_stops_with_a_clear_message(tmp_path):
    model, guard, good = _guarded_model(tmp_path, "stop")
    guard.on_train_batch_end(0, {"loss": 1.5})  # finite: nothing happens
    with pytest.raises(FloatingPointError, match="loss became nan at epoch 5, step 3.*resume"):
        guard.on_train_batch_end(2, {"loss": float("nan")})


def test_any_non_finite_training_metric_stops(tmp_path):
    """Models that log no "loss" (the potential fit logs its bound) are guarded too."""
    model, guard, good = _guarded_model(tmp_path, "stop")
    guard.on_train_batch_end(0, {"bound": 0.5})
    with pytest.raises(FloatingPointError, match="bound became nan at epoch 5, step 2"):
        guard.on_train_batch_end(1, {"bound": float("nan")})


def test_non_finite_loss_rolls_back_to_the_last_finished_epoch(tmp_path):
    model, guard, good = _guarded_model(tmp_path, "rollback")
    guard.on_train_batch_end(0, {"loss": float("inf")})
    for got, want in zip(model.get_weights(), good):
        np.testing.assert_array_equal(got, want)
    with pytest.raises(FloatingPointError):  # only max_rollbacks=1 allowed
        guard.on_train_batch_end(1, {"loss": float("nan")})


def test_unknown_non_finite_policy_is_refused(tmp_path):
    with pytest.raises(ValueError, match="on_non_finite must be"):
        callbacks.NonFiniteGuard(str(tmp_path / "w.h5"), "ignore")


@pytest.mark.parametrize("overrides, message", [
    (dict(num_epochs=0), "num_epochs must be positive"),
    (dict(learning_rate=-1e-3), "learning_rate must be positive"),
    (dict(beta=-0.1), "beta must be non-negative"),
    (dict(on_non_finite="ignore"), "on_non_finite must be"),
    (dict(dtype_policy="float16"), "dtype_policy must be"),
    (dict(unlabeled_order="random"), "unlabeled_order must be one of"),
])
def test_impossible_config_values_are_refused_before_work(tmp_path, overrides, message):
    config = _tiny_moons()
    if "dtype_policy" in overrides:
        config.dtype_policy = "float32"
    config.update(overrides)
    with pytest.raises(ValueError, match=message):
        train.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("label_draw, message", [
    ("random", "data.label_draw must be one of"),
    ("authors", "read by the .* loaders only"),  # moons draws its labels its own way
])
def test_impossible_label_draw_is_refused_before_work(tmp_path, label_draw, message):
    config = _tiny_moons()
    config.data.label_draw = label_draw
    with pytest.raises(ValueError, match=message):
        train.train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_unlabeled_order_by_class_reaches_the_input_pipeline(tmp_path, monkeypatch, capsys):
    seen = {}

    def recording(x_labeled, y_labeled, x_unlabeled, **kwargs):
        seen.update(x_unlabeled=x_unlabeled, shuffle=kwargs["shuffle_unlabeled"])
        return real(x_labeled, y_labeled, x_unlabeled, **kwargs)

    real = train.semi_supervised_dataset
    monkeypatch.setattr(train, "semi_supervised_dataset", recording)
    config = _tiny_moons(unlabeled_order="by_class")
    train.train_and_evaluate(config, str(tmp_path))
    assert "unlabeled by_class" in capsys.readouterr().out
    assert seen["shuffle"] is False
    data = datasets.load(config.dataset, config.data)
    np.testing.assert_array_equal(seen["x_unlabeled"],
                                  data.x_unlabeled[np.argsort(data.y_unlabeled, kind="stable")])
    assert len(_history(tmp_path)) == 1


def test_unlabeled_sample_layout_reaches_the_model_and_bad_values_are_refused():
    config = _tiny_moons(unlabeled_sample_layout="authors")
    data = datasets.load(config.dataset, config.data)
    assert train.build_model(config, data).unlabeled_sample_layout == "authors"
    assert train.build_model(_tiny_moons(), data).unlabeled_sample_layout == "per_image"
    with pytest.raises(ValueError, match="unlabeled_sample_layout must be one of"):
        checks.check_config(_tiny_moons(unlabeled_sample_layout="scrambled"))
