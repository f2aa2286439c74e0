# Ad-hoc measurement behind a number in BENCHMARKS.md (fourth throughput session);
# run from the repository root: python docs/benchmark/adhoc/op_names_profile.py mixed_bfloat16
"""Per-op-name profile of the benchmark case."""
import sys, json, collections
import tensorflow as tf
from adgm_tf import benchmark, train
policy = sys.argv[1] if len(sys.argv) > 1 else "float32"
train.set_threads(1) if hasattr(train, "set_threads") else None
names = collections.Counter()
orig = benchmark.op_times
def op_times(path, *args):
    from tensorflow.tsl.profiler.protobuf import xplane_pb2
    space = xplane_pb2.XSpace(); space.ParseFromString(open(path, "rb").read())
    for plane in space.planes:
        if plane.name != "/host:CPU": continue
        for line in plane.lines:
            for ev in line.events:
                n = plane.event_metadata[ev.metadata_id].name
                op, _, kind = n.rpartition(":")
                if not op or "::" in n or " " in n or not kind.isidentifier(): continue
                names[(kind, op)] += ev.duration_ps * 1e-12
    return orig(path, *args)
benchmark.op_times = op_times
import ml_collections
from adgm_tf.configs import mnist_adgm
cfg = mnist_adgm.get_config()
case = benchmark.Case(model="adgm", input_dim=444, num_samples=1, dtype_policy=policy, jit_compile=False, threads=1, steps_per_execution=10)
r = benchmark.time_case(cfg, case, warmup_steps=20, steps=40, profile=20)
print(r["ms_per_step"], r["profile_ms_per_step"]["matmul"], r["profile_ms_per_step"]["xla"], r["profile_ms_per_step"]["other"])
bykind = collections.defaultdict(list)
for (k, op), s in names.items(): bykind[k].append((s, op))
for k in ["Mul", "Cast", "AddN", "RealDiv", "L2Loss", "ConcatV2", "GatherV2", "StatelessRandomNormalV2", "Sub", "AddV2", "Sum", "Tile", "Exp","Square", "BiasAddGrad", "Neg", "Log", "Softplus"]:
    tot = sum(s for s, _ in bykind.get(k, []))
    if not tot: continue
    print(f"== {k} {1e3*tot/20:.3f} ms/step, {len(bykind[k])} ops")
    for s, op in sorted(bykind[k], reverse=True)[:8]:
        print(f"   {1e3*s/20:.3f}  {op}")
other = sorted(((sum(s for s,_ in v), k) for k, v in bykind.items()), reverse=True)
print([(k, round(1e3*s/20, 3)) for s, k in other[:40]])
