# Ad-hoc measurement behind a number in BENCHMARKS.md (fourth throughput session);
# run from the repository root: python docs/benchmark/adhoc/product_widths.py
import time, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
def bench(f,n=200):
    f(); f(); t=time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter()-t)/n
fs={}
for dt in [tf.float32, tf.bfloat16]:
  for H in [500,512,496,480]:
    for kind in ["fwd","dW","dX"]:
      R=1000
      if kind=="fwd": sa,sb,ta,tb=[R,H],[H,H],False,False
      if kind=="dW": sa,sb,ta,tb=[R,H],[R,H],True,False
      if kind=="dX": sa,sb,ta,tb=[R,H],[H,H],False,True
      a=tf.cast(tf.random.normal(sa),dt); b=tf.cast(tf.random.normal(sb),dt)
      fs[(dt.name,H,kind)]=(tf.function(lambda a=a,b=b,ta=ta,tb=tb: tf.linalg.matmul(a,b,transpose_a=ta,transpose_b=tb)), 2*R*H*H)
res={k:[] for k in fs}
for rep in range(3):
  for k,(f,fl) in fs.items(): res[k].append(bench(f))
for k,v in res.items():
  s=min(v); print(k, f"{s*1e3:.3f} ms  {fs[k][1]/s/1e9:.0f} GFLOP/s")
