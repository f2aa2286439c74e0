"""SavedModel export of a trained classifier for serving without adgm_tf."""

from __future__ import annotations

import os
import tempfile

import keras
import tensorflow as tf

from adgm_tf.models import DeepGenerativeModel
from adgm_tf.workdir import replace_dir


def export_saved_model(model: DeepGenerativeModel, path: str) -> str:
    """Writes a SavedModel whose `serve` signature maps x to named outputs.

    Signature `serve`: x float32 [batch, input_dim] -> {"probabilities": float32
    [batch, num_classes] (q(y|x), fixed samples of `a`), "label": int64 [batch]}.
    The directory appears whole or not at all.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)

    def serve(x):
        probs = model(x, training=False)
        return {"probabilities": probs, "label": tf.argmax(probs, axis=-1)}

    archive.add_endpoint(
        "serve", serve, input_signature=[tf.TensorSpec([None, model.input_dim], tf.float32, name="x")]
    )
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=".export-")
    archive.write_out(tmp, verbose=False)
    return replace_dir(tmp, path)
