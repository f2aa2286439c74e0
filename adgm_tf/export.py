"""SavedModel export of a trained classifier for serving without adgm_tf."""

from __future__ import annotations

import os
import tempfile
from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from adgm_tf.models import DeepGenerativeModel
from adgm_tf.workdir import replace_dir


def export_saved_model(
    model: DeepGenerativeModel,
    path: str,
    feature_indices: Sequence[int] | None = None,
    raw_input_dim: int | None = None,
    bound_samples: int = 10,
) -> str:
    """Writes a SavedModel with two signatures over raw inputs x float32 [batch, raw_input_dim].

    `serve`: {"probabilities": float32 [batch, num_classes] (q(y|x), fixed samples of `a`),
              "label": int64 [batch]}.
    `bound`: {"bound": float32 [batch]}, the bound -U(x) on log p(x) with `bound_samples`
              fixed Monte Carlo samples: low values flag inputs unlike the training data.

    feature_indices: the raw features the model reads (e.g. MNIST's 444 high-variance pixels
      out of 784); the export selects them itself, so clients send raw inputs.
    The directory appears whole or not at all.
    """
    if feature_indices is not None:
        if raw_input_dim is None:
            raise ValueError("feature_indices needs raw_input_dim, the size of a raw input.")
        if len(feature_indices) != model.input_dim:
            raise ValueError(
                f"{len(feature_indices)} feature_indices for a model of {model.input_dim} inputs."
            )
        keep = tf.constant(np.asarray(feature_indices, np.int32))
    raw_dim = raw_input_dim if feature_indices is not None else model.input_dim

    def features(x):
        return tf.gather(x, keep, axis=1) if feature_indices is not None else x

    def serve(x):
        probs = model(features(x), training=False)
        return {"probabilities": probs, "label": tf.argmax(probs, axis=-1)}

    def bound(x):
        x = features(x)
        batch = tf.shape(x)[0]
        noise = (
            tf.random.stateless_normal([bound_samples, batch, model.a_dim], seed=(0, 1)),
            tf.random.stateless_normal(
                [model.num_classes, bound_samples, batch, model.z_dim], seed=(0, 2)),
        )
        return {"bound": model.unlabeled_bound(x, training=False, noise=noise)}

    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = [tf.TensorSpec([None, raw_dim], tf.float32, name="x")]
    archive.add_endpoint("serve", serve, input_signature=spec)
    archive.add_endpoint("bound", bound, input_signature=spec)
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".export-")
    archive.write_out(tmp, verbose=False)
    return replace_dir(tmp, path)
