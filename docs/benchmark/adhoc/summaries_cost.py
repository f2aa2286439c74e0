"""Seconds of the end-of-epoch summaries (`callbacks.GenerativeSummaries`: whether `a` is used
on 2,000 test images, KL per unit on 500, a grid of class samples) for a trained MNIST run,
against the epoch they follow: python docs/benchmark/adhoc/summaries_cost.py WORKDIR."""

import sys
import tempfile
import time

from adgm_tf import console

console.native_log_to_file()

from adgm_tf import train  # noqa: E402  (threads before TensorFlow starts)

train.set_threads(1)

from adgm_tf.callbacks import GenerativeSummaries  # noqa: E402
from adgm_tf.evaluation import load_trained  # noqa: E402

config, data, model = load_trained(sys.argv[1])
with tempfile.TemporaryDirectory() as logdir:
    summaries = GenerativeSummaries(data, logdir)
    summaries.set_model(model)
    times = []
    for epoch in range(3):
        start = time.perf_counter()
        summaries.on_epoch_end(epoch, {})
        times.append(time.perf_counter() - start)
print(f"{config.model}, {config.dtype_policy}: summaries {', '.join(f'{t:.2f}' for t in times)} s "
      "(the first traces its functions)")
