"""The model family: shapes, enumeration, the Keras contract, training, export."""

import numpy as np
import pytest
import tensorflow as tf
import keras

import adgm_tf
from adgm_tf import bounds, latents
from adgm_tf.callbacks import KLWarmup
from adgm_tf.architectures import ARCHITECTURES
from adgm_tf.models import MODELS, DeepGenerativeModel

SMALL = dict(hidden_sizes=(8, 8), a_dim=3, z_dim=2, num_predict_samples=4, seed=1)


def _model(name, likelihood="bernoulli", input_dim=5, num_classes=3, **kw):
    return MODELS[name](input_dim, num_classes, likelihood, **{**SMALL, **kw})


def _x(batch=4, dim=5, seed=0):
    return tf.constant(np.random.default_rng(seed).uniform(size=(batch, dim)), tf.float32)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_call_returns_class_probabilities(name):
    model = _model(name)
    probs = model(_x())
    assert probs.shape == (4, 3)
    np.testing.assert_allclose(tf.reduce_sum(probs, -1), np.ones(4), rtol=1e-5)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_predictions_are_deterministic_and_independent_of_the_batch(name):
    model = _model(name)
    x = _x(batch=6)
    np.testing.assert_allclose(model(x), model(x), rtol=1e-6)
    np.testing.assert_allclose(model(x[:2]), model(x)[:2], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian"])
def test_term_shapes(name, likelihood):
    model = _model(name, likelihood, num_samples=2)
    x = _x()
    log_w, log_qy = model.unlabeled_terms(x, model._noise(x, 2, 3))
    assert log_w.shape == (3, 2, 4)
    assert log_qy.shape[0] == 3 and log_qy.shape[-1] == 4
    labeled, class_ll = model.labeled_terms(x, tf.constant([0, 1, 2, 0]), model._noise(x, 2))
    assert labeled.shape == (4,) and class_ll.shape == (4,)
    assert np.all(np.isfinite(log_w)) and np.all(np.isfinite(labeled))
    assert np.all(class_ll.numpy() <= 1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_enumeration_equals_labeled_weight_for_each_class(name):
    """The broadcast enumeration over classes equals one labeled evaluation per class."""
    model = _model(name, num_samples=2)
    x = _x()
    eps_a, eps_z = model._noise(x, 2, 3)
    log_w, log_qy = model.unlabeled_terms(x, (eps_a, eps_z))
    a, log_qa = model.auxiliary(x, eps_a)
    per_class_qy = model.class_log_probs(x, a)  # [S or 1, B, K]
    for k in range(3):
        y = tf.one_hot(tf.fill([4], k), 3)
        explicit = model.log_weight(x, y, a, log_qa, eps_z[k])  # [S, B]
        np.testing.assert_allclose(log_w[k], explicit, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(log_qy[k], per_class_qy[..., k], rtol=1e-5, atol=1e-6)
    explicit_u = sum(
        tf.exp(per_class_qy[..., k]) * (log_w[k] - per_class_qy[..., k]) for k in range(3)
    )
    np.testing.assert_allclose(
        bounds.unlabeled_bound(log_w, log_qy), tf.reduce_mean(explicit_u, 0), rtol=1e-4
    )


@pytest.mark.parametrize("name", sorted(MODELS))
def test_class_bounds_are_the_labeled_bound_under_each_class(name):
    """class_bounds(x)[:, k] = -L(x, k) of labeled_terms with label k and the same noise."""
    model = _model(name, num_samples=2)
    x = _x()
    step = int(model.noise_step.numpy())
    got = model.class_bounds(x, num_samples=3, training=False)
    assert got.shape == (4, 3)
    model.noise_step.assign(step)
    eps_a, eps_z = model._noise(x, 3, 3)
    for k in range(3):
        labeled, _ = model.labeled_terms(x, tf.fill([4], k), (eps_a, eps_z[k]), training=False)
        np.testing.assert_allclose(got[:, k], labeled, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_importance_weighted_bound_is_above_the_bound_on_the_same_samples(name):
    """log (1/S) sum_s sum_k w_ks >= (1/S) sum_s sum_k q(k|a_s,x) (log w_ks - log q(k|a_s,x))
    (Jensen, twice) when both use the same samples; and it is log p(x)-sized, finite."""
    model = _model(name)
    x = _x(batch=6)
    step = int(model.noise_step.numpy())
    iw = model.importance_weighted_bound(x, 5, training=False)
    model.noise_step.assign(step)
    elbo = model.unlabeled_bound(x, num_samples=5, training=False)
    assert iw.shape == (6,) and np.all(np.isfinite(iw))
    assert np.all(iw.numpy() >= elbo.numpy() - 1e-4)
    assert np.any(iw.numpy() > elbo.numpy() + 1e-3)


def test_architectures_wire_the_paper_conditionals():
    adgm, sdgm = _model("adgm"), _model("sdgm")
    assert adgm.p_a.input_names == ("x", "y", "z") and adgm.p_x.input_names == ("y", "z")
    assert sdgm.p_a.input_names == ("y", "z") and sdgm.p_x.input_names == ("a", "y", "z")
    assert sdgm.q_z.input_names == ("a", "y", "x") and sdgm.q_y.input_names == ("a", "x")
    m2 = _model("m2")
    assert m2.q_a is None and m2.p_a is None and m2.q_y.input_names == ("x",)
    det = _model("adgm_deterministic")
    assert det.p_a is None and det.q_a.head.kind == "deterministic"
    assert _model("adgm", p_a_inputs=("y", "z")).p_a.input_names == ("y", "z")
    assert set(ARCHITECTURES) == set(MODELS)


def test_fixed_qa_variant_keeps_q_a_untrained_and_scores_a_under_a_standard_normal():
    """The authors' early model: q(z|y,x), p(a) = N(0, I), q(a|x) out of the update."""
    model = _model("adgm_fixed_qa", num_samples=2)
    assert model.p_a is None and model.q_z.input_names == ("y", "x")
    assert model.q_a.weights and not any("/q_a/" in v.path for v in model.trainable_variables)
    x, y = _x(), tf.constant([0, 1, 2, 0])
    eps_a, eps_z = model._noise(x, 2)
    a, log_qa = model.auxiliary(x, eps_a)
    log_w = model.log_weight(x, tf.one_hot(y, 3), a, log_qa, eps_z)  # [S, B]
    # the same weight with log N(a; 0, I) taken out by hand: the rest does not see a
    log_pa = -0.5 * tf.reduce_sum(a**2, -1) - 0.5 * 3 * np.log(2 * np.pi)
    without_a = model.log_weight(x, tf.one_hot(y, 3), tf.zeros_like(a), 0.0, eps_z)
    log_p0 = -0.5 * 3 * np.log(2 * np.pi)
    np.testing.assert_allclose(log_w, without_a - log_p0 + log_pa - log_qa, rtol=1e-5, atol=1e-4)
    before = [w.numpy() for w in model.q_a.weights]
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = {"x_labeled": x, "y_labeled": y, "x_unlabeled": _x(seed=1)}
    model.fit(tf.data.Dataset.from_tensors(data).repeat(3), epochs=1, verbose=0)
    for w, w0 in zip(model.q_a.weights, before):
        np.testing.assert_array_equal(w.numpy(), w0)


def test_m2_labeled_bound_by_hand():
    """For M2 the labeled bound is log p(x|y,z) + log p(y) + log p(z) - log q(z|y,x)."""
    model = _model("m2")
    x = _x(batch=2)
    y = tf.constant([1, 2])
    eps = tf.random.stateless_normal([1, 2, 2], seed=[3, 4])
    labeled, _ = model.labeled_terms(x, y, (None, eps))
    v = {"x": x, "y": tf.one_hot(y, 3)}
    q_z = model.q_z(v)
    v["z"] = q_z.mean() + q_z.stddev() * eps
    expected = (
        model.p_x(v).log_prob(x) + np.log(1 / 3)
        + tfp_normal_log_prob(v["z"]) - q_z.log_prob(v["z"])
    )
    np.testing.assert_allclose(labeled, expected[0], rtol=1e-5)


def tfp_normal_log_prob(z):
    return tf.reduce_sum(-0.5 * np.log(2 * np.pi) - 0.5 * z**2, axis=-1)


def _toy_data(seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.9, 0.1, 0.9, 0.1], [0.1, 0.9, 0.1, 0.9]])
    y = rng.integers(0, 2, size=200)
    x = np.clip(centres[y] + 0.05 * rng.normal(size=(200, 4)), 0, 1).astype(np.float32)
    return x, y


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fit_lowers_the_loss_and_classifies_a_separable_toy(name):
    keras.utils.set_random_seed(0)
    x, y = _toy_data()
    labeled = np.array([np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]])
    model = MODELS[name](4, 2, "bernoulli", hidden_sizes=(16,), a_dim=2, z_dim=2,
                         classification_weight=10.0, seed=0)
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    data = adgm_tf.semi_supervised_dataset(x[labeled], y[labeled], x, batch_size=50, seed=0)
    history = model.fit(data, epochs=8, verbose=0)
    loss = history.history["loss"]
    assert loss[-1] < loss[0] - 1.0, loss
    result = model.evaluate(x, y, batch_size=100, verbose=0, return_dict=True)
    assert result["error"] < 0.1 and np.isfinite(result["bound"])
    assert set(history.history) >= {
        "loss", "labeled_bound", "unlabeled_bound", "classification_loss"
    }


def test_steps_per_execution_changes_only_the_speed():
    """Three training steps per call of the compiled step train the same weights as one."""
    x, y = _toy_data()
    labeled = np.array([np.flatnonzero(y == 0)[0], np.flatnonzero(y == 1)[0]])
    weights = []
    for per_call in (1, 3):
        keras.utils.set_random_seed(0)
        model = MODELS["adgm"](4, 2, "bernoulli", hidden_sizes=(16,), a_dim=2, z_dim=2,
                               batch_norm=True, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), steps_per_execution=per_call)
        data = adgm_tf.semi_supervised_dataset(x[labeled], y[labeled], x, batch_size=50,
                                               seed=0, first_epoch=0)
        model.fit(data, epochs=1, steps_per_epoch=6, verbose=0)
        weights.append(model.get_weights())
    moved = [not np.allclose(w, w0) for w, w0 in zip(weights[0], _fresh_adgm_weights())]
    assert sum(moved) > 5  # training happened
    for w1, w3 in zip(*weights):
        np.testing.assert_allclose(w1, w3, rtol=1e-5, atol=1e-6)


