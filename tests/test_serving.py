"""The SavedModel export served by a fresh process that knows nothing of adgm_tf."""

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import adgm_tf

ROOT = pathlib.Path(__file__).resolve().parents[1]
ENV = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serving")
    model = adgm_tf.ADGM(input_dim=5, num_classes=3, likelihood="bernoulli",
                         hidden_sizes=(16, 16), a_dim=4, z_dim=3, num_predict_samples=6, seed=2)
    keep = [1, 2, 4, 5, 7]  # 5 of 8 raw features, as MNIST keeps 444 of 784 pixels
    path = adgm_tf.export_saved_model(model, str(tmp / "export"), keep, raw_input_dim=8)
    raw = np.random.default_rng(0).uniform(size=(4, 8)).astype(np.float32)
    np.save(tmp / "raw.npy", raw)
    expected = model(tf.gather(raw, keep, axis=1)).numpy()
    return tmp, path, raw, expected


def test_a_fresh_process_serves_the_same_answers(exported):
    tmp, path, raw, expected = exported
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        import tensorflow as tf
        loaded = tf.saved_model.load({path!r})
        raw = tf.constant(np.load({str(tmp / "raw.npy")!r}))
        out = loaded.signatures["serve"](x=raw)
        np.save({str(tmp / "probabilities.npy")!r}, out["probabilities"].numpy())
        np.save({str(tmp / "label.npy")!r}, out["label"].numpy())
        np.save({str(tmp / "bound.npy")!r}, loaded.signatures["bound"](x=raw)["bound"].numpy())
        assert not any(m.startswith("adgm_tf") for m in sys.modules), "adgm_tf was imported"
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp, env=ENV,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    np.testing.assert_allclose(np.load(tmp / "probabilities.npy"), expected, rtol=1e-5)
    np.testing.assert_array_equal(np.load(tmp / "label.npy"), expected.argmax(-1))
    bound = np.load(tmp / "bound.npy")
    assert bound.shape == (4,) and np.all(np.isfinite(bound))


def test_saved_model_cli_shows_and_runs_the_signatures(exported):
    tmp, path, raw, expected = exported
    cli = shutil.which("saved_model_cli")
    assert cli, "saved_model_cli comes with tensorflow"
    show = subprocess.run([cli, "show", "--dir", path, "--all"], env=ENV, capture_output=True,
                          text=True, timeout=300)
    assert show.returncode == 0, show.stderr[-3000:]
    for fragment in ("signature_def['serve']", "signature_def['bound']", "shape: (-1, 8)",
                     "outputs['probabilities']", "outputs['label']", "outputs['bound']",
                     "dtype: DT_FLOAT", "dtype: DT_INT64"):
        assert fragment in show.stdout, fragment
    out_dir = tmp / "cli_out"
    run = subprocess.run(
        [cli, "run", "--dir", path, "--tag_set", "serve", "--signature_def", "serve",
         "--inputs", f"x={tmp / 'raw.npy'}", "--outdir", str(out_dir)],
        env=ENV, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    np.testing.assert_allclose(np.load(out_dir / "probabilities.npy"), expected, rtol=1e-5)


def test_a_wrong_feature_size_is_refused_by_the_signature(exported):
    _, path, _, _ = exported
    serve = tf.saved_model.load(path).signatures["serve"]
    with pytest.raises((ValueError, TypeError, tf.errors.InvalidArgumentError)):
        serve(x=tf.zeros([2, 5]))  # the model's 5 features, not the 8 raw ones
