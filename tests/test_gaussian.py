"""Gaussian inputs (SVHN, NORB): the variance floor and a short SDGM run that stays finite."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.datasets import load_digits

import adgm_tf
from adgm_tf.networks import DistributionHead
from adgm_tf.optimizers import ClippedAdam


def test_the_variance_floor_bounds_the_gaussian_head():
    head = DistributionHead("gaussian", 3, var_floor=0.01)
    head.build((None, 4))
    head.out.kernel.assign(tf.zeros((4, 6)))
    head.out.bias.assign(tf.constant([0.0, 0.0, 0.0, -50.0, 0.0, 2.0]))  # log-variances
    variance = head(tf.ones((2, 4))).distribution.variance().numpy()[0]
    np.testing.assert_allclose(variance, [np.exp(-50.0) + 0.01, 1.01, np.exp(2.0) + 0.01],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="var_floor must be non-negative"):
        DistributionHead("gaussian", 3, var_floor=-1.0)


def test_a_short_sdgm_run_on_gaussian_inputs_stays_finite():
    """NORB's preprocessing on sklearn's 8 x 8 digits (pixels 0-16): U(0, 1) noise, scaled,
    the mean subtracted; an SDGM with the paper's stabilisers (KL warm-up, batch
    normalisation) and a variance floor, at a learning rate 10 x the paper's."""
    keras.utils.set_random_seed(0)
    digits = load_digits()
    rng = np.random.default_rng(0)
    x = ((digits.data + rng.uniform(size=digits.data.shape)) / 17.0).astype(np.float32)
    x -= x.mean(axis=0)
    y = digits.target.astype(np.int32)
    labeled = np.concatenate([np.flatnonzero(y == k)[:5] for k in range(10)])
    steps_per_epoch = len(x) // 100
    model = adgm_tf.SDGM(
        input_dim=64, num_classes=10, likelihood="gaussian", hidden_sizes=(64, 64), a_dim=8,
        z_dim=8, num_samples=1, batch_norm=True, x_var_floor=1e-4, seed=0,
        classification_weight=adgm_tf.classification_weight(0.1, len(labeled), len(x)))
    model.compile(optimizer=ClippedAdam(3e-3, global_clipnorm=5.0))
    steps = adgm_tf.semi_supervised_dataset(x[labeled], y[labeled], x, batch_size=100,
                                            labeled_batch_size=50, num_classes=10,
                                            first_epoch=0)
    step_losses = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: step_losses.append(float(logs["loss"])))
    history = model.fit(steps, epochs=8, steps_per_epoch=steps_per_epoch, verbose=0,
                        callbacks=[adgm_tf.KLWarmup(2, steps_per_epoch), record])
    assert len(step_losses) == 8 * steps_per_epoch
    assert np.all(np.isfinite(step_losses))
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    result = model.evaluate(x[:500], y[:500], return_dict=True, verbose=0)
    assert np.isfinite(result["bound"]) and result["error"] < 0.9