def _fresh_adgm_weights():
    keras.utils.set_random_seed(0)
    return MODELS["adgm"](4, 2, "bernoulli", hidden_sizes=(16,), a_dim=2, z_dim=2,
                          batch_norm=True, seed=0).get_weights()


def test_saved_model_serves_the_same_answers(tmp_path):
    model = _model("adgm")
    path = adgm_tf.export_saved_model(model, str(tmp_path / "export"))
    served = tf.saved_model.load(path).signatures["serve"](x=_x(batch=7))
    np.testing.assert_allclose(served["probabilities"], model(_x(batch=7)), rtol=1e-5)
    np.testing.assert_array_equal(served["label"], np.argmax(model(_x(batch=7)), -1))


def test_export_selects_features_and_serves_the_bound(tmp_path):
    model = _model("sdgm")
    keep = [0, 2, 3, 6, 7]  # the model's 5 inputs out of raw inputs of 8
    path = adgm_tf.export_saved_model(model, str(tmp_path / "export"), keep, raw_input_dim=8)
    loaded = tf.saved_model.load(path)
    raw = tf.constant(np.random.default_rng(3).uniform(size=(6, 8)), tf.float32)
    served = loaded.signatures["serve"](x=raw)
    np.testing.assert_allclose(served["probabilities"], model(tf.gather(raw, keep, axis=1)),
                               rtol=1e-5)
    bound = loaded.signatures["bound"](x=raw)["bound"]
    assert bound.shape == (6,) and np.all(bound.numpy() < 0)
    np.testing.assert_array_equal(bound, loaded.signatures["bound"](x=raw)["bound"])
    # the same bound as the model's own with the export's fixed noise (10 samples)
    noise = (tf.random.stateless_normal([10, 6, 3], seed=(0, 1)),
             tf.random.stateless_normal([3, 10, 6, 2], seed=(0, 2)))
    own = bounds.unlabeled_bound(*model.unlabeled_terms(tf.gather(raw, keep, axis=1), noise))
    np.testing.assert_allclose(bound, own, rtol=1e-5)
    with pytest.raises(ValueError, match="raw_input_dim"):
        adgm_tf.export_saved_model(model, str(tmp_path / "bad"), keep)


