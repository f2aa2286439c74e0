"""Throughput of training: the FLOPs of a step counted from the layer sizes, the machine's
matrix-product rate, and steady-state steps through `model.fit` (used by bin/benchmark.py).

Counting. Every network is an MLP whose first layer projects each input separately and adds
the projections by broadcasting (`networks.MLP`). Its multiply-adds in one pass are

    sum_i rows(v_i) * dim(v_i) * H_1  +  rows(out) * (H_1 H_2 + ... + H_M * head width)

where rows() counts the leading elements of a tensor: x has B rows, a has S*B, an observed y
has B and the enumerated y has K, z has S*B (labeled) or K*S*B (unlabeled), and the output
has the broadcast of its inputs' leading shapes. A Gaussian head has width 2 * event size.
A training step runs the labeled and the unlabeled pass; its backward pass is counted as twice
the forward (gradients with respect to the weights and to the layer inputs), so a step costs
3 x 2 x the multiply-adds in FLOPs, except the first-layer products of the data (x and the
one-hot y), which need no input gradient: 2 x 2 x theirs. Element-wise work, batch
normalisation and the optimizer are not counted.

The matrix-product rate is the machine's: measured in a process that may use every core
this process may (`usable_cores`), whatever thread settings the cases run with, so a step
that keeps the cores busy through parallel ops (one thread per op, two ops at a time) is
not compared with a one-core rate.

Each case runs in a fresh process (`python -m adgm_tf.benchmark REQUEST_JSON`, the config
travelling as JSON), so its peak resident memory is its own and one case's compiled functions
do not slow the next.
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from typing import Any

import ml_collections
import numpy as np

from adgm_tf.console import cpu_name, usable_cores  # usable_cores: also this module's API

NUM_CLASSES = 10  # the synthetic data's classes, as MNIST's


@dataclasses.dataclass(frozen=True)
class Case:
    """One configuration to time: the config's recipe with these fields overridden."""

    model: str  # a key of models.MODELS
    input_dim: int  # features of x (MNIST: 444 or 784)
    num_samples: int  # Monte Carlo samples S
    dtype_policy: str = "float32"
    jit_compile: bool = False
    share_work: bool = True  # False: the straightforward step, inputs tiled per class
    # >1: MirroredStrategy over this many replicas (GPUs, else logical CPU devices; see
    # `distribute`), the global batch unchanged
    replicas: int = 1
    # TensorFlow's threads per op (intra-op) in the case's process; 0: its default (one per
    # core). Ops that do not depend on each other still run side by side on the inter-op
    # threads (one per core).
    threads: int = 0
    # training steps per call of the compiled step (Keras' steps_per_execution)
    steps_per_execution: int = 1

    @property
    def label(self) -> str:
        xla = " xla" if self.jit_compile else ""
        tiled = "" if self.share_work else " tiled"
        dtype = {"bfloat16": "bf16", "float32": "fp32"}[compute_dtype(self.dtype_policy)]
        mirrored = f" mirrored R={self.replicas}" if self.replicas > 1 else ""
        threads = f" {self.threads}-thread ops" if self.threads else ""
        per_call = (f" {self.steps_per_execution} steps/call"
                    if self.steps_per_execution > 1 else "")
        return (f"{self.model} D={self.input_dim} S={self.num_samples} "
                f"{dtype}{xla}{tiled}{mirrored}{threads}{per_call}")


# ---------------------------------------------------------------------------- counting


def _leading_shapes(num_classes: int, num_samples: int, batch: int, enumerated: bool):
    """Leading shape (K, S, B) of every variable in one pass; 1 where an axis is absent."""
    k = num_classes if enumerated else 1
    return {
        "x": (1, 1, batch),
        "y": (k, 1, 1) if enumerated else (1, 1, batch),
        "a": (1, num_samples, batch),
        "z": (k, num_samples, batch),
    }


DATA_INPUTS = ("x", "y")  # inputs that need no gradient


