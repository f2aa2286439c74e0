"""Measures training throughput: python bin/benchmark.py --workdir=DIR.

In one run: the machine's matrix-product rate on all its usable cores (float32 and bfloat16,
at each case's size and at a large size; measured before and after the cases, the higher
kept), then steady-state training steps through model.fit
of every combination of --models, --input_dims, --num_samples, --dtype_policies, --xla,
--share_work, --replicas, --threads (TensorFlow's threads per op) and --steps_per_execution,
each in a fresh process on synthetic MNIST-sized data, with the recipe of --config (default
mnist_adgm; override any of its values, e.g. --config.batch_norm=False). Prints a table and
writes DIR/benchmark.json. FLOPs are counted from the layer sizes (adgm_tf/benchmark.py).

With --profile_steps=N (default 5) each case also traces N steps under TensorFlow's profiler
and prints where the op time goes: matrix products, XLA-fused element-wise clusters, other
ops. With --epoch_policies (and data: $ADGM_TF_DATA_DIR or the config's data_dir), it then
trains two real epochs through bin/train.py per precision and in-training evaluation
(--epoch_eval_predict_samples; 0 = the config's full protocol) and reports the second
epoch's seconds, steps and evaluation together. --epoch_variants trains such epochs with
other settings on top of --config's (e.g. --epoch_variants=shipped,threads=0,
steps_per_execution=1+dtype_policy=float32), and --epoch_configs other config files as they
are shipped; every epoch is printed beside its floor (its steps' products at the machine's
matmul rate in the precision it ran) and the floor of the fastest precision this machine's
"auto" picks (`speed`).
"""

from adgm_tf import console

console.native_log_to_file()  # before TensorFlow starts: its C++ start-up lines go to a file

import itertools
import json
import os
import tempfile

from absl import app, flags
from ml_collections import config_flags

from adgm_tf import benchmark, speed
from adgm_tf.models import MODELS
from adgm_tf.configs.checks import DTYPE_POLICIES
from adgm_tf.workdir import write_json

_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for benchmark.json (optional).")
_CONFIG = config_flags.DEFINE_config_file(
    "config", "adgm_tf/configs/mnist_adgm.py", "Config file whose recipe every case trains.")
_MODELS = flags.DEFINE_list("models", ["adgm", "sdgm", "m2"],
                            "Models to time (none, --models=, for the epoch runs alone).")
_INPUT_DIMS = flags.DEFINE_list("input_dims", ["444", "784"], "Input sizes.")
_NUM_SAMPLES = flags.DEFINE_list("num_samples", ["1", "5"], "Monte Carlo samples.")
_DTYPES = flags.DEFINE_list("dtype_policies", list(DTYPE_POLICIES), "Keras policies.")
_XLA = flags.DEFINE_list("xla", ["false"], "jit_compile settings: false, true or both.")
_SHARE_WORK = flags.DEFINE_list(
    "share_work", ["true"],
    "true: x and a projected once per example; false: the straightforward step, tiled per class.")
_REPLICAS = flags.DEFINE_list(
    "replicas", ["1"], "Replicas of a MirroredStrategy (GPUs, else logical CPU devices; 1: none).")
_THREADS = flags.DEFINE_list(
    "threads", ["0"],
    "TensorFlow's threads per op in each case's process (0: its default, one per core).")
_PER_CALL = flags.DEFINE_list(
    "steps_per_execution", ["1"],
    "Training steps per call of the compiled step (Keras' steps_per_execution); --steps and "
    "--warmup_steps must be multiples.")
_WARMUP = flags.DEFINE_integer("warmup_steps", 10, "Steps before timing (tracing, caches).")
_STEPS = flags.DEFINE_integer("steps", 40, "Timed steps per case.")
_NUM_UNLABELED = flags.DEFINE_integer("num_unlabeled", 60_000,
                                      "Synthetic unlabeled set size (MNIST: 60,000).")
