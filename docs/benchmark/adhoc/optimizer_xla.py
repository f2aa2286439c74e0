# Ad-hoc measurement behind a number in BENCHMARKS.md (fourth throughput session);
# run from the repository root: python docs/benchmark/adhoc/optimizer_xla.py
import time, numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(2)
shapes=[(444,500),(500,500),(500,200),(100,500),(444,500),(500,500),(500,10),(100,500),(10,500),(444,500),(500,500),(500,200),(10,500),(100,500),(500,500),(500,200),(10,500),(100,500),(500,500),(500,444)]
shapes += [(s[1],) for s in shapes]
vs=[tf.Variable(tf.random.normal(s)*0.01) for s in shapes]
ms=[tf.Variable(tf.zeros(s)) for s in shapes]; vv=[tf.Variable(tf.zeros(s)) for s in shapes]
gs=[tf.random.normal(s) for s in shapes]
print(sum(np.prod(s) for s in shapes)/1e6, "M params")
lr,b1,b2,eps,clip,c=3e-4,.9,.999,1e-7,5.0,1/60000
@tf.function
def current():
    g=[g_+c*v for g_,v in zip(gs,vs)]   # prior gradient added (Mul + AddN)
    g,_=tf.clip_by_global_norm(g,clip)
    for v,m,s,gg in zip(vs,ms,vv,g):
        tf.raw_ops.ResourceApplyAdam(var=v.handle,m=m.handle,v=s.handle,beta1_power=b1,beta2_power=b2,lr=lr,beta1=b1,beta2=b2,epsilon=eps,grad=gg)
@tf.function(jit_compile=True)
def fused_xla():
    g=[g_+c*v for g_,v in zip(gs,vs)]
    norm=tf.sqrt(tf.add_n([tf.reduce_sum(tf.square(x)) for x in g]))
    scale=clip/tf.maximum(norm,clip)
    a=lr*tf.sqrt(1-b2)/(1-b1)
    for v,m,s,gg in zip(vs,ms,vv,g):
        gg=gg*scale
        m.assign_add((gg-m)*(1-b1)); s.assign_add((tf.square(gg)-s)*(1-b2))
        v.assign_sub(a*m/(tf.sqrt(s)+eps))
@tf.function
def fused_tf_halves():
    g=[g_+c*v for g_,v in zip(gs,vs)]
    norm=tf.linalg.global_norm(g)
    scale=clip/tf.maximum(norm,clip)
    for v,m,s,gg in zip(vs,ms,vv,g):
        tf.raw_ops.ResourceApplyAdam(var=v.handle,m=m.handle,v=s.handle,beta1_power=b1,beta2_power=b2,lr=lr*scale/scale,beta1=b1,beta2=b2,epsilon=eps,grad=gg*scale)
def bench(f,n=100):
    f(); f(); t=time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter()-t)/n*1e3
for rep in range(3):
    print([ (name, round(bench(f),3)) for name,f in [("current",current),("xla",fused_xla),("tf",fused_tf_halves)]])
