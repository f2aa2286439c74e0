"""Distribution heads and the shared-input MLP: shapes and log-densities by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from adgm_tf.networks import MLP, DistributionHead, StochasticNetwork, reparameterize


def _set_head(head, loc_w, loc_b, log_var_w=None, log_var_b=None):
    head.loc.set_weights([np.asarray(loc_w, np.float32), np.asarray(loc_b, np.float32)])
    if log_var_w is not None:
        head.log_var.set_weights(
            [np.asarray(log_var_w, np.float32), np.asarray(log_var_b, np.float32)]
        )


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
    h = tf.nn.relu(tf.reshape(tiled, [10, 5]) @ mlp.kernel + mlp.bias)
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