def network_macs(network, shapes: dict[str, tuple[int, int, int]],
                 only: tuple[str, ...] | None = None) -> int:
    """Multiply-adds of one `StochasticNetwork` pass given its inputs' leading shapes; with
    `only`, those of the first-layer products of the named inputs alone."""
    names = network.input_names
    hidden = network.mlp.hidden_sizes
    first = sum(
        int(np.prod(shapes[n])) * d * hidden[0] for n, d in zip(names, network.mlp.input_dims)
        if only is None or n in only
    )
    if only is not None:
        return first
    out_rows = int(np.prod(np.max([shapes[n] for n in names], axis=0)))
    head = network.head.event_size * (2 if network.head.kind == "gaussian" else 1)
    widths = list(hidden) + [head]
    return first + out_rows * sum(a * b for a, b in zip(widths[:-1], widths[1:]))


def step_flops(model, labeled_batch: int, unlabeled_batch: int) -> dict[str, int]:
    """FLOPs of one training step of a `DeepGenerativeModel` (see the module docstring).

    With `model.share_work` off, q(z|a,y,x), p(a|.) and p(x|.) see every unlabeled input
    tiled to K * S * B rows."""
    per_example = [n for n in (model.q_a, model.q_y) if n]
    per_class = [n for n in (model.q_z, model.p_a, model.p_x) if n]
    # a frozen q(a|x) (adgm_fixed_qa) makes `a` a function of the data and noise alone
    data = DATA_INPUTS + (("a",) if model.q_a is not None and not model.q_a.trainable else ())
    forward = backward = 0
    for batch, enumerated in ((labeled_batch, False), (unlabeled_batch, True)):
        shapes = _leading_shapes(model.num_classes, model.num_samples, batch, enumerated)
        for networks in (per_example, per_class):
            if networks is per_class and enumerated and not model.share_work:
                shapes = {name: shapes["z"] for name in shapes}  # all tiled to (K, S, B)
            for n in networks:
                macs = network_macs(n, shapes)
                forward += macs
                if n.trainable:  # a frozen network has no backward pass at all
                    # weight and input gradients, less the data's input gradients
                    backward += 2 * macs - network_macs(n, shapes, only=data)
    return {"forward_flops": 2 * forward, "train_flops": 2 * (forward + backward)}


# ---------------------------------------------------------------------------- timing


def matmul_rate(rows: int, width: int, dtype: str = "float32", seconds: float = 1.0) -> float:
    """GFLOP/s of [rows, width] x [width, width] products chained 10 deep in a tf.function:
    the best call within `seconds` (other work on the machine only slows calls down)."""
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w = tf.constant(np.linalg.qr(rng.normal(size=(width, width)))[0], tf.float32)
    x = tf.constant(rng.normal(size=(rows, width)), tf.float32)
    w, x = tf.cast(w, dtype), tf.cast(x, dtype)  # orthogonal w keeps the values bounded
    depth = 10

    @tf.function
    def chain(x):
        for _ in range(depth):
            x = tf.matmul(x, w)
        return x[0, 0]

    chain(x).numpy()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline or best == 0.0:  # the best of repeated calls
        start = time.perf_counter()
        chain(x).numpy()
        best = max(best, 2.0 * rows * width * width * depth / (time.perf_counter() - start))
    return best / 1e9