def test_kl_warmup_reaches_one_and_scales_only_training():
    model = _model("adgm", num_samples=1)
    warmup = KLWarmup(epochs=2, steps_per_epoch=5)
    warmup.set_model(model)
    warmup.on_epoch_begin(0)
    warmup.on_train_batch_begin(0)
    assert float(model.kl_weight) == pytest.approx(0.1)
    warmup.on_epoch_begin(3)
    warmup.on_train_batch_begin(4)
    assert float(model.kl_weight) == 1.0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(architecture="vae"), "Unknown architecture"),
        (dict(likelihood="poisson"), "Unknown likelihood"),
        (dict(num_classes=1), "num_classes"),
        (dict(z_dim=0), "z_dim"),
        (dict(classification_weight=-1.0), "classification_weight"),
        (dict(weight_prior=-0.1), "weight_prior"),
        (dict(architecture="m2", p_a_inputs=("y",)), "p_a_inputs"),
    ],
)
def test_impossible_model_settings_are_refused(kwargs, message):
    args = dict(input_dim=4, num_classes=2, **SMALL)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        DeepGenerativeModel(**args)


def test_mixed_bfloat16_bound_matches_float32():
    x = _x(batch=6, dim=20)
    models = {dt: _model("sdgm", input_dim=20, dtype=dt, hidden_sizes=(32, 32))
              for dt in ("float32", "mixed_bfloat16")}
    models["mixed_bfloat16"].set_weights(models["float32"].get_weights())
    noise = (tf.random.stateless_normal((8, 6, 3), (1, 2)),
             tf.random.stateless_normal((3, 8, 6, 2), (3, 4)))
    got = {dt: bounds.unlabeled_bound(*m.unlabeled_terms(x, noise)) for dt, m in models.items()}
    assert got["mixed_bfloat16"].dtype == tf.float32
    # bf16 keeps 8 bits of mantissa in the products: agreement to about 1%, not exactly
    np.testing.assert_allclose(got["mixed_bfloat16"], got["float32"], rtol=0.02)
    assert not np.array_equal(got["mixed_bfloat16"].numpy(), got["float32"].numpy())
    np.testing.assert_allclose(models["mixed_bfloat16"](x), models["float32"](x), atol=0.02)


