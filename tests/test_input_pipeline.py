"""The tf.data helper and the data sets: batches, seeds, and refusal of bad input."""

import ml_collections
import numpy as np
import pytest

import adgm_tf
from adgm_tf import datasets


def _arrays(n_u=40, d=3):
    rng = np.random.default_rng(0)
    x_u = rng.uniform(size=(n_u, d)).astype(np.float32)
    return x_u[:4], np.array([0, 1, 2, 1]), x_u


def test_each_step_has_a_labeled_and_an_unlabeled_batch():
    x_l, y_l, x_u = _arrays()
    ds = adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, labeled_batch_size=3)
    steps = list(ds.as_numpy_iterator())
    assert len(steps) == 4  # one pass over 40 unlabeled examples
    for step in steps:
        assert step["x_labeled"].shape == (3, 3) and step["y_labeled"].shape == (3,)
        assert step["x_unlabeled"].shape == (10, 3)
    seen = np.concatenate([s["x_unlabeled"] for s in steps])
    np.testing.assert_allclose(np.sort(seen, 0), np.sort(x_u, 0))


def test_unlabeled_order_is_reshuffled_each_epoch_and_reproducible():
    x_l, y_l, x_u = _arrays()
    ds = adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, seed=3)
    first = [s["x_unlabeled"] for s in ds.as_numpy_iterator()]
    second = [s["x_unlabeled"] for s in ds.as_numpy_iterator()]
    assert not np.allclose(first[0], second[0])
    again = adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, seed=3)
    np.testing.assert_allclose(first[0], next(again.as_numpy_iterator())["x_unlabeled"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: (a[0][:, :2], a[1], a[2]), "features per example"),
        (lambda a: (a[0], a[1], np.where(np.arange(a[2].size).reshape(a[2].shape) == 5,
                                         np.nan, a[2])), "NaN or infinite"),
        (lambda a: (a[0], np.array([0, 1, 5, 1]), a[2]), "labels from"),
        (lambda a: (a[0], np.array([0, 1, -1, 1]), a[2]), r"must lie in \[0, 3\)"),
        (lambda a: (a[0], np.array([0, 1, 1]), a[2]), "1-D array of 4"),
        (lambda a: (a[0], a[1], a[2][:0]), "empty"),
        (lambda a: (a[0][0], a[1], a[2]), "2-D array"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(change, message):
    x_l, y_l, x_u = change(_arrays())
    with pytest.raises(ValueError, match=message):
        adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, num_classes=3)


def test_a_class_without_labels_is_refused():
    x_l, _, x_u = _arrays()
    with pytest.raises(ValueError, match=r"Classes \[2\] have no labeled example"):
        adgm_tf.semi_supervised_dataset(x_l, np.array([0, 1, 0, 1]), x_u, num_classes=3,
                                        batch_size=10)


def test_batch_larger_than_the_unlabeled_set_is_refused():
    x_l, y_l, x_u = _arrays()
    with pytest.raises(ValueError, match="batch_size"):
        adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=41)


def test_draw_labeled_is_balanced_seeded_and_reproducible():
    y = np.repeat(np.arange(4), 25)
    idx = datasets.draw_labeled(y, 5, 4, seed=7)
    assert np.bincount(y[idx]).tolist() == [5, 5, 5, 5] and len(set(idx)) == 20
    np.testing.assert_array_equal(idx, datasets.draw_labeled(y, 5, 4, seed=7))
    assert not np.array_equal(idx, datasets.draw_labeled(y, 5, 4, seed=8))
    with pytest.raises(ValueError, match="Class 0 has 25 examples; cannot draw 26"):
        datasets.draw_labeled(y, 26, 4, seed=0)


def _moons_config(**kw):
    cfg = dict(num_train=500, num_test=200, noise=0.1, labels_per_class=3,
               label_positions="spread", seed=0)
    cfg.update(kw)
    return ml_collections.ConfigDict(cfg)


def test_half_moons_spread_labels_sit_at_the_ends_and_middle_of_each_moon():
    data = datasets.load("moons", _moons_config())
    assert data.x_unlabeled.shape == (500, 2) and data.x_test.shape == (200, 2)
    assert data.y_labeled.tolist() == [0, 0, 0, 1, 1, 1]
    targets = np.array([[1, 0], [0, 1], [-1, 0], [0, 0.5], [1, -0.5], [2, 0.5]])
    assert np.max(np.linalg.norm(data.x_labeled - targets, axis=1)) < 0.3
    random = datasets.load("moons", _moons_config(label_positions="random"))
    assert np.bincount(random.y_labeled).tolist() == [3, 3]
    with pytest.raises(ValueError, match="label_positions"):
        datasets.load("moons", _moons_config(label_positions="middle"))
    with pytest.raises(ValueError, match="Unknown dataset"):
        datasets.load("cifar", _moons_config())


def test_a_stream_resumed_at_an_epoch_sees_the_same_data():
    x_l, y_l, x_u = _arrays()

    def take(first_epoch, steps):
        ds = adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, labeled_batch_size=3,
                                             seed=5, binarize=True, first_epoch=first_epoch)
        return list(ds.take(steps).as_numpy_iterator())

    uninterrupted = take(0, 12)  # epochs 0, 1, 2 of 4 steps each
    resumed = take(2, 4)  # epoch 2 only
    for a, b in zip(uninterrupted[8:], resumed):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(uninterrupted[0]["x_unlabeled"], uninterrupted[4]["x_unlabeled"])