def machine_matmul_rates(sizes: list[tuple[int, int, str]], timeout: float = 600) -> list[float]:
    """`matmul_rate(rows, width, dtype)` for each size, in a fresh process with one thread
    per usable core (TensorFlow's intra-op threads and OpenMP's), whatever this process's
    thread settings: the machine's rate."""
    cores = str(usable_cores())
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_NUM_INTRAOP_THREADS=cores,
               OMP_NUM_THREADS=cores)
    request = json.dumps({"rates": [list(s) for s in sizes]})
    done = subprocess.run([sys.executable, "-m", "adgm_tf.benchmark", request],
                          capture_output=True, text=True, env=env, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"Measuring the matmul rate failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _synthetic_data(input_dim: int, num_unlabeled: int, labels_per_class: int, seed: int = 0):
    """Grey-level images in [0, 1] of MNIST's sizes: NUM_CLASSES classes, `labels_per_class`
    labels each."""
    from adgm_tf.datasets import SemiSupervisedData

    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(num_unlabeled, input_dim)).astype(np.float32)
    y = np.arange(num_unlabeled, dtype=np.int32) % NUM_CLASSES
    labeled = np.arange(NUM_CLASSES * labels_per_class)
    return SemiSupervisedData(
        x_labeled=x[labeled], y_labeled=y[labeled], x_unlabeled=x,
        x_test=x[:100], y_test=y[:100], num_classes=NUM_CLASSES, likelihood="bernoulli",
    )


MATMUL_OPS = ("MatMul", "_MklMatMul", "_MklNativeMatMul", "_MklFusedMatMul",
              "_MklNativeFusedMatMul", "BatchMatMulV2", "BatchMatMulV3", "_MklBatchMatMulV2",
              "_MklNativeBatchMatMulV2")
XLA_EVENT = "CpuExecutable::ExecuteAsyncOnStream"  # one run of an XLA-compiled cluster


def ops_running(intervals: list[tuple[float, float]], most: int) -> list[float]:
    """Seconds during which 0, 1, ..., `most` (or more) of the (start, end) intervals are
    under way at once, from the first start to the last end.

    With op events as intervals and `most` the number of cores: how long the cores had
    nothing to run, one op, ..., an op each.
    """
    if most < 1:
        raise ValueError(f"most must be at least 1, got {most}.")
    seconds = [0.0] * (most + 1)
    edges = sorted([(s, 1) for s, e in intervals] + [(e, -1) for s, e in intervals])
    running, last = 0, None
    for t, step in edges:
        if last is not None:
            seconds[min(running, most)] += t - last
        running += step
        last = t
    return seconds


def op_times(xspace_path: str, cores: int = 2
             ) -> tuple[dict[str, float], dict[str, float], list[float]]:
    """Seconds spent in matrix products, in XLA-fused clusters and in other TensorFlow ops,
    summed over the host threads of a profiler trace (an .xplane.pb file); the same seconds
    by op type (XLA clusters as "XLA"); and the seconds with 0, 1, ..., `cores` (or more)
    ops running at once (`ops_running`).

    TensorFlow names an op's event "name:OpType"; infrastructure events (executors,
    function calls) carry "::" or spaces and are left out, so nested events are not counted
    twice. Sums are thread time: ops that run side by side count in full.
    """
    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    space = xplane_pb2.XSpace()
    with open(xspace_path, "rb") as f:
        space.ParseFromString(f.read())
    totals = {"matmul": 0.0, "xla": 0.0, "other": 0.0}
    by_type: dict[str, float] = {}
    intervals = []
    for plane in space.planes:
        if plane.name != "/host:CPU":
            continue
        for line in plane.lines:
            for event in line.events:
                name = plane.event_metadata[event.metadata_id].name
                seconds = event.duration_ps * 1e-12
                start = line.timestamp_ns * 1e-9 + event.offset_ps * 1e-12
                if name == XLA_EVENT:
                    kind, group = "XLA", "xla"
                else:
                    op, _, kind = name.rpartition(":")
                    if not op or "::" in name or " " in name or not kind.isidentifier():
                        continue
                    if kind.startswith("_Xla") or kind.startswith("Iterator") or op.startswith(
                            "Iterator"):
                        continue  # launches (their clusters are counted apart) and tf.data
                    group = "matmul" if kind in MATMUL_OPS else "other"
                totals[group] += seconds
                by_type[kind] = by_type.get(kind, 0.0) + seconds
                intervals.append((start, start + seconds))
    return totals, by_type, ops_running(intervals, cores)


