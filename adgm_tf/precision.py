"""Mixed precision for a training step: each kernel cast to the compute dtype once a step.

Under a mixed-precision policy (float32 weights, bfloat16 products) Keras casts a kernel at
every read: each pass through a network (the labeled pass, the unlabeled pass) casts all its
kernels again, and the backward pass casts each pass's kernel gradient back.
`kernels_in_compute_dtype` casts them once, before the step's passes (BENCHMARKS.md: the
step's time with and without it).
"""

from __future__ import annotations

import contextlib
from typing import Iterator, Sequence

import keras
import tensorflow as tf


@contextlib.contextmanager
def kernels_in_compute_dtype(model: keras.Layer, networks: Sequence[keras.Layer | None],
                             enabled: bool = True) -> Iterator[None]:
    """Inside the block every kernel of `networks` is read as one cast to `model`'s compute
    dtype.

    The kernels are cast once, before the block, and a `keras.StatelessScope` hands those
    casts to every read inside it; the tape's gradient flows through the one cast to the
    float32 variable. The passes' kernel gradients are then summed in the compute dtype (the
    dtype each pass's gradient is computed in) before the cast back. Assignments made inside
    the block to any of `model`'s variables (batch normalisation's moving averages, the noise
    counter) are seen by later reads in it, as always, and applied to the variables on leaving
    it. A no-op when the compute dtype is the variables' dtype or `enabled` is False.
    """
    kernels = [v for net in networks if net is not None for v in net.weights
               if len(v.shape) == 2 and v.dtype != model.compute_dtype]
    if not enabled or not kernels:
        yield
        return
    scope = keras.StatelessScope(initialize_variables=False)
    for kernel in kernels:  # add_update keeps the value's dtype (the constructor would not)
        scope.add_update((kernel, tf.cast(kernel.value, model.compute_dtype)))
    with scope:
        yield
    cast = {id(k) for k in kernels}
    for variable in model.variables:
        value = None if id(variable) in cast else scope.get_current_value(variable)
        if value is not None:
            variable.assign(value)
