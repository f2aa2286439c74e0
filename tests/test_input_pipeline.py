"""The tf.data helper and the data sets: batches, seeds, and refusal of bad input."""

import dataclasses

import keras
import ml_collections
import numpy as np
import pytest
import tensorflow as tf

import adgm_tf
from adgm_tf import datasets
from adgm_tf.input_pipeline import labeled_dataset, semi_supervised_dataset


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


def test_unshuffled_unlabeled_batches_keep_their_order_every_epoch():
    x_l, y_l, x_u = _arrays()
    ds = adgm_tf.semi_supervised_dataset(x_l, y_l, x_u, batch_size=10, seed=3,
                                         shuffle_unlabeled=False, first_epoch=4)
    steps = [s["x_unlabeled"] for s in ds.take(8).as_numpy_iterator()]  # epochs 4 and 5
    np.testing.assert_array_equal(np.concatenate(steps[:4]), x_u)
    np.testing.assert_array_equal(np.concatenate(steps[4:]), x_u)


def test_unlabeled_order_by_class_sorts_stably_and_refuses_unknown_classes():
    config = ml_collections.ConfigDict(dict(num_train=60, num_test=10, noise=0.1,
                                            labels_per_class=3, label_positions="spread", seed=0))
    data = datasets.half_moons(config)
    same, shuffle = datasets.in_unlabeled_order(data, "shuffled")
    assert same is data and shuffle
    ordered, shuffle = datasets.in_unlabeled_order(data, "by_class")
    assert not shuffle
    np.testing.assert_array_equal(ordered.y_unlabeled, np.sort(data.y_unlabeled))
    for k in (0, 1):  # each class keeps its loaded order
        np.testing.assert_array_equal(ordered.x_unlabeled[ordered.y_unlabeled == k],
                                      data.x_unlabeled[data.y_unlabeled == k])
    np.testing.assert_array_equal(ordered.x_labeled, data.x_labeled)
    with pytest.raises(ValueError, match="unlabeled_order must be one of"):
        datasets.in_unlabeled_order(data, "random")
    unknown = dataclasses.replace(data, y_unlabeled=None)
    with pytest.raises(ValueError, match="needs the unlabeled set's classes"):
        datasets.in_unlabeled_order(unknown, "by_class")
    with pytest.raises(ValueError, match="y_unlabeled"):
        dataclasses.replace(data, y_unlabeled=data.y_unlabeled[:5])


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


def test_authors_label_draw_is_their_codes():
    # their data_preparation/mnist.py: one RandomState shuffles a Python list of each class's
    # positions in turn, classes in order, and keeps the first per_class
    y = np.array([2, 0, 1, 0, 2, 1, 1, 0, 2, 0, 1, 2, 0, 2, 1, 0])
    rng = np.random.RandomState(123456)
    expected = []
    for k in range(3):
        members = np.flatnonzero(y == k)
        positions = list(range(len(members)))
        rng.shuffle(positions)
        expected.extend(members[positions[:2]])
    idx = datasets.draw_labeled(y, 2, 3, seed=123456, how="authors")
    np.testing.assert_array_equal(idx, expected)
    assert np.bincount(y[idx]).tolist() == [2, 2, 2]
    assert not np.array_equal(idx, datasets.draw_labeled(y, 2, 3, seed=123456))
    with pytest.raises(ValueError, match="label_draw must be one of"):
        datasets.draw_labeled(y, 2, 3, seed=0, how="random")


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


# 0-255 pixel values given to a Bernoulli model, through every public route of the API.
PIXELS_MESSAGE = r"holds values from 0.0 to 255.0, outside \[0, 1\].*Divide them by 255"


@pytest.fixture(scope="module")
def bernoulli_model():
    model = adgm_tf.M2(input_dim=6, num_classes=2, hidden_sizes=(4,), z_dim=2,
                       num_predict_samples=2, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-3))
    return model


def _pixels(rows, seed=0):
    x = np.random.default_rng(seed).integers(0, 256, size=(rows, 6)).astype(np.float32)
    x[0, 0], x[0, 1] = 0.0, 255.0  # the full range, for a fixed message
    return x


def test_the_dataset_builders_refuse_0_255_pixels_for_a_bernoulli_likelihood():
    x, y = _pixels(20), np.arange(20) % 2
    with pytest.raises(ValueError, match="x_labeled " + PIXELS_MESSAGE):
        semi_supervised_dataset(x[:4], y[:4], x, batch_size=10, likelihood="bernoulli")
    with pytest.raises(ValueError, match="x_unlabeled " + PIXELS_MESSAGE):
        semi_supervised_dataset(x[:4] / 255, y[:4], x, batch_size=10, likelihood="bernoulli")
    with pytest.raises(ValueError, match="x " + PIXELS_MESSAGE):
        labeled_dataset(x, y, 5, likelihood="bernoulli")
    # the same arrays are fine for a Gaussian likelihood, and scaled for a Bernoulli one
    semi_supervised_dataset(x[:4], y[:4], x, batch_size=10, likelihood="gaussian")
    semi_supervised_dataset(x[:4] / 255, y[:4], x / 255, batch_size=10, likelihood="bernoulli")


def test_fit_refuses_0_255_pixels_from_a_users_own_pipeline(bernoulli_model):
    x, y = _pixels(40), (np.arange(40) % 2).astype(np.int32)
    before = [w.numpy() for w in bernoulli_model.trainable_variables]
    steps = tf.data.Dataset.from_tensor_slices(
        {"x_labeled": x / 255, "y_labeled": y, "x_unlabeled": x}).batch(10)
    with pytest.raises(ValueError, match=r"model.fit: x_unlabeled \(first batch\) "
                                         + PIXELS_MESSAGE):
        bernoulli_model.fit(steps, epochs=1, verbose=0)
    # refused before any work: no step was taken
    for b, w in zip(before, bernoulli_model.trainable_variables):
        np.testing.assert_array_equal(b, w.numpy())
    # and the same pipeline, scaled, trains
    scaled = tf.data.Dataset.from_tensor_slices(
        {"x_labeled": x / 255, "y_labeled": y, "x_unlabeled": x / 255}).batch(10)
    history = bernoulli_model.fit(scaled, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    test = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    with pytest.raises(ValueError, match="model.fit's validation_data: x " + r"\(first batch\) "
                                         + PIXELS_MESSAGE):
        bernoulli_model.fit(scaled, epochs=1, verbose=0, validation_data=test)


@pytest.mark.parametrize("as_dataset", [False, True], ids=["arrays", "dataset"])
def test_evaluate_and_predict_refuse_0_255_pixels(bernoulli_model, as_dataset):
    x, y = _pixels(30, seed=1), (np.arange(30) % 2).astype(np.int32)
    where = r"\(first batch\)" if as_dataset else r"\(whole\)"
    data = tf.data.Dataset.from_tensor_slices((x, y)).batch(10) if as_dataset else (x, y)
    with pytest.raises(ValueError, match=rf"model.evaluate: x {where} " + PIXELS_MESSAGE):
        bernoulli_model.evaluate(data, verbose=0) if as_dataset else bernoulli_model.evaluate(
            x, y, verbose=0)
    inputs = tf.data.Dataset.from_tensor_slices(x).batch(10) if as_dataset else x
    with pytest.raises(ValueError, match=rf"model.predict: x {where} " + PIXELS_MESSAGE):
        bernoulli_model.predict(inputs, verbose=0)
    # scaled, both answer
    assert bernoulli_model.predict(x / 255, verbose=0).shape == (30, 2)
    assert 0 <= bernoulli_model.evaluate(x / 255, y, verbose=0, return_dict=True)["error"] <= 1
