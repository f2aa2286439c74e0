"""Each term of the bound against values computed by hand."""

import math

import numpy as np
import pytest
import tensorflow as tf

from adgm_tf import bounds


def test_log_importance_weight_adds_model_and_subtracts_posterior_terms():
    got = bounds.log_importance_weight(
        log_px=tf.constant(-3.0), log_py=-math.log(10), log_pz=tf.constant(-2.0),
        log_pa=tf.constant(-1.5), log_qa=tf.constant(-0.5), log_qz=tf.constant(-1.0),
    )
    assert float(got) == pytest.approx(-3.0 - math.log(10) - 2.0 - 1.5 + 0.5 + 1.0)


def test_labeled_bound_averages_samples():
    log_w = tf.constant([[-1.0, -4.0], [-3.0, -2.0]])  # [S=2, B=2]
    np.testing.assert_allclose(bounds.labeled_bound(log_w), [-2.0, -3.0])


def test_authors_sample_layout_mixes_images_as_their_reshape_did():
    # K=1, S=2, B=4, log w[0, s, b] = 10 b + s. Their rows run (b=0,s=0), (0,1), (1,0), ...
    # and are read as [S, B]: sample row 0 holds images 0, 0, 1, 1; row 1 images 2, 2, 3, 3.
    log_w = tf.constant([[[10.0 * b + s for b in range(4)] for s in range(2)]])
    got = bounds.authors_sample_layout(log_w).numpy()
    np.testing.assert_array_equal(got, [[[0, 1, 10, 11], [20, 21, 30, 31]]])
    # the "mean over samples" of image 0 is the mean of images 0 and 2 (one sample each)
    np.testing.assert_allclose(got.mean(axis=1), [[10, 11, 20, 21]])


def test_authors_sample_layout_matches_their_numpy_reshape():
    # Their lb_u: rows (class, image, sample), sample inner; then
    # lb_u.reshape((n_y, samples, 1, bs_u)).transpose(3, 1, 2, 0).mean(axis=(1, 2)) -> [B, K].
    K, S, B = 3, 10, 100
    per_image = np.random.default_rng(0).normal(size=(K, B, S))  # log w of (k, b, s)
    theirs = per_image.reshape(K, S, 1, B).transpose(3, 1, 2, 0).mean(axis=(1, 2))
    ours = bounds.authors_sample_layout(tf.constant(per_image.transpose(0, 2, 1)))  # [K, S, B]
    np.testing.assert_allclose(tf.reduce_mean(ours, axis=1).numpy().T, theirs, rtol=1e-6)


def test_authors_sample_layout_leaves_one_sample_alone():
    log_w = tf.random.stateless_normal((3, 1, 5), seed=(1, 2))
    np.testing.assert_array_equal(bounds.authors_sample_layout(log_w), log_w)


def test_unlabeled_bound_by_hand():
    # One example, one sample, two classes: q = (0.25, 0.75), log w = (-2, -4).
    q = np.array([0.25, 0.75])
    log_w = np.array([-2.0, -4.0])
    expected = np.sum(q * (log_w - np.log(q)))
    got = bounds.unlabeled_bound(
        tf.constant(log_w.reshape(2, 1, 1), tf.float32),
        tf.constant(np.log(q).reshape(2, 1, 1), tf.float32),
    )
    assert got.shape == (1,)
    assert float(got[0]) == pytest.approx(expected, rel=1e-6)


def test_unlabeled_bound_equals_explicit_sum_over_classes_and_samples():
    rng = np.random.default_rng(0)
    k, s, b = 4, 3, 5
    log_w = rng.normal(size=(k, s, b))
    logits = rng.normal(size=(s, b, k))
    log_q = logits - np.log(np.exp(logits).sum(-1, keepdims=True))  # [S, B, K]
    explicit = np.zeros(b)
    for i in range(b):
        for si in range(s):
            for c in range(k):
                qc = math.exp(log_q[si, i, c])
                explicit[i] += qc * (log_w[c, si, i] - log_q[si, i, c]) / s
    got = bounds.unlabeled_bound(
        tf.constant(log_w, tf.float32), tf.constant(np.transpose(log_q, (2, 0, 1)), tf.float32)
    )
    np.testing.assert_allclose(got, explicit, rtol=1e-5)


def test_unlabeled_bound_is_below_log_sum_exp_when_q_is_not_the_posterior():
    # sum_y q (log w - log q) <= log sum_y w, with equality at q = w / sum w.
    log_w = tf.constant([[[-1.0]], [[-3.0]]])
    uniform = tf.math.log(tf.constant([[[0.5]], [[0.5]]]))
    posterior = log_w - tf.reduce_logsumexp(log_w, axis=0)
    exact = float(tf.reduce_logsumexp(log_w))
    assert float(bounds.unlabeled_bound(log_w, uniform)[0]) < exact
    assert float(bounds.unlabeled_bound(log_w, posterior)[0]) == pytest.approx(exact, rel=1e-6)


def test_classification_log_likelihood_averages_inside_the_log():
    # q(y_l|a_s, x) = 0.2 and 0.6 for two samples of a: log E[q] = log 0.4.
    got = bounds.classification_log_likelihood(tf.math.log(tf.constant([[0.2], [0.6]])))
    assert float(got[0]) == pytest.approx(math.log(0.4), rel=1e-6)


def test_classification_weight_matches_paper_mnist_value():
    assert bounds.classification_weight(0.1, 100, 60000) == pytest.approx(60.1)
    with pytest.raises(ValueError, match="num_labeled"):
        bounds.classification_weight(0.1, 0, 100)


def test_semi_supervised_objective_by_hand():
    labeled = tf.constant([-10.0, -12.0])
    unlabeled = tf.constant([-8.0, -9.0, -7.0])
    class_ll = tf.constant([math.log(0.5), math.log(0.25)])
    alpha = 2.0
    expected = np.mean([10 - 2 * math.log(0.5), 12 - 2 * math.log(0.25)]) + 8.0
    got = bounds.semi_supervised_objective(labeled, unlabeled, class_ll, alpha)
    assert float(got) == pytest.approx(expected, rel=1e-6)


def test_log_uniform_prior():
    assert bounds.log_uniform_prior(10) == pytest.approx(-math.log(10))


def test_importance_weighted_bound_by_hand():
    # K=2 classes, S=2 samples, B=1: log((1/2) sum_s sum_k w_ks)
    w = np.array([[[0.2], [0.6]], [[0.1], [0.3]]])
    got = bounds.importance_weighted_bound(tf.constant(np.log(w), tf.float32))
    np.testing.assert_allclose(got.numpy(), [np.log(w.sum() / 2)], rtol=1e-6)


def test_importance_weighted_bound_is_above_the_elbo_on_average():
    rng = np.random.default_rng(0)
    log_w = tf.constant(rng.normal(-5.0, 2.0, size=(3, 50, 4)), tf.float32)
    log_qy = tf.nn.log_softmax(tf.constant(rng.normal(size=(3, 50, 4)), tf.float32), axis=0)
    elbo = bounds.unlabeled_bound(log_w, log_qy)
    iwae = bounds.importance_weighted_bound(log_w)
    assert np.all(iwae.numpy() > elbo.numpy())


def test_weight_penalty_by_hand():
    got = bounds.weight_penalty([tf.constant([[1.0, 2.0]]), tf.constant([[3.0]])])
    assert float(got) == pytest.approx(0.5 * (1 + 4 + 9))