_PEAK_SIZE = flags.DEFINE_integer("peak_size", 4096, "Size of the large matmul (0 skips).")
_PROFILE = flags.DEFINE_integer("profile_steps", 5,
                                "Steps traced by the profiler per case (0 skips).")
_EPOCH_POLICIES = flags.DEFINE_list(
    "epoch_policies", [], "Dtype policies to time one real epoch through bin/train.py in.")
_EPOCH_EVAL = flags.DEFINE_list(
    "epoch_eval_predict_samples", ["0"],
    "Samples of a in the in-training evaluation of the epoch runs (0: the config's own).")
_EPOCH_VARIANTS = flags.DEFINE_list(
    "epoch_variants", [],
    "Real epochs of --config with these settings on top: 'shipped' (none) or "
    "'key=value+key=value', e.g. threads=0+steps_per_execution=1.")
_EPOCH_CONFIGS = flags.DEFINE_list(
    "epoch_configs", [], "Config files whose real epoch is timed as shipped.")


def _parse_flags():
    try:
        boolean = {"false": False, "true": True}
        cases = [
            benchmark.Case(m, int(d), int(s), p, boolean[x.lower()], boolean[w.lower()], int(r),
                           int(t), int(n))
            for m, d, s, p, x, w, r, t, n in itertools.product(
                _MODELS.value, _INPUT_DIMS.value, _NUM_SAMPLES.value, _DTYPES.value, _XLA.value,
                _SHARE_WORK.value, _REPLICAS.value, _THREADS.value, _PER_CALL.value)
        ]
    except (ValueError, KeyError) as e:
        raise app.UsageError(f"Bad flag value: {e}")
    for c in cases:
        if c.model not in MODELS or c.dtype_policy not in DTYPE_POLICIES:
            raise app.UsageError(f"Unknown model or dtype policy in {c}; models: "
                                 f"{sorted(MODELS)}, dtype policies: {DTYPE_POLICIES}.")
        if c.input_dim < 1 or c.num_samples < 1 or c.replicas < 1:
            raise app.UsageError("--input_dims, --num_samples and --replicas must be positive.")
        if c.threads < 0:
            raise app.UsageError("--threads must be 0 (TensorFlow's default) or positive.")
        if c.steps_per_execution < 1 or (_STEPS.value % c.steps_per_execution
                                         or _WARMUP.value % c.steps_per_execution):
            raise app.UsageError("--steps_per_execution must be positive and divide --steps "
                                 "and --warmup_steps.")
    if _STEPS.value < 2 or _WARMUP.value < 1:
        raise app.UsageError("--steps must be at least 2 and --warmup_steps at least 1.")
    if any(p not in DTYPE_POLICIES for p in _EPOCH_POLICIES.value):
        raise app.UsageError(f"--epoch_policies must be drawn from {DTYPE_POLICIES}.")
    try:
        epoch_samples = [int(n) for n in _EPOCH_EVAL.value]
    except ValueError as e:
        raise app.UsageError(f"Bad --epoch_eval_predict_samples: {e}")
    epochs = [{"dtype_policy": p, **({"eval_predict_samples": n} if n else {})}
              for p in _EPOCH_POLICIES.value for n in epoch_samples]
    for variant in _EPOCH_VARIANTS.value:
        try:
            epochs.append({} if variant == "shipped" else benchmark.parse_overrides(variant))
        except ValueError as e:
            raise app.UsageError(f"Bad --epoch_variants entry {variant!r}: {e}")
    for path in _EPOCH_CONFIGS.value:
        if not os.path.isfile(path):
            raise app.UsageError(f"--epoch_configs: no config file {path}.")
    return cases, epochs


