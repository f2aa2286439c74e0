"""The speed settings left to the machine: what each machine gets, and that a given value
is kept."""

import pytest

from adgm_tf import console, speed
from adgm_tf.configs import checks, mnist_adgm, moons, potential


@pytest.mark.parametrize("gpus, flags, expected", [
    ([], {"avx512f", "avx512_bf16"}, "mixed_bfloat16"),  # AMD EPYC (Zen 4/5), Xeon
    ([], {"avx512f", "amx_bf16", "amx_tile"}, "mixed_bfloat16"),  # Xeon with AMX
    ([], {"avx2", "fma"}, "float32"),  # no bf16 products: emulated bf16 is slower
    ([{"compute_capability": (9, 0)}], set(), "mixed_bfloat16"),  # H100/H200
    ([{"compute_capability": (7, 0)}], {"avx512_bf16"}, "float32"),  # V100: no bf16 units
])
def test_precision_follows_the_bf16_units(gpus, flags, expected):
    policy, reason = speed.dtype_policy(gpus, flags)
    assert policy == expected and reason


def test_threads_one_per_op_on_two_cores_else_tensorflows():
    assert speed.threads(0, 1)[0] == 1 and speed.threads(0, 2)[0] == 1
    assert speed.threads(0, 16)[0] == 0
    assert speed.threads(1, 2)[0] == 0


@pytest.mark.parametrize("steps, expected", [(600, 10), (20, 10), (3, 3), (7, 7), (13, 1),
                                             (36, 9), (0, 1)])
def test_steps_per_call_divide_the_epoch(steps, expected):
    config = mnist_adgm.get_config()
    assert speed.steps_per_call(config, steps)[0] == expected


def test_one_step_per_call_under_a_strategy_or_another_trainer():
    config = mnist_adgm.get_config()
    config.strategy = "mirrored"
    assert speed.steps_per_call(config, 600)[0] == 1
    assert speed.steps_per_call(potential.get_config(), 1000)[0] == 1


def test_resolve_chooses_what_is_left_and_keeps_what_is_given(monkeypatch):
    monkeypatch.setattr(console, "cpu_flags", lambda: {"avx512_bf16"})
    monkeypatch.setattr(console, "usable_cores", lambda: 2)
    config = mnist_adgm.get_config()
    assert (config.dtype_policy, config.threads, config.steps_per_execution) == (
        "auto", None, None)
    resolved = speed.resolve(config, steps_per_epoch=600)
    assert (resolved.dtype_policy, resolved.threads, resolved.steps_per_execution) == (
        "mixed_bfloat16", 1, 10)
    assert sorted(resolved.speed_choices) == ["dtype_policy", "steps_per_execution", "threads"]
    assert config.dtype_policy == "auto"  # a copy: the given config is left as it was
    # a second call (steps per call once the epoch is known) keeps the first call's reasons
    first = speed.resolve(config)
    assert first.steps_per_execution is None and sorted(first.speed_choices) == [
        "dtype_policy", "threads"]
    again = speed.resolve(first, steps_per_epoch=600)
    assert sorted(again.speed_choices) == ["dtype_policy", "steps_per_execution", "threads"]
    config.dtype_policy, config.threads, config.steps_per_execution = "float32", 0, 2
    kept = speed.resolve(config, steps_per_epoch=600)
    assert (kept.dtype_policy, kept.threads, kept.steps_per_execution) == ("float32", 0, 2)
    assert dict(kept.speed_choices) == {}


def test_toy_configs_keep_float32_and_one_step_per_call():
    config = moons.get_config()
    assert config.dtype_policy == "float32" and config.steps_per_execution == 1


def test_config_check_takes_auto_and_refuses_nonsense():
    config = mnist_adgm.get_config()
    checks.check_config(config)  # "auto" and None
    config.threads = 0  # TensorFlow's own choice
    checks.check_config(config)
    config.threads = -1
    with pytest.raises(ValueError, match="threads must be non-negative"):
        checks.check_config(config)
    config.threads = None
    config.dtype_policy = "mixed_float16"
    with pytest.raises(ValueError, match=r"dtype_policy must be one of .*'auto'"):
        checks.check_config(config)


def test_threads_left_to_the_machine_give_way_once_tensorflow_started():
    """In a process where TensorFlow already runs (the Python API, a notebook) threads chosen
    by the machine cannot be set: the run keeps TensorFlow's, where a given value fails."""
    import tensorflow as tf

    from adgm_tf import train

    tf.constant(1.0) + 1.0  # TensorFlow starts
    other = tf.config.threading.get_intra_op_parallelism_threads() + 3
    assert train.set_threads(other, required=False) is False
    with pytest.raises(RuntimeError, match="already started"):
        train.set_threads(other)
