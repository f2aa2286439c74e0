"""The exported bound as an out-of-distribution score (adgm_tf.ood)."""

import numpy as np
import pytest
import tensorflow as tf

import adgm_tf
from adgm_tf import ood


def test_separation_ranks_in_distribution_inputs_above_the_others():
    result = ood.separation(np.array([3.0, 4.0, 5.0]), np.array([1.0, 2.0, 6.0]))
    assert result["auroc"] == pytest.approx(6 / 9)  # 6 of the 9 (in, out) pairs are ordered
    assert result["fpr_at_95_tpr"] == pytest.approx(1 / 3)  # accepting every in: 6 too
    assert ood.separation(np.array([2.0, 3.0]), np.array([0.0, 1.0]))["auroc"] == 1.0
    with pytest.raises(ValueError, match="not finite"):
        ood.separation(np.array([np.nan, 1.0]), np.array([0.0]))


def test_bound_scores_are_the_signature_on_raw_inputs(tmp_path):
    model = adgm_tf.ADGM(input_dim=3, num_classes=2, likelihood="bernoulli",
                         hidden_sizes=(8,), a_dim=2, z_dim=2, seed=0)
    path = adgm_tf.export_saved_model(model, str(tmp_path / "export"), [0, 2, 3],
                                      raw_input_dim=5)
    x = np.random.default_rng(0).uniform(size=(7, 5)).astype(np.float32)
    direct = tf.saved_model.load(path).signatures["bound"](x=tf.constant(x))["bound"].numpy()
    np.testing.assert_array_equal(ood.bound_scores(path, x, batch_size=7), direct)
    scores = ood.bound_scores(path, x, batch_size=3)  # batches of 3, 3 and 1
    assert scores.shape == (7,) and np.all(np.isfinite(scores)) and np.all(scores < 0)
    with pytest.raises(ValueError, match="takes 5 raw features per input; got 3"):
        ood.bound_scores(path, x[:, :3])
