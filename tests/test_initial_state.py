"""A model built with a seed starts where it always did.

The study of the auxiliary variable compares runs made at different commits, so a change
that reorganises the code must not change what a seeded model starts from: its weights (their
order, names, shapes and values) and the loss of its first training steps. The reference,
tests/data/initial_state.json, was written by this file (`python tests/test_initial_state.py
--write`) at commit 8fa5997, before the models were split into their rooms; rewrite it only
for a change that means to change the models' start, and say so in the commit.
"""

import json
import pathlib
import sys

import numpy as np
import pytest

REFERENCE = pathlib.Path(__file__).parent / "data" / "initial_state.json"

# Small models of every variant and of the options that change the graph of a step.
CASES = {
    "adgm": dict(architecture="adgm"),
    "sdgm": dict(architecture="sdgm"),
    "m2": dict(architecture="m2"),
    "adgm_deterministic": dict(architecture="adgm_deterministic"),
    "adgm_fixed_qa": dict(architecture="adgm_fixed_qa"),
    "adgm_p_a_yz_free_bits": dict(architecture="adgm", p_a_inputs=("y", "z"), a_free_bits=0.5),
    "sdgm_gaussian_prior_floor": dict(architecture="sdgm", likelihood="gaussian",
                                      x_var_floor=0.01, weight_prior=1e-3, head_init_std=1e-3),
    "adgm_bf16_two_samples": dict(architecture="adgm", dtype="mixed_bfloat16", num_samples=2),
    "adgm_tiled_all_stats": dict(architecture="adgm", share_work=False, batch_norm_stats="all"),
}
INPUT_DIM, NUM_CLASSES, BATCH_L, BATCH_U = 12, 3, 6, 8


def _state(case: dict) -> dict:
    """Each weight's path (without the model's name), shape, sum and sum of squares after
    construction, and the losses and bounds of the first two training steps."""
    import keras
    import tensorflow as tf

    from adgm_tf.models import DeepGenerativeModel

    keras.utils.set_random_seed(0)
    model = DeepGenerativeModel(
        INPUT_DIM, NUM_CLASSES, **{**dict(hidden_sizes=(8, 8), a_dim=4, z_dim=3,
                                        num_predict_samples=3, classification_weight=2.0,
                                        batch_norm=True, seed=5), **case})
    weights = [dict(path=w.path.split("/", 1)[1], shape=list(w.shape),
                    sum=float(np.sum(np.asarray(w, np.float64))),
                    sum_sq=float(np.sum(np.square(np.asarray(w, np.float64)))))
               for w in model.weights]
    rng = np.random.default_rng(3)
    low, high = (0.0, 1.0) if case.get("likelihood", "bernoulli") == "bernoulli" else (-2.0, 2.0)
    batch = {"x_labeled": tf.constant(rng.uniform(low, high, (BATCH_L, INPUT_DIM)), tf.float32),
             "y_labeled": tf.constant(rng.integers(0, NUM_CLASSES, BATCH_L), tf.int32),
             "x_unlabeled": tf.constant(rng.uniform(low, high, (BATCH_U, INPUT_DIM)), tf.float32)}
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    steps = []
    for _ in range(2):
        logs = model.train_step(batch)
        steps.append({k: float(v) for k, v in logs.items()})
        for tracker in model.metrics:
            tracker.reset_state()
    return dict(weights=weights, steps=steps)


@pytest.mark.parametrize("name", sorted(CASES))
def test_seeded_model_starts_as_at_the_reference_commit(name):
    expected = json.loads(REFERENCE.read_text())[name]
    state = _state(CASES[name])
    assert [(w["path"], w["shape"]) for w in state["weights"]] == [
        (w["path"], w["shape"]) for w in expected["weights"]]
    for got, want in zip(state["weights"], expected["weights"]):
        np.testing.assert_allclose([got["sum"], got["sum_sq"]], [want["sum"], want["sum_sq"]],
                                   rtol=1e-6, atol=1e-6, err_msg=got["path"])
    # The steps run matrix products whose rounding may differ between CPUs: a looser bound,
    # still far below any change of noise, weights or maths (which moves them by percents).
    tolerance = 2e-2 if "bf16" in name else 1e-4
    for got, want in zip(state["steps"], expected["steps"]):
        assert sorted(got) == sorted(want)
        for key in want:
            np.testing.assert_allclose(got[key], want[key], rtol=tolerance, atol=tolerance,
                                       err_msg=key)


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python tests/test_initial_state.py --write")
    REFERENCE.parent.mkdir(exist_ok=True)
    REFERENCE.write_text(json.dumps({n: _state(c) for n, c in sorted(CASES.items())}, indent=1)
                         + "\n")
    print(f"wrote {REFERENCE}")