@pytest.mark.parametrize("name", ["adgm", "adgm_fixed_qa"])
def test_kernels_cast_once_per_step_change_only_the_casts(name):
    """Under mixed_bfloat16 a training step reads each kernel as one cast for all its
    passes: same loss, same batch-norm moving averages and noise counter afterwards, the
    gradients equal up to the bf16 rounding of the passes' sum; fewer casts in the graph."""
    data = {"x_labeled": _x(6, dim=20), "y_labeled": tf.constant([0, 1, 2, 0, 1, 2]),
            "x_unlabeled": _x(8, dim=20, seed=1)}
    models = [_model(name, input_dim=20, dtype="mixed_bfloat16", hidden_sizes=(32, 32),
                     batch_norm=True, weight_prior=1e-3) for _ in range(2)]
    models[1].set_weights(models[0].get_weights())
    models[1].cast_kernels_once = False
    results = []
    for model in models:
        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = model.compute_loss_terms(data, training=True)["loss"]
            return loss, tape.gradient(loss, model.trainable_variables)

        casts = sum(op.type == "Cast" for op in step.get_concrete_function().graph.get_operations())
        before = [v.numpy().copy() for v in model.non_trainable_variables]
        loss, grads = step()
        moved = [v.path for v, b in zip(model.non_trainable_variables, before)
                 if not np.array_equal(v.numpy(), b)]
        results.append((casts, loss, grads, moved, [v.numpy() for v in model.variables]))
    (casts, loss, grads, moved, after), (casts_ref, loss_ref, grads_ref, _, after_ref) = results
    assert casts < casts_ref
    assert "moving_mean" in " ".join(moved) and any("noise_step" in m for m in moved)
    assert float(loss) == float(loss_ref)
    for v, w, w_ref in zip(models[0].variables, after, after_ref):
        np.testing.assert_array_equal(w, w_ref, err_msg=v.path)
    for g, g_ref, v in zip(grads, grads_ref, models[0].trainable_variables):
        assert g.dtype == tf.float32
        np.testing.assert_allclose(g, g_ref, rtol=0.02, atol=0.01 * float(
            tf.reduce_max(tf.abs(g_ref))), err_msg=v.path)


