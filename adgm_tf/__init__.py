"""adgm_tf: Auxiliary Deep Generative Models (Maaloe et al., 2016) as Keras 3 models."""

from adgm_tf.bounds import classification_weight
from adgm_tf.export import export_saved_model
from adgm_tf.input_pipeline import semi_supervised_dataset
from adgm_tf.models import (
    ADGM, M2, MODELS, SDGM, ADGMDeterministic, ADGMFixedAuxiliary, DeepGenerativeModel, KLWarmup,
)

__all__ = [
    "ADGM",
    "SDGM",
    "M2",
    "ADGMDeterministic",
    "ADGMFixedAuxiliary",
    "DeepGenerativeModel",
    "KLWarmup",
    "MODELS",
    "classification_weight",
    "export_saved_model",
    "semi_supervised_dataset",
]
