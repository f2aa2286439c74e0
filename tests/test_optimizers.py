"""ClippedAdam: the fused update equals keras' Adam; both clippings act in the paper's order."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from adgm_tf.optimizers import ClippedAdam


def _run(optimizer, grads_per_step, shapes):
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype(np.float32)) for s in shapes]
    for grads in grads_per_step:
        optimizer.apply([tf.constant(g, tf.float32) for g in grads], variables)
    return [v.numpy() for v in variables]


@pytest.mark.parametrize("fused", [True, False])
def test_unclipped_update_equals_keras_adam(fused):
    rng = np.random.default_rng(1)
    shapes = [(4, 3), (3,)]
    steps = [[rng.normal(size=s) for s in shapes] for _ in range(5)]
    ours = _run(ClippedAdam(1e-2, fused=fused), steps, shapes)
    reference = _run(keras.optimizers.Adam(1e-2), steps, shapes)
    for a, b in zip(ours, reference):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)  # round-off of the fused kernel


def test_global_norm_then_elementwise_clipping_by_hand():
    grads = [np.array([30.0, -40.0], np.float32), np.array([0.0], np.float32)]  # norm 50
    seen = ClippedAdam(global_clipnorm=5.0, elementwise_clipvalue=1.0)._clip_gradients(
        [tf.constant(g) for g in grads])
    # rescaled to norm 5: (3, -4), then clipped to +-1
    np.testing.assert_allclose(seen[0], [1.0, -1.0])
    only_norm = ClippedAdam(global_clipnorm=5.0)._clip_gradients([tf.constant(g) for g in grads])
    np.testing.assert_allclose(only_norm[0], [3.0, -4.0], rtol=1e-6)
    small = ClippedAdam(global_clipnorm=500.0, elementwise_clipvalue=35.0)._clip_gradients(
        [tf.constant(g) for g in grads])
    np.testing.assert_allclose(small[0], [30.0, -35.0])


def test_clipped_update_equals_keras_adam_on_the_clipped_gradients():
    rng = np.random.default_rng(2)
    shapes = [(5,)]
    steps = [[rng.normal(scale=10.0, size=s)] for s in shapes * 3]
    clipped = [[np.clip(g * min(1.0, 2.0 / np.linalg.norm(g)), -0.5, 0.5) for g in step]
               for step in steps]
    ours = _run(ClippedAdam(1e-2, global_clipnorm=2.0, elementwise_clipvalue=0.5), steps, shapes)
    reference = _run(keras.optimizers.Adam(1e-2), clipped, shapes)
    np.testing.assert_allclose(ours[0], reference[0], rtol=1e-5, atol=1e-6)


def test_config_round_trip_and_refusals():
    opt = ClippedAdam(3e-4, global_clipnorm=5.0, elementwise_clipvalue=1.0)
    again = ClippedAdam.from_config(opt.get_config())
    assert (again.norm_clip, again.elementwise_clipvalue) == (5.0, 1.0)
    with pytest.raises(ValueError, match="elementwise_clipvalue must be non-negative"):
        ClippedAdam(elementwise_clipvalue=-1.0)