def test_small_initial_heads_start_near_the_prior():
    model = _model("adgm", head_init_std=1e-3)
    q_z = model.q_z({"x": _x(), "y": tf.eye(3)[:1], "a": tf.zeros((1, 4, 3))})
    np.testing.assert_allclose(q_z.mean(), 0.0, atol=0.05)
    np.testing.assert_allclose(q_z.stddev(), 1.0, atol=0.05)


def test_weight_prior_adds_the_penalty_to_the_loss():
    data = {"x_labeled": _x(), "y_labeled": tf.constant([0, 1, 2, 0]), "x_unlabeled": _x(seed=1)}
    plain, penalised = _model("m2"), _model("m2", weight_prior=0.01)
    penalised.set_weights(plain.get_weights())
    kernels = [w for w in plain.trainable_variables if len(w.shape) == 2]
    keras.utils.set_random_seed(0)
    base = plain.compute_loss_terms(data)["loss"]
    keras.utils.set_random_seed(0)
    with_prior = penalised.compute_loss_terms(data)["loss"]
    # the two models draw different noise streams only if seeding failed
    expected = 0.01 * 0.5 * sum(float(tf.reduce_sum(w**2)) for w in kernels)
    assert float(with_prior - base) == pytest.approx(expected, rel=1e-3)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_shared_work_step_equals_the_straightforward_step(name):
    """The step's objective and gradients, with x and a projected once per example and
    broadcast over the classes, equal those of a straightforward step that runs q(z|a,y,x),
    p(a|.) and p(x|.) on every unlabeled example once per class with an observed label
    (same noise; float32, rtol 1e-4), and those of the model's tiled reference path
    (share_work=False). Without batch norm: its statistics are per call."""
    model = _model(name, num_samples=2, classification_weight=2.0)
    x_l, y_l, x_u = _x(4), tf.constant([0, 1, 2, 0]), _x(5, seed=1)
    noise_l, (eps_a, eps_z) = model._noise(x_l, 2), model._noise(x_u, 2, 3)

    def shared():
        labeled, class_ll = model.labeled_terms(x_l, y_l, noise_l, training=True)
        unlabeled = model.unlabeled_bound(x_u, training=True, noise=(eps_a, eps_z))
        return bounds.semi_supervised_objective(labeled, unlabeled, class_ll, 2.0)

    def straightforward():
        labeled, class_ll = model.labeled_terms(x_l, y_l, noise_l, training=True)
        a, log_qa = model.auxiliary(x_u, eps_a, training=True)
        log_qy = model.class_log_probs(x_u, a, training=True)  # [S or 1, B, K]
        per_class = []
        for k in range(3):
            y = tf.one_hot(tf.fill([5], k), 3)  # x and a tiled against one class at a time
            log_w = model.log_weight(x_u, y, a, log_qa, eps_z[k], training=True)  # [S, B]
            per_class.append(tf.exp(log_qy[..., k]) * (log_w - log_qy[..., k]))
        unlabeled = tf.reduce_mean(tf.add_n(per_class), axis=0)  # [B]
        return bounds.semi_supervised_objective(labeled, unlabeled, class_ll, 2.0)

    def tiled():  # the model's own reference path: x and a tiled once per class
        model.share_work = False
        try:
            return shared()
        finally:
            model.share_work = True

    results = []
    for step in (shared, straightforward, tiled):
        with tf.GradientTape() as tape:
            loss = step()
        results.append((loss, tape.gradient(loss, model.trainable_variables)))
    (loss, grads), *references = results
    for loss_ref, grads_ref in references:
        np.testing.assert_allclose(loss, loss_ref, rtol=1e-4)
        assert len(grads) == len(grads_ref) > 0
        for g, g_ref, v in zip(grads, grads_ref, model.trainable_variables):
            np.testing.assert_allclose(g, g_ref, rtol=1e-4, atol=1e-5, err_msg=v.path)


