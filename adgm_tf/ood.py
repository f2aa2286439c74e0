"""The exported `bound` signature as an out-of-distribution score.

A model trained on one data set gives its images a higher bound on log p(x) than images of
another: the bound ranks inputs, and the area under the ROC curve (AUROC) of that ranking says
how well it tells the two sets apart (1: perfectly, 0.5: not at all). Everything here goes
through the SavedModel alone, as a serving client would.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from sklearn import metrics


def bound_scores(saved_model_dir: str, x: np.ndarray, batch_size: int = 500) -> np.ndarray:
    """The SavedModel's `bound` signature on raw inputs x [N, raw_dim]: [N] float32."""
    x = np.asarray(x, np.float32)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"x must be a non-empty [examples, features] array; got {x.shape}.")
    bound = tf.saved_model.load(saved_model_dir).signatures["bound"]
    expected = bound.structured_input_signature[1]["x"].shape[-1]
    if expected is not None and x.shape[1] != expected:
        raise ValueError(f"The model at {saved_model_dir} takes {expected} raw features per "
                         f"input; got {x.shape[1]}.")
    return np.concatenate([bound(x=tf.constant(x[i:i + batch_size]))["bound"].numpy()
                           for i in range(0, len(x), batch_size)])


def separation(in_scores: np.ndarray, out_scores: np.ndarray) -> dict:
    """How well a higher score marks an in-distribution input: AUROC, the ROC curve, and the
    false-positive rate (out-of-distribution inputs taken as in) at 95% true positives."""
    labels = np.r_[np.ones(len(in_scores)), np.zeros(len(out_scores))]
    scores = np.r_[in_scores, out_scores]
    if not np.all(np.isfinite(scores)):
        raise ValueError("Some bounds are not finite; the scores cannot be ranked.")
    fpr, tpr, _ = metrics.roc_curve(labels, scores)
    return {
        "auroc": float(metrics.roc_auc_score(labels, scores)),
        "fpr_at_95_tpr": float(fpr[np.searchsorted(tpr, 0.95)]),
        "fpr": fpr, "tpr": tpr,
    }
