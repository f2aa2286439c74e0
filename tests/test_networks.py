"""Distribution heads and the shared-input MLP: shapes and log-densities by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf
import keras

from adgm_tf.networks import MLP, DistributionHead, StochasticNetwork, reparameterize


def _set_head(head, loc_w, loc_b, log_var_w=None, log_var_b=None):
    """A Gaussian head's one kernel holds the mean's columns, then the log-variance's."""
    w, b = np.asarray(loc_w, np.float32), np.asarray(loc_b, np.float32)
    if log_var_w is not None:
        w = np.concatenate([w, np.asarray(log_var_w, np.float32)], axis=-1)
        b = np.concatenate([b, np.asarray(log_var_b, np.float32)], axis=-1)
    head.out.set_weights([w, b])


def test_gaussian_head_log_prob_by_hand():
    head = DistributionHead("gaussian", 2)
    h = tf.constant([[1.0]])
    head(h)  # build
    # mu = (0.5, -1), log sigma^2 = (0, log 4) => sigma = (1, 2).
    _set_head(head, [[0.5, -1.0]], [0.0, 0.0], [[0.0, 0.0]], [0.0, math.log(4.0)])
    dist = head(h)
    x = np.array([[1.5, 1.0]], np.float32)
    expected = sum(
        -0.5 * math.log(2 * math.pi * s**2) - (xi - m) ** 2 / (2 * s**2)
        for xi, m, s in [(1.5, 0.5, 1.0), (1.0, -1.0, 2.0)]
    )
    assert dist.event_shape == (2,) and dist.batch_shape == (1,)
    assert float(dist.log_prob(x)[0]) == pytest.approx(expected, rel=1e-5)


def test_bernoulli_head_log_prob_by_hand_including_grey_levels():
    head = DistributionHead("bernoulli", 3)
    h = tf.constant([[1.0]])
    head(h)
    logits = np.array([2.0, -1.0, 0.0])
    _set_head(head, [logits], [0.0, 0.0, 0.0])
    x = np.array([[1.0, 0.0, 0.3]], np.float32)
    p = 1 / (1 + np.exp(-logits))
    expected = np.sum(x * np.log(p) + (1 - x) * np.log(1 - p))
    assert float(head(h).log_prob(x)[0]) == pytest.approx(expected, rel=1e-5)


def test_categorical_head_log_probs_of_all_classes_broadcast():
    head = DistributionHead("categorical", 3)
    dist = head(tf.zeros([4, 5, 7]))
    assert dist.batch_shape == (4, 5)
    log_p = dist.log_prob(tf.range(3)[:, None, None])  # [K, S, B]
    assert log_p.shape == (3, 4, 5)
    np.testing.assert_allclose(tf.reduce_sum(tf.exp(log_p), 0), np.ones((4, 5)), rtol=1e-5)


def test_mlp_on_broadcast_inputs_equals_dense_on_tiled_concatenation():
    tf.random.set_seed(0)
    mlp = MLP([3, 2], hidden_sizes=(6, 4))
    x = tf.random.normal([5, 3])  # [B, 3], class independent
    y = tf.eye(2)[:, None, :]  # [K, 1, 2]
    out = mlp([x, y])  # [K, B, 4]
    assert out.shape == (2, 5, 4)
    tiled = tf.concat([tf.broadcast_to(x, [2, 5, 3]), tf.broadcast_to(y, [2, 5, 2])], -1)
    kernel = tf.concat([k.value for k in mlp.kernels], axis=0)  # one Dense on the concatenation
    h = tf.nn.relu(tf.reshape(tiled, [10, 5]) @ kernel + mlp.bias)
    w, b = mlp.dense[0].get_weights()
    expected = tf.reshape(tf.nn.relu(h @ w + b), [2, 5, 4])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_stochastic_network_shapes_and_reparameterized_sample():
    net = StochasticNetwork(("a", "x"), {"a": 4, "x": 3}, (8, 8), "gaussian", 2)
    dist = net({"a": tf.zeros([6, 5, 4]), "x": tf.ones([5, 3])})  # S=6, B=5
    assert dist.batch_shape == (6, 5) and dist.event_shape == (2,)
    eps = tf.zeros([6, 5, 2])
    np.testing.assert_allclose(reparameterize(dist, eps), dist.mean(), rtol=1e-6)