def test_free_bits_floor_each_units_kl_of_a_in_the_loss_only():
    """With a_free_bits the training loss is the objective plus sum_d max(floor - KL_d, 0) of
    the labeled and the unlabeled pass's mean KL per unit of `a` (hand-computed from the
    terms with the same noise); evaluation is the bound; and with every unit below a high
    floor the KL of `a` stops pulling: p(a|.), which enters the loss only through it, gets
    no gradient."""
    data = {"x_labeled": _x(), "y_labeled": tf.constant([0, 1, 2, 0]), "x_unlabeled": _x(seed=1)}
    plain = _model("adgm", num_samples=2, classification_weight=2.0)
    floored = _model("adgm", num_samples=2, classification_weight=2.0, a_free_bits=0.3)
    floored.set_weights(plain.get_weights())
    assert floored.get_config()["a_free_bits"] == 0.3
    base = plain.compute_loss_terms(data, training=True)
    start = floored.noise_step.numpy()
    got = floored.compute_loss_terms(data, training=True)
    # the same noise (same seed, same step counter): the bounds agree, the loss differs
    for key in ("labeled_bound", "unlabeled_bound", "classification_loss"):
        np.testing.assert_allclose(got[key], base[key], rtol=1e-5)
    floored.noise_step.assign(start)  # replay both passes' noise by hand
    x_l, x_u = data["x_labeled"], data["x_unlabeled"]
    noise_l, noise_u = floored._noise(x_l, 2), floored._noise(x_u, 2, 3)
    _, _, kl_l = floored.labeled_terms(x_l, data["y_labeled"], noise_l, True, a_units=True)
    log_w, log_qy, a_term = floored.unlabeled_terms(x_u, noise_u, True, a_units=True)
    assert kl_l.shape == (3,) and a_term.shape == (3, 2, 4, 3)  # [K, S, B, n_a]
    q = np.exp(log_qy.numpy())[..., None]  # [K, S, B, 1]
    kl_u = np.mean(np.sum(q * a_term.numpy(), axis=0), axis=(0, 1))  # q(y)-weighted, [n_a]
    np.testing.assert_allclose(bounds.kl_per_unit(a_term, log_qy), kl_u, rtol=1e-5)
    excess = np.sum(np.maximum(0.3 - kl_l.numpy(), 0)) + np.sum(np.maximum(0.3 - kl_u, 0))
    assert excess > 0
    np.testing.assert_allclose(got["loss"] - base["loss"], excess, rtol=1e-4, atol=1e-5)
    # evaluation reports the bound: no floor there
    np.testing.assert_allclose(floored.compute_loss_terms(data, training=False)["loss"],
                               plain.compute_loss_terms(data, training=False)["loss"],
                               rtol=1e-5)

    def p_a_grad_norm(model):
        with tf.GradientTape() as tape:
            loss = model.compute_loss_terms(data, training=True)["loss"]
        grads = tape.gradient(loss, model.p_a.trainable_variables)
        return float(tf.linalg.global_norm(grads))

    high = _model("adgm", num_samples=2, classification_weight=2.0, a_free_bits=1e3)
    high.set_weights(plain.get_weights())
    assert p_a_grad_norm(plain) > 1e-3
    assert p_a_grad_norm(high) < 1e-5 * p_a_grad_norm(plain)


@pytest.mark.parametrize("name", ["m2", "adgm_deterministic", "adgm_fixed_qa"])
def test_free_bits_are_refused_without_a_trained_stochastic_a(name):
    with pytest.raises(ValueError, match="a_free_bits applies to the ADGM and SDGM"):
        _model(name, a_free_bits=0.1)


def test_an_unknown_option_is_refused_by_name():
    with pytest.raises((TypeError, ValueError), match="hiden_sizes"):
        DeepGenerativeModel(5, 3, hiden_sizes=(8, 8))


def test_options_round_trip_through_the_keras_config():
    model = _model("sdgm", p_a_inputs=["y", "z"], hidden_sizes=[8, 8])
    config = model.get_config()
    assert config["p_a_inputs"] == ("y", "z") and config["hidden_sizes"] == (8, 8)
    again = type(model).from_config(config)
    assert again.get_config() == config


