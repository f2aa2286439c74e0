"""The 2-D potential toy: the target, the bound's parts, and training."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from adgm_tf.potential import (PotentialFit, finds_both_modes, mode_shares,
                               true_log_normaliser, two_modes)


def test_two_modes_potential_by_hand():
    z = np.array([[2.0, 0.0], [0.0, 2.0]])
    u = two_modes(z)
    # At (2, 0): the radius term is 0, the modes give exp(0) + exp(-0.5 (4/0.6)^2).
    assert u[0] == pytest.approx(-math.log(1 + math.exp(-0.5 * (4 / 0.6) ** 2)))
    assert u[1] == pytest.approx(-math.log(2 * math.exp(-0.5 * (2 / 0.6) ** 2)))
    np.testing.assert_allclose(two_modes(tf.constant(z, tf.float32)), u, rtol=1e-5, atol=1e-6)


def test_gaussian_bound_by_hand_and_below_log_z():
    model = PotentialFit(auxiliary=False, seed=0)
    z, log_w = model.sample(1000)
    q = model.q_z.distribution()
    expected = -two_modes(z.numpy()) - q.log_prob(z).numpy()
    np.testing.assert_allclose(log_w, expected, rtol=1e-4, atol=1e-4)
    assert float(tf.reduce_mean(log_w)) < true_log_normaliser(two_modes)


def test_auxiliary_weight_shapes():
    model = PotentialFit(auxiliary=True, a_dim=3, hidden_sizes=(8,), seed=0)
    z, log_w = model.sample(16)
    assert z.shape == (16, 2) and log_w.shape == (16,)


def test_training_raises_both_bounds():
    steps = tf.data.Dataset.from_tensors(tf.zeros(())).repeat()
    for auxiliary in (True, False):
        keras.utils.set_random_seed(0)
        model = PotentialFit(auxiliary=auxiliary, hidden_sizes=(16, 16), num_samples=64, seed=0)
        before = float(model.estimate_bound(20000))
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
        model.fit(steps, epochs=1, steps_per_epoch=150, verbose=0)
        after = float(model.estimate_bound(20000))
        assert after > before + 0.5, (auxiliary, before, after)



def test_mode_count_by_hand():
    near_left, near_right = np.array([[-2.0, 0.0]] * 7), np.array([[2.5, 0.1]] * 3)
    assert mode_shares(np.r_[near_left, near_right]) == [0.3, 0.7]
    assert finds_both_modes(np.r_[near_left, near_right]) and not finds_both_modes(near_left)
    broad = np.array([[0.0, 0.0], [0.0, 3.0], [1.0, -1.0]])  # between the modes
    assert mode_shares(broad) == [0.0, 0.0] and not finds_both_modes(broad)


def test_random_initial_means_break_the_symmetric_start():
    """init_std draws the Gaussian's initial mean (seeded) and spreads q(z|a)'s initial means
    over a; without it the Gaussian starts at 0."""
    plain = PotentialFit(auxiliary=False, seed=0)
    np.testing.assert_array_equal(plain.q_z.loc.numpy(), [0.0, 0.0])
    means = [PotentialFit(auxiliary=False, seed=s, init_std=1.0).q_z.loc.numpy() for s in (0, 0, 1)]
    np.testing.assert_array_equal(means[0], means[1])
    assert np.abs(means[0]).max() > 0 and not np.array_equal(means[0], means[2])
    keras.utils.set_random_seed(0)
    wide = PotentialFit(auxiliary=True, seed=0, init_std=1.0)
    keras.utils.set_random_seed(0)
    narrow = PotentialFit(auxiliary=True, seed=0)
    a = tf.random.stateless_normal((2000, 4), seed=(0, 0))  # a ~ q(a) = N(0, I) at the start
    spread = {name: float(np.std(m.q_z({"a": a}).mean().numpy()[:, 0]))  # of E[z|a] over a
              for name, m in (("wide", wide), ("narrow", narrow))}
    assert spread["wide"] > 2 * spread["narrow"], spread
