# Ad-hoc measurement behind a number in BENCHMARKS.md (fourth throughput session);
# run from the repository root: python docs/benchmark/adhoc/step_timeline.py
"""Busy cores over the step from a profiler trace: when does a core idle, and what runs alone then."""
import sys, glob, collections, tempfile, numpy as np
import tensorflow as tf
from adgm_tf import benchmark, train
train.set_threads(1)
policy = sys.argv[1] if len(sys.argv) > 1 else "float32"
logdir = tempfile.mkdtemp()
orig = benchmark.profile_steps
def keep(model, dataset, steps, _logdir, top=12):
    return orig(model, dataset, steps, logdir, top)
benchmark.profile_steps = keep
from adgm_tf.configs import mnist_adgm
case = benchmark.Case(model="adgm", input_dim=444, num_samples=1, dtype_policy=policy, threads=1, steps_per_execution=10)
r = benchmark.time_case(mnist_adgm.get_config(), case, warmup_steps=20, steps=40, profile=20)
print("ms/step", r["ms_per_step"])
from tensorflow.tsl.profiler.protobuf import xplane_pb2
path = glob.glob(logdir + "/**/*.xplane.pb", recursive=True)[0]
space = xplane_pb2.XSpace(); space.ParseFromString(open(path, "rb").read())
ev = []  # (start, end, name)
for plane in space.planes:
    if plane.name != "/host:CPU": continue
    for line in plane.lines:
        base = line.timestamp_ns * 1000
        for e in line.events:
            n = plane.event_metadata[e.metadata_id].name
            op, _, kind = n.rpartition(":")
            isx = n == benchmark.XLA_EVENT
            if not isx and (not op or "::" in n or " " in n or not kind.isidentifier() or kind.startswith("_Xla") or "Iterator" in kind or op.startswith("Iterator")): continue
            s = base + e.offset_ps; ev.append((s, s + e.duration_ps, "XLA" if isx else kind, op))
ev.sort()
t0 = ev[0][0]; t1 = max(e[1] for e in ev)
# sweep
pts = sorted([(s, 1, i) for i, (s, e, k, o) in enumerate(ev)] + [(e, -1, i) for i, (s, e, k, o) in enumerate(ev)])
busy = 0; last = pts[0][0]; hist = collections.Counter(); alone = collections.Counter(); active = set()
for t, d, i in pts:
    dt = t - last
    hist[min(busy, 3)] += dt
    if busy == 1:
        (j,) = tuple(active); alone[ev[j][2]] += dt
    busy += d; last = t
    (active.add if d > 0 else active.discard)(i)
span = t1 - t0
steps = 20
print("span ms/step", span / 1e9 / steps)
for b in sorted(hist): print("cores busy", b, f"{hist[b]/span:.1%}", f"{hist[b]/1e9/steps:.2f} ms/step")
print("alone:", [(k, round(v / 1e9 / steps, 2)) for k, v in alone.most_common(12)])
# one step: from the 10th StatelessRandomNormalV2 group start
starts = [s for s, e, k, o in ev if k == "StatelessRandomNormalV2"]
# steps begin at each 4th normal (4 noise draws per step)
s0 = starts[4 * 5]; s1 = starts[4 * 6]
print("step window ms", (s1 - s0) / 1e9)
B = 1e9  # 1 ms bins (ps)
for b in range(int((s1 - s0) / B) + 1):
    lo, hi = s0 + b * B, s0 + (b + 1) * B
    inb = [(max(s, lo), min(e, hi), k, o) for s, e, k, o in ev if e > lo and s < hi]
    busy = sum(e - s for s, e, k, o in inb) / B
    top = collections.Counter()
    for s, e, k, o in inb:
        short = o.split("StatefulPartitionedCall/")[-1][:38]
        top[(k, short)] += e - s
    print(f"{b:3d} ms busy {busy:.2f} ", "; ".join(f"{k}:{o} {v/1e9:.2f}" for (k, o), v in top.most_common(3)))