def test_unknown_head_is_refused():
    with pytest.raises(ValueError, match="Unknown head"):
        DistributionHead("poisson", 2)


def test_first_layer_kernels_start_as_one_glorot_kernel_of_the_concatenation():
    keras.utils.set_random_seed(0)
    mlp = MLP([300, 100], hidden_sizes=(200,), input_names=("x", "a"))
    limit = np.sqrt(6.0 / (400 + 200))
    for kernel, name in zip(mlp.kernels, ("x", "a")):
        assert kernel.path.endswith(f"kernel_{name}")
        w = kernel.numpy()
        assert np.abs(w).max() <= limit and np.abs(w).max() > 0.95 * limit
        assert np.std(w) == pytest.approx(limit / np.sqrt(3.0), rel=0.05)  # uniform's std


def test_gaussian_head_halves_start_as_glorot_kernels_of_their_own():
    keras.utils.set_random_seed(0)
    head = DistributionHead("gaussian", 100)
    head(tf.zeros([1, 500]))
    w = head.out.get_weights()[0]
    assert w.shape == (500, 200)
    limit = np.sqrt(6.0 / (500 + 100))
    for half in (w[:, :100], w[:, 100:]):
        assert np.std(half) == pytest.approx(limit / np.sqrt(3.0), rel=0.05)


def test_batch_norm_mlp_trains_on_batch_statistics_and_infers_with_moving_averages():
    """Training mode equals keras' BatchNormalization + ReLU on the same pre-activations; only
    calls with update_stats=True move the moving averages; inference mode uses them."""
    tf.random.set_seed(0)
    mlp = MLP([3, 2], hidden_sizes=(6,), batch_norm=True)
    assert mlp.bias is None and not mlp.dense  # the normalisation removes any bias
    x = tf.random.normal([5, 3])
    y = tf.eye(2)[:, None, :]  # [K, 1, 2]
    pre = tf.reshape(x @ mlp.kernels[0] + y @ mlp.kernels[1], [10, 6])
    reference = keras.layers.BatchNormalization(epsilon=1e-3)
    expected = tf.nn.relu(reference(pre, training=True))
    np.testing.assert_allclose(mlp([x, y], training=True, update_stats=False),
                               tf.reshape(expected, [2, 5, 6]), rtol=1e-5, atol=1e-5)
    bn = mlp.norms[0]
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(6))  # not updated
    mlp([x, y], training=True)
    np.testing.assert_allclose(bn.moving_mean, reference.moving_mean, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(bn.moving_variance, reference.moving_variance, rtol=1e-5)
    mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    by_hand = np.maximum((pre.numpy() - mean) / np.sqrt(var + 1e-3), 0.0)  # gamma 1, beta 0
    np.testing.assert_allclose(tf.reshape(mlp([x, y], training=False), [10, 6]), by_hand,
                               rtol=1e-5, atol=1e-5)


def test_glorot_normal_relu_init_gives_each_kernel_its_own_fan_in():
    keras.utils.set_random_seed(0)
    mlp = MLP([300, 100], hidden_sizes=(200, 400), input_names=("x", "a"),
              init="glorot_normal_relu")
    mlp([tf.zeros([1, 300]), tf.zeros([1, 100])])  # builds the hidden layer
    for kernel, fan_in in zip(mlp.kernels, (300, 100)):
        assert np.std(kernel.numpy()) == pytest.approx(np.sqrt(4.0 / (fan_in + 200)), rel=0.05)
    assert np.std(mlp.dense[0].kernel.numpy()) == pytest.approx(np.sqrt(4.0 / 600), rel=0.05)
    with pytest.raises(ValueError, match="Unknown init"):
        MLP([3], hidden_sizes=(4,), init="he")
