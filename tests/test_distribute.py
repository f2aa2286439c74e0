"""tf.distribute: a run split over replicas follows the one-device run with the same global
batch and seed, resumes after a kill, and exports a model that serves the same answers.

Every run is a fresh `bin/train.py` process: the CPU can be split into logical devices only
before TensorFlow starts, and each worker of a multi-worker run is a process of its own.
"""

import csv
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from adgm_tf import distribute, train
from adgm_tf.workdir import finished_epochs

ROOT = pathlib.Path(__file__).resolve().parents[1]
EPOCHS = 3
# Half-moons with batch normalisation (synchronised under a strategy), 6 steps an epoch of
# 100 unlabeled + 6 labeled points: 3 labeled points per replica with 2 replicas.
ARGS = ["--config=adgm_tf/configs/moons.py", "--config.data.num_train=600",
        "--config.data.num_test=200", "--config.num_samples=1", "--config.batch_norm=True",
        "--config.kl_warmup_epochs=1", "--config.progress_bar=False"]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
# Float sums in another order (all-reduce, per-replica partial sums) and nothing else: the
# losses agree to about 1e-5 relative after one epoch; 18 Adam steps may amplify that.
RTOL = 2e-3
COLUMNS = ("loss", "labeled_bound", "unlabeled_bound", "val_bound")


def _train_args(workdir, *extra):
    return [sys.executable, str(ROOT / "bin" / "train.py"), f"--workdir={workdir}", *ARGS,
            *extra]


def _run(workdir, *extra, env=ENV):
    done = subprocess.run(_train_args(workdir, *extra), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]


def _history(workdir):
    with open(pathlib.Path(workdir) / "history.csv", newline="") as f:
        return list(csv.DictReader(f))


def _assert_follows(history, reference):
    assert len(history) == len(reference) == EPOCHS
    for row, ref in zip(history, reference):
        for key in COLUMNS:
            np.testing.assert_allclose(float(row[key]), float(ref[key]), rtol=RTOL,
                                       err_msg=f"{key} at epoch {row['epoch']}")


def _assert_serves_the_same(workdir, reference):
    x = np.random.default_rng(0).uniform(-1.5, 2.5, size=(256, 2)).astype(np.float32)
    answers = [tf.saved_model.load(str(pathlib.Path(w) / "saved_model")).signatures["serve"](
        x=tf.constant(x))["probabilities"].numpy() for w in (workdir, reference)]
    np.testing.assert_allclose(answers[0], answers[1], atol=2e-3)


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("one_device")
    _run(workdir, f"--config.num_epochs={EPOCHS}")
    return workdir


def test_mirrored_on_two_cpus_follows_one_device_and_resumes_after_a_kill(tmp_path,
                                                                          one_device):
    args = _train_args(tmp_path, f"--config.num_epochs={EPOCHS}", "--config.strategy=mirrored",
                       "--config.logical_cpus=2")
    run = subprocess.Popen(args, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and run.poll() is None:
        if finished_epochs(str(tmp_path)) >= 1:
            break
        time.sleep(0.05)
    assert run.poll() is None, "the run ended before it could be killed: " + run.stderr.read()
    run.send_signal(signal.SIGKILL)
    run.wait(timeout=60)
    assert 1 <= finished_epochs(str(tmp_path)) < EPOCHS
    assert not (tmp_path / "metrics.json").exists()

    resumed = subprocess.run(args, cwd=ROOT, env=ENV, capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _assert_follows(_history(tmp_path), _history(one_device))
    _assert_serves_the_same(tmp_path, one_device)


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_localhost_follow_one_device(tmp_path, one_device):
    cluster = {"worker": [f"localhost:{port}" for port in _free_ports(2)]}
    workers = []
    for index in range(2):
        env = dict(ENV, TF_CONFIG=json.dumps({"cluster": cluster,
                                              "task": {"type": "worker", "index": index}}))
        workers.append(subprocess.Popen(
            _train_args(tmp_path, f"--config.num_epochs={EPOCHS}",
                        "--config.strategy=multi_worker_mirrored"),
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    try:
        errors = [w.communicate(timeout=600)[1] for w in workers]
    finally:
        for w in workers:
            w.kill()
    assert [w.returncode for w in workers] == [0, 0], errors[0][-2000:] + errors[1][-2000:]
    _assert_follows(_history(tmp_path), _history(one_device))
    _assert_serves_the_same(tmp_path, one_device)
    # Only the chief wrote: one history, one export, no worker scratch left behind.
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".export")) == []


def test_batches_the_replicas_cannot_share_are_refused():
    strategy = tf.distribute.get_strategy()
    distribute.check_divisible(strategy, batch_size=100)  # one replica takes anything

    class TwoReplicas:
        num_replicas_in_sync = 2

    with pytest.raises(ValueError, match="labeled_batch_size=5 cannot be split equally over 2"):
        distribute.check_divisible(TwoReplicas(), batch_size=100, labeled_batch_size=5)


def test_a_multi_worker_run_without_a_cluster_is_refused(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs the environment variable TF_CONFIG"):
        distribute.make_strategy("multi_worker_mirrored")
    with pytest.raises(ValueError, match="strategy must be one of"):
        distribute.make_strategy("parameter_server")


def test_an_unknown_strategy_is_refused_before_any_work(tmp_path):
    from adgm_tf.configs import moons, potential

    config = moons.get_config()
    config.strategy = "horovod"
    with pytest.raises(ValueError, match="strategy must be one of"):
        train.train_and_evaluate(config, str(tmp_path))
    config = potential.get_config()
    config.strategy = "mirrored"
    with pytest.raises(ValueError, match="runs on one device"):
        train.train_and_evaluate(config, str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_threads_cannot_change_once_tensorflow_runs():
    tf.constant(1.0).numpy()  # TensorFlow has started in this process
    with pytest.raises(RuntimeError, match="already started in this process"):
        train.set_threads(tf.config.threading.get_intra_op_parallelism_threads() + 3)