def main(argv):
    del argv
    cases, epochs = _parse_flags()
    config = _CONFIG.value
    if _WORKDIR.value:
        os.makedirs(_WORKDIR.value, exist_ok=True)
        console.move_native_log(_WORKDIR.value)  # into the run's tensorflow.log
    hidden = config.hidden_sizes[-1]
    dtypes = sorted({benchmark.compute_dtype(c.dtype_policy) for c in cases})
    sizes = {}  # the machine's rate (every usable core) at each case's size, and at the peak
    for c in cases:
        key = benchmark.rate_key(c.dtype_policy, benchmark.unlabeled_rows(c.num_samples,
                                                                          config.batch_size))
        dtype, rows = key.split(":")
        sizes[key] = (int(rows), hidden, dtype)
    if _PEAK_SIZE.value:
        for d in dtypes:
            sizes[f"{d}:peak{_PEAK_SIZE.value}"] = (_PEAK_SIZE.value, _PEAK_SIZE.value, d)

    def measure_rates():
        if not sizes:
            return {}
        return dict(zip(sizes, benchmark.machine_matmul_rates(list(sizes.values()))))

    before = measure_rates()
    rates = dict(before)
    print(f"matmul GFLOP/s on {benchmark.usable_cores()} cores ([rows, H] x [H, H], "
          f"H = {hidden}):", {k: round(v) for k, v in rates.items()}, flush=True)
    machine = benchmark.machine()
    results, epoch_results = [], []

    def save():  # a partial file survives an interrupted run
        if _WORKDIR.value:
            write_json(os.path.join(_WORKDIR.value, "benchmark.json"),
                       dict(machine=machine, config=json.loads(config.to_json_best_effort()),
                            matmul_gflops=rates, cases=results, epochs=epoch_results))

    for i, case in enumerate(cases):
        result = benchmark.run_case_in_subprocess(
            config, case, _WARMUP.value, _STEPS.value, _NUM_UNLABELED.value,
            profile=_PROFILE.value)
        results.append(result)
        print(f"[{i + 1}/{len(cases)}] {case.label}: {result['ms_per_step']:.1f} ms/step, "
              f"{result['achieved_gflops']:.0f} GFLOP/s, peak {result['peak_memory_mb']:.0f} MB",
              flush=True)
        save()
    if results and sizes:
        # The rate again after the cases; the higher of the two is the machine's rate (a
        # measurement only errs low, when something else takes the cores for a moment).
        after = measure_rates()
        rates = {k: max(v, after[k]) for k, v in before.items()}
        print("matmul GFLOP/s after the cases:", {k: round(v) for k, v in after.items()},
              "; the tables use the higher", flush=True)
        machine["matmul_gflops_before_after"] = {k: [before[k], after[k]] for k in after}
        save()
    if results:
        print(benchmark.markdown_table(results, rates))
    if _PROFILE.value and results:
        print(benchmark.profile_table(results, rates))
        print(benchmark.op_table(results))
    config_file = config_flags.get_config_filename(flags.FLAGS["config"])
    overrides = config_flags.get_override_values(flags.FLAGS["config"])
    runs = [(config_file, {**overrides, **extra}) for extra in epochs]
    runs += [(path, {}) for path in _EPOCH_CONFIGS.value]
    fastest = speed.machine_dtype_policy()[0] if runs else None  # the policy "auto" picks
    for path, run_overrides in runs:
        with tempfile.TemporaryDirectory() as workdir:
            result = benchmark.time_epoch(path, run_overrides, workdir)
        for which, policy in (("floor_s", result["speed"]["dtype_policy"]),
                              ("best_floor_s", fastest)):
            key = benchmark.rate_key(policy, result["unlabeled_rows"])
            if key not in rates:  # measured when first needed, on every usable core
                rates[key] = benchmark.machine_matmul_rates(
                    [(result["unlabeled_rows"], hidden, benchmark.compute_dtype(policy))])[0]
            result[which] = benchmark.epoch_floor(result, rates[key])
        epoch_results.append(result)
        print(benchmark.epoch_line(result), flush=True)
        save()


if __name__ == "__main__":
    app.run(main)
