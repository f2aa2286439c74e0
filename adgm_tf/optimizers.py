"""Adam with the authors' two clippings, applied in one fused kernel per weight.

The authors' code clips the gradients to a global norm and then every element to +-1
before Adam; a Keras optimizer takes one kind of clipping, so `ClippedAdam` does both:

    g <- g * min(1, clipnorm / ||g||_global)       (global_clipnorm)
    g <- clip(g, -clipvalue, +clipvalue)            (elementwise_clipvalue)
    Adam(g)                                         (Kingma and Ba, 2015; as keras.optimizers.Adam)

On the TensorFlow backend the Adam update of each weight runs as TensorFlow's fused
`ResourceApplyAdam` kernel: one pass over the weight and its two moments instead of about ten
element-wise operations, with the same update as `keras.optimizers.Adam` (without amsgrad).

Under a `tf.distribute` strategy with several replicas the gradients are summed over the
replicas before the clipping (Keras' own optimizers clip each replica's share first), so the
clipping sees the gradient of the global batch, as on one device.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="adgm_tf")
class ClippedAdam(keras.optimizers.Adam):
    """keras.optimizers.Adam after global-norm and then element-wise gradient clipping.

    Args:
      learning_rate, beta_1, beta_2, epsilon: as `keras.optimizers.Adam`.
      global_clipnorm: rescale the gradients so that their global norm is at most this
        (None or 0: no rescaling).
      elementwise_clipvalue: then clip every gradient element to [-v, v] (None or 0: none).
      fused: use TensorFlow's fused Adam kernel where the backend is TensorFlow.
    """

    def __init__(
        self,
        learning_rate=3e-4,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-7,
        global_clipnorm: float | None = None,
        elementwise_clipvalue: float | None = None,
        fused: bool = True,
        name: str = "clipped_adam",
        **kwargs,
    ):
        for key, value in (("global_clipnorm", global_clipnorm),
                           ("elementwise_clipvalue", elementwise_clipvalue)):
            if value is not None and not value >= 0:
                raise ValueError(f"{key} must be non-negative or None, got {value}.")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         name=name, **kwargs)
        self.norm_clip = global_clipnorm or None
        self.elementwise_clipvalue = elementwise_clipvalue or None
        self.fused = bool(fused) and keras.backend.backend() == "tensorflow"

    def _clip_gradients(self, grads):
        grads = _sum_over_replicas(grads)
        grads = super()._clip_gradients(grads)  # any clipping given to keras' own arguments
        if self.norm_clip:
            import tensorflow as tf

            grads, _ = tf.clip_by_global_norm(grads, self.norm_clip)
        if self.elementwise_clipvalue:
            v = self.elementwise_clipvalue
            grads = [None if g is None else ops.clip(g, -v, v) for g in grads]
        return grads

    def _all_reduce_sum_gradients(self, grads_and_vars):
        return grads_and_vars  # summed in _clip_gradients, before the clipping

    def update_step(self, gradient, variable, learning_rate):
        import tensorflow as tf

        if not self.fused or self.amsgrad or tf.distribute.has_strategy():
            return super().update_step(gradient, variable, learning_rate)

        dtype = variable.dtype
        step = ops.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle,
            m=self._momentums[index].handle,
            v=self._velocities[index].handle,
            beta1_power=ops.power(ops.cast(self.beta_1, dtype), step),
            beta2_power=ops.power(ops.cast(self.beta_2, dtype), step),
            lr=ops.cast(learning_rate, dtype),
            beta1=ops.cast(self.beta_1, dtype),
            beta2=ops.cast(self.beta_2, dtype),
            epsilon=ops.cast(self.epsilon, dtype),
            grad=ops.cast(gradient, dtype),
        )

    def get_config(self):
        config = super().get_config()
        config.update(global_clipnorm=self.norm_clip,
                      elementwise_clipvalue=self.elementwise_clipvalue, fused=self.fused)
        return config


def _sum_over_replicas(grads):
    """The gradients summed over the replicas of a multi-replica step (else unchanged)."""
    import tensorflow as tf

    from adgm_tf.distribute import multi_replica_context

    context = multi_replica_context()
    if context is None:
        return grads
    present = [g for g in grads if g is not None]
    summed = iter(context.all_reduce(tf.distribute.ReduceOp.SUM, present) if present else [])
    return [None if g is None else next(summed) for g in grads]