def profile_steps(model, dataset, steps: int, logdir: str, top: int = 12) -> dict[str, Any]:
    """Trains `steps` more steps under TensorFlow's profiler; `op_times` per step, in ms,
    with the `top` op types that took longest ("top_ops") and the time with 0, 1, ...
    ops running at once on this process's cores ("ops_running")."""
    import glob
    import shutil

    import tensorflow as tf

    shutil.rmtree(logdir, ignore_errors=True)
    tf.profiler.experimental.start(logdir)
    try:
        model.fit(dataset, epochs=1, steps_per_epoch=steps, verbose=0)
    finally:
        tf.profiler.experimental.stop()
    path = glob.glob(os.path.join(logdir, "**", "*.xplane.pb"), recursive=True)[0]
    totals, by_type, running = op_times(path, usable_cores())
    result: dict[str, Any] = {k: 1e3 * v / steps for k, v in totals.items()}
    ranked = sorted(by_type.items(), key=lambda kv: -kv[1])[:top]
    result["top_ops"] = [[kind, 1e3 * v / steps] for kind, v in ranked]
    result["ops_running"] = [1e3 * v / steps for v in running]
    return result


def time_case(config, case: Case, warmup_steps: int, steps: int,
              num_unlabeled: int = 60_000, profile: int = 0) -> dict[str, Any]:
    """Trains `case` through model.fit on synthetic MNIST-sized data; times each step.

    Returns the median and mean milliseconds of the `steps` steps after `warmup_steps`,
    seconds per epoch, unlabeled examples per second, FLOPs, the process's peak memory and,
    when `profile` > 0, the op times of that many further steps under the profiler
    (`profile_steps`; the profiler slows the steps, so only the shares are comparable).
    """
    import keras
    import tensorflow as tf

    from adgm_tf import distribute, input_pipeline, train

    per_call = case.steps_per_execution
    if warmup_steps % per_call or steps % per_call:
        raise ValueError(f"{case.label}: warm-up steps ({warmup_steps}) and timed steps "
                         f"({steps}) must be multiples of steps_per_execution ({per_call}).")
    strategy = _case_strategy(case)
    config = _case_config(config, case)
    keras.utils.set_random_seed(config.seed)
    data = _synthetic_data(case.input_dim, num_unlabeled, config.data.labels_per_class)
    steps_per_epoch = len(data.x_unlabeled) // config.batch_size
    with strategy.scope():
        model = train.build_model(config, data)
        model.share_work = case.share_work
        model.compile(optimizer=train.build_optimizer(config, steps_per_epoch),
                      jit_compile=case.jit_compile,
                      steps_per_execution=case.steps_per_execution)
    dataset = distribute.replica_steps(strategy, input_pipeline.semi_supervised_dataset(
        data.x_labeled, data.y_labeled, data.x_unlabeled, batch_size=config.batch_size,
        labeled_batch_size=config.labeled_batch_size, num_classes=data.num_classes,
        seed=config.seed, binarize=config.data.binarize, first_epoch=0,
    ))
    step_s, wall = _timed_fit(model, dataset, warmup_steps, steps, per_call)
    flops = step_flops(model, min(config.labeled_batch_size, len(data.x_labeled)),
                       config.batch_size)
    median = float(np.median(step_s))
    ops_ms = {}
    if profile:  # whole calls of the compiled step
        with tempfile.TemporaryDirectory() as logdir:
            ops_ms = profile_steps(model, dataset, -(-profile // per_call) * per_call, logdir)
    return {
        "profile_ms_per_step": ops_ms,
        **dataclasses.asdict(case),
        "label": case.label,
        "ms_per_step": 1e3 * median,
        "ms_per_step_mean": 1e3 * float(np.mean(step_s)),
        "ms_per_step_min": 1e3 * float(np.min(step_s)),
        "timed_steps": int(len(step_s)) * per_call,
        "s_per_epoch": median * steps_per_epoch,
        "unlabeled_examples_per_s": config.batch_size / median,
        "train_gflop": flops["train_flops"] / 1e9,
        "achieved_gflops": flops["train_flops"] / median / 1e9,
        "unlabeled_rows": unlabeled_rows(case.num_samples, config.batch_size),
        "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "fit_wall_s": wall,
        "loss_finite": bool(np.isfinite(float(model.trackers["loss"].result()))),
        "tensorflow": tf.__version__,
    }


def _case_strategy(case: Case):
    """The default strategy, or MirroredStrategy over `case.replicas` devices (logical CPUs
    where there is no GPU)."""
    import tensorflow as tf

    from adgm_tf import distribute

    if case.replicas == 1:
        return tf.distribute.get_strategy()
    logical = 0 if tf.config.list_physical_devices("GPU") else case.replicas
    strategy = distribute.make_strategy("mirrored", logical)
    if strategy.num_replicas_in_sync != case.replicas:
        raise ValueError(f"{case.label}: this machine gives {strategy.num_replicas_in_sync} "
                         f"replicas, not {case.replicas}.")
    return strategy


def _case_config(config: ml_collections.ConfigDict, case: Case) -> ml_collections.ConfigDict:
    """A copy of `config` with the case's model, samples and precision, checked."""
    from adgm_tf.architectures import ARCHITECTURES
    from adgm_tf.configs import checks

    config = config.copy_and_resolve_references()
    config.model = case.model
    if ARCHITECTURES[case.model].auxiliary != "stochastic":
        config.p_a_inputs = None  # no p(a|.) in this model
    config.num_samples = case.num_samples
    config.dtype_policy = case.dtype_policy
    config.jit_compile = case.jit_compile
    checks.check_config(config)
    return config


def _timed_fit(model, dataset, warmup_steps: int, steps: int, per_call: int):
    """model.fit over warmup_steps + steps; returns the seconds of each timed step (each
    call's interval over its steps) and the fit's wall time."""
    import keras

    stamps: list[float] = []
    timer = keras.callbacks.LambdaCallback(  # called once per call of the compiled step
        on_train_batch_end=lambda batch, logs: stamps.append(time.perf_counter()))
    start = time.perf_counter()
    model.fit(dataset, epochs=1, steps_per_epoch=warmup_steps + steps, callbacks=[timer],
              verbose=0)
    wall = time.perf_counter() - start
    return np.diff(stamps)[warmup_steps // per_call - 1:] / per_call, wall


def run_case_in_subprocess(config: ml_collections.ConfigDict, case: Case, warmup_steps: int,
                           steps: int, num_unlabeled: int = 60_000,
                           timeout: float = 3600, profile: int = 0) -> dict:
    """`time_case` in a fresh Python process; returns its result."""
    request = dict(config=json.loads(config.to_json_best_effort()),
                   case=dataclasses.asdict(case), warmup_steps=warmup_steps, steps=steps,
                   num_unlabeled=num_unlabeled, profile=profile)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    for name in ("TF_NUM_INTRAOP_THREADS", "OMP_NUM_THREADS"):
        if case.threads:
            env[name] = str(case.threads)
        else:  # TensorFlow's default
            env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "adgm_tf.benchmark", json.dumps(request)],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"Benchmark case {case.label} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def time_epoch(config_file: str, overrides: dict[str, Any], workdir: str,
               timeout: float = 3600) -> dict[str, Any]:
    """Two epochs of real training through bin/train.py (the config file with `overrides`,
    e.g. {"dtype_policy": "mixed_bfloat16", "eval_predict_samples": 10}); returns the second
    epoch's wall time (steps and in-training evaluation, from history.csv), the evaluation's
    share, the epoch's steps and the FLOPs of one training step (`step_flops` of the run's
    own model), from which `epoch_floor` follows. The first epoch, which traces and
    compiles, is not reported."""
    import csv

    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    flags = [f"--config.{k}={v!r}" if isinstance(v, (tuple, list)) else f"--config.{k}={v}"
             for k, v in {**overrides, "num_epochs": 2, "progress_bar": False}.items()]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, os.path.join(repo, "bin", "train.py"), f"--config={config_file}",
         f"--workdir={workdir}", *flags],
        capture_output=True, text=True, env=env, timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bin/train.py failed for {overrides}:\n{done.stderr[-3000:]}")
    with open(os.path.join(workdir, "history.csv")) as f:
        rows = list(csv.DictReader(f))
    second = rows[-1]
    from adgm_tf.evaluation import load_trained  # the run's own model, for its step's FLOPs

    config, data, model = load_trained(workdir)
    flops = step_flops(model, config.labeled_batch_size, config.batch_size)["train_flops"]
    with open(os.path.join(workdir, "metrics.json")) as f:
        used = json.load(f)["speed"]  # the settings the run used ("auto" chosen)
    return {
        "config_file": config_file,
        "speed": used,
        "unlabeled_rows": unlabeled_rows(config.num_samples, config.batch_size),
        "steps": len(data.x_unlabeled) // config.batch_size,
        "train_gflop": flops / 1e9,
        "overrides": dict(overrides),
        "epoch_s": float(second["epoch_time_s"]),
        "eval_s": float(second["eval_time_s"]),
        "val_error": float(second["val_error"]),
        "val_bound": float(second["val_bound"]),
        "first_epoch_s": float(rows[0]["epoch_time_s"]),
        "process_wall_s": time.perf_counter() - start,
    }


