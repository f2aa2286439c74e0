"""The speed settings of a run: the config's, or where it leaves one to the machine, the
setting measured to be fastest there (BENCHMARKS.md, "Fast by default").

  setting               left to the machine by   chosen on a CPU                on a GPU
  dtype_policy          "auto"                   mixed_bfloat16 where the CPU   mixed_bfloat16 from
                                                 has bf16 instructions          compute capability 8
                                                 (AVX512-BF16 or AMX-BF16),     (Ampere), else
                                                 else float32                   float32
  threads               None                     1 per op with at most 2        TensorFlow's own
                                                 usable cores (independent      choice (0)
                                                 ops then run side by side,
                                                 one per core), else
                                                 TensorFlow's own choice (0)
  steps_per_execution   None                     the largest divisor of the epoch's steps up to
                                                 10, on one device (1 under a strategy, and for
                                                 the potential trainer)

Every one stays a config field: a value given in the config or on the command line is used as
it is. `train.print_run` says which were chosen and why. bf16 products keep float32 weights,
distributions and bound; on MNIST the bound matches fp32's (tests/test_models.py).
"""

from __future__ import annotations

from typing import Sequence

import ml_collections

from adgm_tf import console

AUTO = "auto"  # dtype_policy's value that leaves it to the machine
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo flags of bf16 products
MOST_STEPS_PER_CALL = 10  # beyond it the measured gain is below the noise (BENCHMARKS.md)
FEW_CORES = 2  # up to this many usable cores, one thread per op pays (BENCHMARKS.md)


def dtype_policy(gpus: Sequence[dict], cpu_flags: set[str]) -> tuple[str, str]:
    """The fastest policy whose bound matches fp32's, and why. gpus: the details of each GPU
    (`tf.config.experimental.get_device_details`)."""
    if gpus:
        capability = min(g.get("compute_capability", (0, 0)) for g in gpus)
        if tuple(capability) >= (8, 0):
            return "mixed_bfloat16", f"GPU compute capability {capability[0]}.{capability[1]}"
        return "float32", "GPU without bf16 units"
    found = sorted(set(BF16_CPU_FLAGS) & cpu_flags)
    if found:
        return "mixed_bfloat16", "the CPU has " + " and ".join(f.upper() for f in found)
    return "float32", "the CPU has no bf16 instructions"


def threads(num_gpus: int, cores: int) -> tuple[int, str]:
    """Threads per op (0: TensorFlow's own choice), and why."""
    if num_gpus:
        return 0, "GPU"
    if cores <= FEW_CORES:
        return 1, f"{cores} usable core(s)"
    return 0, f"{cores} usable cores"


def steps_per_call(config: ml_collections.ConfigDict, steps_per_epoch: int) -> tuple[int, str]:
    """Training steps per call of the compiled step, and why."""
    if config.get("trainer", "semi_supervised") != "semi_supervised":
        return 1, f"the {config.trainer} trainer"
    if config.get("strategy", "default") != "default":
        return 1, f"strategy {config.strategy}"
    most = max(1, min(MOST_STEPS_PER_CALL, steps_per_epoch))  # 0 steps: refused later
    best = max(n for n in range(1, most + 1) if steps_per_epoch % n == 0)
    return best, f"divides the epoch's {steps_per_epoch} steps"


def machine_dtype_policy() -> tuple[str, str]:
    """`dtype_policy` for this machine's GPUs (their details) or CPU (its flags)."""
    import tensorflow as tf

    gpus = [tf.config.experimental.get_device_details(g)
            for g in tf.config.list_physical_devices("GPU")]
    return dtype_policy(gpus, console.cpu_flags())


def resolve(config: ml_collections.ConfigDict,
            steps_per_epoch: int | None = None) -> ml_collections.ConfigDict:
    """A copy of `config` with the settings it leaves to the machine chosen, and why each
    was chosen in its `speed_choices` ({key: reason}, kept from an earlier call).
    steps_per_execution is chosen only when `steps_per_epoch` is given."""
    import tensorflow as tf

    config = config.copy_and_resolve_references()
    gpus = tf.config.list_physical_devices("GPU")
    why = dict(config.get("speed_choices") or {})
    if "threads" in config and config.threads is None:  # first: before TensorFlow starts
        config.threads, why["threads"] = threads(len(gpus), console.usable_cores())
    if config.get("dtype_policy") == AUTO:
        config.dtype_policy, why["dtype_policy"] = machine_dtype_policy()
    if (steps_per_epoch is not None and "steps_per_execution" in config
            and config.steps_per_execution is None):
        config.steps_per_execution, why["steps_per_execution"] = steps_per_call(
            config, steps_per_epoch)
    with config.unlocked():
        config.speed_choices = why
    return config