def test_kl_per_example_is_the_gaussian_kl_by_hand_and_averages_to_kl_per_unit():
    """M2: each row is 0.5 (mu^2 + s^2 - 1) - log s of q(z|y,x), whatever the batch; ADGM:
    one row per example for `a` and `z`, and their mean is `kl_per_unit` on the same noise."""
    m2 = _model("m2")
    x, y = _x(batch=3).numpy(), np.array([0, 2, 1])
    kl = latents.kl_per_example(m2, x, y)
    q_z = m2.q_z({"x": tf.constant(x), "y": tf.one_hot(y, 3)})
    mu, s = q_z.mean().numpy(), q_z.stddev().numpy()
    np.testing.assert_allclose(kl["z"], 0.5 * (mu**2 + s**2 - 1) - np.log(s), rtol=1e-4, atol=1e-6)
    assert set(kl) == {"z"}
    np.testing.assert_allclose(latents.kl_per_example(m2, x[1:2], y[1:2])["z"], kl["z"][1:2],
                               rtol=1e-5)
    adgm = _model("adgm")
    step = adgm.noise_step.numpy()
    kl = latents.kl_per_example(adgm, x, y)
    assert kl["a"].shape == (3, 3) and kl["z"].shape == (3, 2)
    assert np.all(kl["a"] >= 0) and np.all(kl["z"] >= 0) and np.ptp(kl["a"].sum(-1)) > 0
    adgm.noise_step.assign(step)
    mean = latents.kl_per_unit(adgm, x, y)
    for name in ("a", "z"):
        np.testing.assert_allclose(mean[name], kl[name].mean(axis=0), rtol=1e-5)


def test_authors_sample_layout_changes_only_the_training_loss_with_several_samples():
    """unlabeled_sample_layout="authors": the training loss's unlabeled term is the bound of
    log w read as `bounds.authors_sample_layout` (hand-computed from the terms with the same
    noise); evaluation reports the bound; with one sample nothing changes."""
    data = {"x_labeled": _x(), "y_labeled": tf.constant([0, 1, 2, 0]), "x_unlabeled": _x(seed=1)}
    plain = _model("adgm_fixed_qa", num_samples=2, classification_weight=2.0)
    theirs = _model("adgm_fixed_qa", num_samples=2, classification_weight=2.0,
                    unlabeled_sample_layout="authors")
    theirs.set_weights(plain.get_weights())
    assert theirs.get_config()["unlabeled_sample_layout"] == "authors"
    base = plain.compute_loss_terms(data, training=True)
    start = theirs.noise_step.numpy()
    got = theirs.compute_loss_terms(data, training=True)
    theirs.noise_step.assign(start + 1)  # the unlabeled pass's noise (after the labeled one)
    log_w, log_qy = theirs.unlabeled_terms(data["x_unlabeled"],
                                           theirs._noise(data["x_unlabeled"], 2, 3), True)
    expected = bounds.unlabeled_bound(bounds.authors_sample_layout(log_w), log_qy)
    np.testing.assert_allclose(got["unlabeled_bound"], tf.reduce_mean(expected), rtol=1e-5)
    assert abs(float(got["unlabeled_bound"]) - float(base["unlabeled_bound"])) > 1e-3
    np.testing.assert_allclose(got["labeled_bound"], base["labeled_bound"], rtol=1e-5)
    np.testing.assert_allclose(theirs.compute_loss_terms(data, training=False)["loss"],
                               plain.compute_loss_terms(data, training=False)["loss"], rtol=1e-5)
    one, one_theirs = (_model("adgm_fixed_qa", num_samples=1, classification_weight=2.0,
                              unlabeled_sample_layout=layout) for layout in ("per_image", "authors"))
    one_theirs.set_weights(one.get_weights())
    np.testing.assert_allclose(one_theirs.compute_loss_terms(data, training=True)["loss"],
                               one.compute_loss_terms(data, training=True)["loss"], rtol=1e-5)


def test_unknown_sample_layout_is_refused():
    with pytest.raises(ValueError, match="Unknown unlabeled_sample_layout"):
        _model("adgm", unlabeled_sample_layout="scrambled")