def parse_overrides(text: str) -> dict[str, Any]:
    """'key=value+key=value' as {key: value}, each value a Python literal where it reads as
    one (0, 1e-3, (500, 500)) and a string otherwise (mixed_bfloat16)."""
    import ast

    overrides = {}
    for item in text.split("+"):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{item!r} is not key=value")
        try:
            overrides[key.strip()] = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            overrides[key.strip()] = value.strip()
    return overrides


def epoch_line(epoch: dict[str, Any]) -> str:
    """One epoch of `time_epoch` beside its floors, in words."""
    used = epoch["speed"]
    settings = ", ".join(f"{k} {used[k]}" for k in ("dtype_policy", "threads",
                                                     "steps_per_execution", "jit_compile"))
    extra = epoch["overrides"] or "as shipped"
    return (f"one epoch of {os.path.basename(epoch['config_file'])} ({extra}; ran with "
            f"{settings}): {epoch['epoch_s']:.1f} s, of it {epoch['eval_s']:.1f} s evaluating "
            f"the test set; floor {epoch['floor_s']:.1f} s ({epoch['steps']} steps x "
            f"{epoch['train_gflop']:.2f} GFLOP at the matmul rate of its precision): "
            f"{epoch['epoch_s'] / epoch['floor_s']:.2f} x; "
            f"{epoch['epoch_s'] / epoch['best_floor_s']:.2f} x the fastest precision's floor "
            f"{epoch['best_floor_s']:.1f} s")


