"""adgm_tf: Auxiliary Deep Generative Models (Maaloe et al., 2016) as Keras 3 models.

The public names below are imported on first use (PEP 562), so that `adgm_tf.console` can
set up a script's terminal before TensorFlow starts.
"""

import importlib

_PUBLIC = {
    "ADGM": "adgm_tf.models",
    "SDGM": "adgm_tf.models",
    "M2": "adgm_tf.models",
    "ADGMDeterministic": "adgm_tf.models",
    "ADGMFixedAuxiliary": "adgm_tf.models",
    "DeepGenerativeModel": "adgm_tf.models",
    "KLWarmup": "adgm_tf.callbacks",
    "MODELS": "adgm_tf.models",
    "classification_weight": "adgm_tf.bounds",
    "export_saved_model": "adgm_tf.export",
    "semi_supervised_dataset": "adgm_tf.input_pipeline",
}

__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'adgm_tf' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__():
    return sorted(set(globals()) | set(_PUBLIC))
