"""What a script shows in the terminal: its run, not TensorFlow's C++ start-up lines.

TensorFlow's C++ runtime writes its start-up lines (oneDNN, CUDA, cpu_feature_guard, XLA)
straight to the process's standard error, file descriptor 2, whatever TF_CPP_MIN_LOG_LEVEL
says, some of them before its own logging is set up. `native_log_to_file` points file
descriptor 2 at a log file before TensorFlow is imported, while Python's `sys.stderr`
(warnings, tracebacks, absl's logging) keeps the terminal; `move_native_log` then moves that
file into the run's workdir as `tensorflow.log`, where a user looks when something went wrong
below Python. Fatal signals still print the Python traceback on the terminal (faulthandler).

This module imports nothing of TensorFlow: a script calls `native_log_to_file()` first, then
imports the rest of adgm_tf.
"""

from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import platform
import shutil
import sys
import tempfile

LOG_NAME = "tensorflow.log"

_log_path: str | None = None  # where file descriptor 2 points now; None: not redirected


def native_log_to_file(script: str | None = None) -> str:
    """Sends file descriptor 2 (C++ writes) to a temporary log file; returns its path.

    Python's sys.stderr is re-opened on a copy of the original descriptor, so Python's own
    messages still reach the terminal. Call it before importing TensorFlow. Idempotent.
    """
    global _log_path
    if _log_path is not None:
        return _log_path
    script = script or os.path.splitext(os.path.basename(sys.argv[0] or "python"))[0]
    fd, path = tempfile.mkstemp(prefix=f"adgm_tf-{script}-", suffix=".log")
    sys.stderr.flush()
    terminal = os.dup(2)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stderr = os.fdopen(terminal, "w", buffering=1, encoding="utf-8",
                           errors="backslashreplace")
    faulthandler.enable(file=sys.stderr)
    _log_path = path
    atexit.register(_drop_if_empty)
    return path


def move_native_log(workdir: str) -> str | None:
    """Moves the log of `native_log_to_file` to WORKDIR/tensorflow.log (appending to the one a
    resumed run left) and points file descriptor 2 there. None when nothing is redirected
    (the Python API: the caller's terminal is left alone) or `workdir` is not a directory
    (the log then stays where it is)."""
    global _log_path
    if _log_path is None or not os.path.isdir(workdir):
        return None
    target = os.path.join(workdir, LOG_NAME)
    if os.path.abspath(target) == os.path.abspath(_log_path):
        return target
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    with open(_log_path, "rb") as src, os.fdopen(os.dup(fd), "ab") as dst:
        shutil.copyfileobj(src, dst)
    os.dup2(fd, 2)
    os.close(fd)
    os.remove(_log_path)
    _log_path = target
    for name in ("tensorflow", "absl"):  # adgm_tf itself logs nothing through either
        _python_log_to_native_log(name)
    return target


def _python_log_to_native_log(name: str) -> None:
    """Sends the Python logger `name` to the native log instead of the terminal: TensorFlow's
    INFO lines of a SavedModel export (through absl's logger), its retracing warnings."""
    logger = logging.getLogger(name)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
    stream = open(2, "w", buffering=1, closefd=False)  # follows later dup2s onto descriptor 2
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def native_log_path() -> str | None:
    """Where TensorFlow's C++ log goes now (None: the terminal)."""
    return _log_path


def _drop_if_empty() -> None:
    if _log_path and os.path.dirname(_log_path) == tempfile.gettempdir():
        try:
            if os.path.getsize(_log_path) == 0:
                os.remove(_log_path)
        except OSError:
            pass


def _cpuinfo(field: str) -> str | None:
    """The first value of `field` in /proc/cpuinfo (Linux); None elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def cpu_name() -> str:
    """The CPU's model name (Linux: /proc/cpuinfo), else what `platform` knows."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def cpu_flags() -> set[str]:
    """The CPU's feature flags (Linux), e.g. {"avx512_bf16", "amx_bf16", ...}; empty elsewhere."""
    return set((_cpuinfo("flags") or "").split())


def usable_cores() -> int:
    """Cores this process may run on (its affinity where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def machine_line(gpus: list[str]) -> str:
    """One line naming the machine: CPU, usable cores, bf16 instructions, GPUs."""
    flags = cpu_flags()
    bf16 = [name for flag, name in (("avx512_bf16", "AVX512-BF16"), ("amx_bf16", "AMX-BF16"))
            if flag in flags]
    parts = [cpu_name(), f"{usable_cores()} usable cores"]
    if bf16:
        parts.append(" and ".join(bf16))
    parts.append(f"GPUs: {', '.join(gpus)}" if gpus else "no GPU")
    return ", ".join(parts)


def print_summary(title: str, rows: list[tuple[str, str]]) -> None:
    """Prints `title` and aligned `name: value` rows on standard output."""
    width = max(len(name) for name, _ in rows)
    print(title)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")
    sys.stdout.flush()
