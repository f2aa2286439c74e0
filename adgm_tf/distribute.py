"""Training on several devices or hosts with TensorFlow's own `tf.distribute`.

`config.strategy` names the strategy:
  "default"                the one device TensorFlow picks (no distribution);
  "mirrored"               `MirroredStrategy` over the devices of one machine (every GPU; on a
                           machine without GPUs, the CPU split into `config.logical_cpus`
                           logical devices: that measures overhead, not speed-up);
  "multi_worker_mirrored"  `MultiWorkerMirroredStrategy` over the hosts that `TF_CONFIG` names.

How a step is split. The input pipeline builds every global step (its labeled and unlabeled
batch, binarised) on every worker from the same seeds; replica r of R keeps rows
[r B / R, (r + 1) B / R) of each batch (`replica_steps`), and draws the Monte Carlo noise of
the whole global batch and keeps the same rows (`replica_rows`). Each replica's loss is its
local mean divided by R and the optimizer sums the gradients over replicas, so the global
batch, the bound's scale and every random draw are those of the one-device run.

Batch normalisation under a strategy is synchronised (`networks.BatchNormReLU`): the mean and
variance are all-reduced over the replicas before normalising, so the statistics are those of
the global batch, and the moving averages the same on every replica. Per-replica statistics
would make the bound depend on the number of replicas, and the labeled pass would be
normalised over B_l / R rows (50 on MNIST with 2 replicas, 1 on the half-moons with 6).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import keras
import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multi_worker_mirrored")


def split_cpu(num_devices: int) -> None:
    """Splits the CPU into `num_devices` logical devices; call before TensorFlow runs anything.

    Raises:
      RuntimeError: TensorFlow's devices were already initialised with another layout.
    """
    cpus = tf.config.list_physical_devices("CPU")
    layout = [tf.config.LogicalDeviceConfiguration() for _ in range(num_devices)]
    current = tf.config.get_logical_device_configuration(cpus[0])
    if current is not None and len(current) == num_devices:
        return
    try:
        tf.config.set_logical_device_configuration(cpus[0], layout)
    except RuntimeError as e:
        raise RuntimeError(
            f"Cannot split the CPU into {num_devices} logical devices: TensorFlow already "
            "initialised its devices in this process. Set config.logical_cpus in a fresh "
            "process (bin/train.py does so before any other TensorFlow work)."
        ) from e


def make_strategy(name: str, logical_cpus: int = 0) -> tf.distribute.Strategy:
    """The strategy `name` (one of `STRATEGIES`); see the module docstring."""
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")
    if logical_cpus:
        split_cpu(logical_cpus)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        devices = None
        if not tf.config.list_physical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if "TF_CONFIG" not in os.environ:
        raise ValueError(
            "strategy='multi_worker_mirrored' needs the environment variable TF_CONFIG to name "
            "the cluster and this worker's task, e.g. TF_CONFIG='{\"cluster\": {\"worker\": "
            "[\"host1:12345\", \"host2:12345\"]}, \"task\": {\"type\": \"worker\", "
            "\"index\": 0}}' (README: several hosts)."
        )
    return tf.distribute.MultiWorkerMirroredStrategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: worker 0 (or the "chief" task)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def task_index() -> int:
    """This worker's index in TF_CONFIG (0 without one)."""
    config = json.loads(os.environ.get("TF_CONFIG", "{}"))
    return int(config.get("task", {}).get("index", 0))


def worker_scratch(workdir: str, checkpoint_dir: str) -> str:
    """A scratch directory for a worker other than the chief, holding a copy of the chief's
    checkpoint and history in `workdir` (so that it resumes from the same epoch). The
    workdir must be on a file system that every worker can read."""
    scratch = tempfile.mkdtemp(prefix=f"adgm_tf-worker{task_index()}-")
    if os.path.isdir(os.path.join(workdir, checkpoint_dir)):
        shutil.copytree(os.path.join(workdir, checkpoint_dir),
                        os.path.join(scratch, checkpoint_dir))
    if os.path.isfile(os.path.join(workdir, "history.csv")):
        shutil.copy(os.path.join(workdir, "history.csv"), scratch)
    return scratch


