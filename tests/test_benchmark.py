"""Step FLOPs counted from the layer sizes, checked by hand and against the traced graph."""

import numpy as np
import pytest
import tensorflow as tf

from adgm_tf import benchmark
from adgm_tf.models import MODELS


def _model(name, **kw):
    small = dict(hidden_sizes=(4,), a_dim=2, z_dim=3, num_samples=2, seed=0)
    return MODELS[name](5, 3, **{**small, **kw})


def test_adgm_step_flops_by_hand():
    # D=5, K=3, one hidden layer of 4, a_dim=2, z_dim=3, S=2, B_l=4, B_u=6.
    # rows: labeled x 4, y 4, a 8, z 8; unlabeled x 6, y 3 (enumerated), a 12, z 3*2*6 = 36.
    labeled = (
        4 * 5 * 4 + 4 * 4 * 4  # q(a|x): first layer + Gaussian head (2 x 2)
        + 8 * 2 * 4 + 4 * 5 * 4 + 8 * 4 * 3  # q(y|a,x)
        + 8 * 2 * 4 + 4 * 3 * 4 + 4 * 5 * 4 + 8 * 4 * 6  # q(z|a,y,x)
        + 4 * 5 * 4 + 4 * 3 * 4 + 8 * 3 * 4 + 8 * 4 * 4  # p(a|x,y,z)
        + 4 * 3 * 4 + 8 * 3 * 4 + 8 * 4 * 5  # p(x|y,z), Bernoulli
    )
    unlabeled = (
        6 * 5 * 4 + 6 * 4 * 4
        + 12 * 2 * 4 + 6 * 5 * 4 + 12 * 4 * 3
        + 12 * 2 * 4 + 3 * 3 * 4 + 6 * 5 * 4 + 36 * 4 * 6
        + 6 * 5 * 4 + 3 * 3 * 4 + 36 * 3 * 4 + 36 * 4 * 4
        + 3 * 3 * 4 + 36 * 3 * 4 + 36 * 4 * 5
    )
    # the first-layer products of x and y: their backward has no input gradient
    data = (
        4 * 5 * 4 + 4 * 5 * 4 + (4 * 3 * 4 + 4 * 5 * 4) + (4 * 5 * 4 + 4 * 3 * 4) + 4 * 3 * 4
        + 6 * 5 * 4 + 6 * 5 * 4 + (3 * 3 * 4 + 6 * 5 * 4) + (6 * 5 * 4 + 3 * 3 * 4) + 3 * 3 * 4
    )
    flops = benchmark.step_flops(_model("adgm"), labeled_batch=4, unlabeled_batch=6)
    assert flops == {"forward_flops": 2 * (labeled + unlabeled),
                     "train_flops": 6 * (labeled + unlabeled) - 2 * data}


def _graph_matmul_flops(fn, *args) -> int:
    """2 m k n summed over the MatMul ops of fn's traced graph (static shapes)."""
    graph = tf.function(fn).get_concrete_function(*args).graph
    total = 0
    for op in graph.get_operations():
        if op.type in ("MatMul", "BatchMatMulV2"):
            a, b = (t.shape.as_list() for t in op.inputs)
            assert None not in a + b, op.name
            m, k = (a[-1], a[-2]) if op.get_attr("transpose_a") else (a[-2], a[-1])
            n = b[-2] if op.get_attr("transpose_b") else b[-1]
            total += 2 * m * k * n * int(np.prod(a[:-2] or [1]))
    return total


@pytest.mark.parametrize("share_work", [True, False])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_step_flops_match_the_products_the_model_runs(name, share_work):
    model = _model(name, hidden_sizes=(6, 5), share_work=share_work)
    data = {"x_labeled": tf.random.uniform([4, 5], seed=1), "y_labeled": tf.constant([0, 1, 2, 0]),
            "x_unlabeled": tf.random.uniform([7, 5], seed=2)}
    traced = _graph_matmul_flops(lambda d: model.compute_loss_terms(d)["loss"], data)
    assert benchmark.step_flops(model, 4, 7)["forward_flops"] == traced


@pytest.mark.parametrize("share_work", [True, False])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_train_flops_match_the_products_of_the_step_and_its_gradient(name, share_work):
    """Forward and backward products of a traced training step (TensorFlow builds no input
    gradient for data, nor any gradient for a frozen network)."""
    model = _model(name, hidden_sizes=(6, 5), share_work=share_work)
    data = {"x_labeled": tf.random.uniform([4, 5], seed=1), "y_labeled": tf.constant([0, 1, 2, 0]),
            "x_unlabeled": tf.random.uniform([7, 5], seed=2)}

    def step(d):
        with tf.GradientTape() as tape:
            loss = model.compute_loss_terms(d)["loss"]
        return tape.gradient(loss, model.trainable_variables)

    assert benchmark.step_flops(model, 4, 7)["train_flops"] == _graph_matmul_flops(step, data)


def test_ops_running_by_hand():
    # 0-1: one op; 1-2: two; 2-3: three (counted as "two or more" with 2 cores); 3-4: none;
    # 4-6: one
    intervals = [(0.0, 3.0), (1.0, 3.0), (2.0, 3.0), (4.0, 6.0)]
    assert benchmark.ops_running(intervals, 2) == [1.0, 3.0, 2.0]
    assert benchmark.ops_running(intervals, 3) == [1.0, 3.0, 1.0, 1.0]
    assert benchmark.ops_running([], 2) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="at least 1"):
        benchmark.ops_running(intervals, 0)


def test_matmul_rate_is_measured():
    assert benchmark.matmul_rate(64, 32, seconds=0.05) > 0.0


def test_the_machine_rate_is_measured_on_every_usable_core(monkeypatch):
    monkeypatch.setenv("TF_NUM_INTRAOP_THREADS", "1")  # a setting of the cases, not the rate's
    (rate,) = benchmark.machine_matmul_rates([(64, 32, "float32")])
    assert rate > 0.0
    assert benchmark.usable_cores() >= 1