def epoch_floor(epoch: dict[str, Any], gflops: float) -> float:
    """Seconds an epoch of `time_epoch` would take if its steps' products ran at `gflops`
    (the machine's matmul rate) and nothing else took time: steps x step FLOPs / rate."""
    return epoch["steps"] * epoch["train_gflop"] / gflops


def machine() -> dict[str, Any]:
    """What ran the benchmark: CPU model, cores, memory, TensorFlow."""
    import tensorflow as tf

    cpu = cpu_name()
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "usable_cores": usable_cores(),
            "memory_gib": round(memory_gb, 1),
            "gpus": len(tf.config.list_physical_devices("GPU")), "tensorflow": tf.__version__,
            "python": platform.python_version()}


def markdown_table(cases: list[dict], rates: dict[str, float]) -> str:
    """One row per case; the last column divides the achieved rate by the matmul rate at the
    case's unlabeled size in its dtype (`rates` keyed by `rate_key`)."""
    lines = [
        "| case | ms/step | s/epoch | unlabeled ex/s | GFLOP/step | GFLOP/s | of matmul rate "
        "| peak MB |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        rate = _case_rate(c, rates)
        share = f"{100 * c['achieved_gflops'] / rate:.0f}%" if rate else "-"
        lines.append(
            f"| {c['label']} | {c['ms_per_step']:.1f} | {c['s_per_epoch']:.1f} "
            f"| {c['unlabeled_examples_per_s']:.0f} | {c['train_gflop']:.2f} "
            f"| {c['achieved_gflops']:.0f} | {share} | {c['peak_memory_mb']:.0f} |"
        )
    return "\n".join(lines)


def _case_rate(case: dict, rates: dict[str, float]) -> float | None:
    """The matmul rate at the case's unlabeled rows in its precision, if measured."""
    return rates.get(rate_key(case["dtype_policy"], case["unlabeled_rows"]))


def _op_time(case: dict) -> tuple[dict, float]:
    """The case's profile (ms per step) and its total op time."""
    ops = case.get("profile_ms_per_step") or {}
    return ops, sum(ops.get(k, 0.0) for k in ("matmul", "xla", "other"))


def profile_table(cases: list[dict], rates: dict[str, float]) -> str:
    """Where each case's step time goes: the share of the op time (thread time under the
    profiler) in matrix products, XLA-fused element-wise clusters and other ops, the time
    its products would take at the measured matmul rate, and the share of the profiled
    time with 0, 1, ..., N ops running at once (N: the cores; "0 / 1 / 2")."""
    lines = [
        "| case | ms/step | products at matmul rate (ms) | op time in products "
        "| in XLA-fused clusters | in other ops | time with 0 / 1 / ... ops running |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        ops, total = _op_time(c)
        if not total:
            continue
        rate = _case_rate(c, rates)
        ideal = f"{c['train_gflop'] / rate * 1e3:.1f}" if rate else "-"
        running = ops.get("ops_running") or []
        shares = " / ".join(f"{100 * t / sum(running):.0f}%" for t in running) or "-"
        lines.append(
            f"| {c['label']} | {c['ms_per_step']:.1f} | {ideal} "
            f"| {100 * ops['matmul'] / total:.0f}% | {100 * ops['xla'] / total:.0f}% "
            f"| {100 * ops['other'] / total:.0f}% | {shares} |"
        )
    return "\n".join(lines)


def op_table(cases: list[dict]) -> str:
    """The op types that took longest in each case's profiled steps, with their share of
    the op time."""
    lines = ["| case | op type | share of op time |", "|---|---|---|"]
    for c in cases:
        ops, total = _op_time(c)
        for kind, ms in ops.get("top_ops", []):
            lines.append(f"| {c['label']} | {kind} | {100 * ms / total:.1f}% |")
    return "\n".join(lines)


def compute_dtype(dtype_policy: str) -> str:
    """The dtype of a Keras policy's matrix products: "float32" or "bfloat16"."""
    import keras

    return keras.DTypePolicy(dtype_policy).compute_dtype


def unlabeled_rows(num_samples: int, unlabeled_batch: int) -> int:
    """Rows K * S * B_u of the per-class products in one step."""
    return NUM_CLASSES * num_samples * unlabeled_batch


def rate_key(dtype_policy: str, rows: int) -> str:
    """Key of `rates` for the matmul rate at `rows` rows in the policy's compute dtype."""
    return f"{compute_dtype(dtype_policy)}:{rows}"


def _child(request_json: str) -> None:
    request = json.loads(request_json)
    if "rates" in request:
        print(json.dumps([matmul_rate(int(r), int(w), d) for r, w, d in request["rates"]]))
        return
    config = ml_collections.ConfigDict(request["config"])
    result = time_case(config, Case(**request["case"]), request["warmup_steps"],
                       request["steps"], request["num_unlabeled"], request.get("profile", 0))
    print(json.dumps(result))


if __name__ == "__main__":
    _child(sys.argv[1])
