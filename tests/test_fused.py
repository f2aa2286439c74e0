"""The XLA-fused element-wise functions equal their plain TensorFlow forms, values and gradients."""

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from adgm_tf import fused


def _reference_batch_norm_relu(projections, gamma, beta, epsilon):
    h = projections[0]
    for p in projections[1:]:
        h = h + p
    h = tf.reshape(h, (-1, h.shape[-1]))
    mean, var = tf.nn.moments(h, axes=[0])
    return tf.nn.relu(tf.nn.batch_normalization(h, mean, var, beta, gamma, epsilon)), mean, var


def test_batch_norm_relu_of_broadcast_projections_equals_plain_tensorflow():
    rng = np.random.default_rng(0)
    projections = [  # x [B, H], a [S, B, H], y [K, 1, 1, H], as in the first layer
        tf.constant(rng.normal(size=shape), tf.float32)
        for shape in ((5, 6), (2, 5, 6), (3, 1, 1, 6))
    ]
    gamma = tf.constant(rng.uniform(0.5, 1.5, size=6), tf.float32)
    beta = tf.constant(rng.normal(size=6), tf.float32)
    weights = tf.constant(rng.normal(size=(30, 6)), tf.float32)  # a loss that mixes the rows
    variables = projections + [gamma, beta]
    results = []
    for fn in (fused.batch_norm_relu, _reference_batch_norm_relu):
        with tf.GradientTape() as tape:
            tape.watch(variables)
            y, mean, var = fn(projections, gamma, beta, 1e-3)
            loss = tf.reduce_sum(y * weights)
        results.append((y, mean, var, tape.gradient(loss, variables)))
    (y, mean, var, grads), (y_ref, mean_ref, var_ref, grads_ref) = results
    assert y.shape == (30, 6)
    np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mean, mean_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(var, var_ref, rtol=1e-5)
    for g, g_ref, v in zip(grads, grads_ref, variables):
        assert g.shape == v.shape
        np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5)


def test_batch_norm_relu_takes_unknown_batch_sizes_inside_a_graph():
    rng = np.random.default_rng(1)
    x, a = rng.normal(size=(4, 3)), rng.normal(size=(2, 4, 3))
    gamma, beta = tf.ones(3), tf.zeros(3)

    @tf.function(input_signature=[tf.TensorSpec([None, 3]), tf.TensorSpec([2, None, 3])])
    def f(x, a):
        return fused.batch_norm_relu([x, a], gamma, beta, 1e-3)[0]

    expected = _reference_batch_norm_relu([tf.constant(x, tf.float32),
                                           tf.constant(a, tf.float32)], gamma, beta, 1e-3)[0]
    np.testing.assert_allclose(f(x, a), expected, rtol=1e-5, atol=1e-6)


def test_bernoulli_log_likelihood_equals_tfp_on_binary_and_grey_levels():
    rng = np.random.default_rng(2)
    x = tf.constant(np.r_[rng.integers(0, 2, (2, 7)), rng.uniform(size=(2, 7))], tf.float32)
    logits = tf.constant(rng.normal(scale=3.0, size=(3, 4, 7)), tf.float32)  # broadcast over x
    dist = tfp.distributions.Independent(tfp.distributions.Bernoulli(logits=logits), 1)
    scale = tf.range(1.0, 5.0)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(logits)
        got = fused.bernoulli_log_likelihood(x, logits)
        expected = dist.log_prob(x)
        loss, loss_ref = tf.reduce_sum(got * scale), tf.reduce_sum(expected * scale)
    assert got.shape == (3, 4)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    np.testing.assert_allclose(tape.gradient(loss, logits), tape.gradient(loss_ref, logits),
                               rtol=1e-5, atol=1e-6)
