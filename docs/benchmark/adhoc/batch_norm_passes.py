# Ad-hoc measurement behind a number in BENCHMARKS.md (fourth throughput session);
# run from the repository root: python docs/benchmark/adhoc/batch_norm_passes.py
import time, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads(1)
tf.config.threading.set_inter_op_parallelism_threads(1)
from adgm_tf import fused
R,H=1000,500
p=tf.random.normal([R,H]); gamma=tf.ones([H]); beta=tf.zeros([H]); dy=tf.random.normal([R,H])
x=tf.cast(tf.random.uniform([R,444])>0.5,tf.float32); l=tf.random.normal([R,444])
def bench(f,n=200):
    f(); t=time.perf_counter()
    for _ in range(n): r=f()
    return (time.perf_counter()-t)/n*1e3
@tf.function
def xla_bn():
    with tf.GradientTape() as t:
        t.watch([p,gamma,beta])
        y,_,_=fused.batch_norm_relu([p],gamma,beta,1e-3)
    return t.gradient(y,[p,gamma,beta],output_gradients=dy)
@tf.function
def xla_bn_fwd():
    return fused.batch_norm_relu([p],gamma,beta,1e-3)[0]
@tf.function
def mkl_bn():
    with tf.GradientTape() as t:
        t.watch([p,gamma,beta])
        y,m,v,_,_,_=tf.raw_ops.FusedBatchNormV3(x=tf.reshape(p,[R,1,1,H]),scale=gamma,offset=beta,mean=tf.zeros([0]),variance=tf.zeros([0]),epsilon=1e-3,is_training=True,data_format='NHWC')
        y=tf.nn.relu(tf.reshape(y,[R,H]))
    return t.gradient(y,[p,gamma,beta],output_gradients=dy)
@tf.function
def mkl_bn_fwd():
    y,m,v,_,_,_=tf.raw_ops.FusedBatchNormV3(x=tf.reshape(p,[R,1,1,H]),scale=gamma,offset=beta,mean=tf.zeros([0]),variance=tf.zeros([0]),epsilon=1e-3,is_training=True,data_format='NHWC')
    return tf.nn.relu(y)
@tf.function
def bern():
    with tf.GradientTape() as t:
        t.watch(l)
        ll=fused.bernoulli_log_likelihood(x,l)
    return t.gradient(ll,l)
@tf.function
def copy():
    return p*2.0
@tf.function
def mm():
    return tf.matmul(p,tf.ones([H,H]))
for name,f in [('xla_bn fwd+bwd',xla_bn),('xla_bn fwd',xla_bn_fwd),('mkl_bn fwd+bwd',mkl_bn),('mkl fwd',mkl_bn_fwd),('bern fwd+bwd',bern),('p*2',copy),('matmul 1000x500x500',mm)]:
    print(name, '%.3f ms'%bench(f))