def check_divisible(strategy: tf.distribute.Strategy, **batch_sizes: int) -> None:
    """Refuses batch sizes that the replicas cannot share equally."""
    replicas = strategy.num_replicas_in_sync
    bad = {k: v for k, v in batch_sizes.items() if v % replicas}
    if bad:
        listed = ", ".join(f"{k}={v}" for k, v in bad.items())
        raise ValueError(
            f"{listed} cannot be split equally over {replicas} replicas; choose batch sizes "
            f"that are multiples of {replicas}."
        )


def multi_replica_context() -> tf.distribute.ReplicaContext | None:
    """The replica context of a step split over several replicas; None anywhere else (one
    device, or code outside a replicated step)."""
    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return None
    return context


def num_replicas() -> int:
    """The replicas that share the current step (1 outside a multi-replica step)."""
    context = multi_replica_context()
    return 1 if context is None else context.num_replicas_in_sync


def replica_rows(x: tf.Tensor, axis: int = 0) -> tf.Tensor:
    """This replica's equal share of the rows of a global-batch tensor along `axis`
    (the whole tensor outside a multi-replica step)."""
    context = multi_replica_context()
    if context is None:
        return x
    size = tf.shape(x)[axis] // context.num_replicas_in_sync
    begin = tf.cast(context.replica_id_in_sync_group, tf.int32) * size
    return tf.gather(x, tf.range(begin, begin + size), axis=axis)


def replica_steps(strategy: tf.distribute.Strategy, steps: tf.data.Dataset):
    """A distributed dataset in which each replica gets its rows of every global step.

    steps: a dataset of dicts of global-batch tensors (`semi_supervised_dataset`), the same
    on every worker. Returns `steps` itself under a one-replica strategy.
    """
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return steps

    def pieces(step):
        """The global step as R consecutive elements, one per replica."""
        return tf.data.Dataset.from_tensor_slices(tf.nest.map_structure(
            lambda t: tf.reshape(t, tf.concat([[replicas, tf.shape(t)[0] // replicas],
                                               tf.shape(t)[1:]], 0)), step))

    def for_worker(context: tf.distribute.InputContext):
        # Each worker keeps the elements of its own replicas, in replica order.
        per_worker = replicas // context.num_input_pipelines
        first = context.input_pipeline_id * per_worker
        options = tf.data.Options()
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.OFF)
        return (steps.flat_map(pieces)
                .enumerate()
                .filter(lambda i, _: (i % replicas >= first) & (i % replicas < first + per_worker))
                .map(lambda _, step: step)
                .with_options(options)
                .prefetch(tf.data.AUTOTUNE))

    return strategy.distribute_datasets_from_function(for_worker)


def step_logs(trackers: dict[str, keras.metrics.Metric]) -> dict[str, tf.Tensor]:
    """The trackers' results as a step's logs. Keras (3.x, TensorFlow backend) averages the
    logs of a multi-worker step over their first axis, so there each gets one."""
    logs = {name: t.result() for name, t in trackers.items()}
    strategy = tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if (isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) and resolver is not None
            and sum(len(t) for t in resolver.cluster_spec().as_dict().values()) > 1):
        logs = {name: value[None] for name, value in logs.items()}
    return logs


class BuiltAtConstruction:
    """For a `keras.Model` that builds all its weights in its constructor: `fit` under a
    strategy makes only the optimizer's variables.

    Keras (3.x, TensorFlow backend) first averages one input batch over the replicas, which
    fails on a dict of inputs under MultiWorkerMirroredStrategy; such a model needs no batch.
    """

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        if self._distribute_strategy is None:
            return
        with self.distribute_strategy.scope():
            self._symbolic_build(data_batch=None)
