"""Shared test setup: where the original MNIST files are.

Tests read MNIST from $ADGM_TF_DATA_DIR; when it is unset they use ../shared/data beside the
checkout (as CI does), and otherwise the loader falls back to tensorflow-datasets.
"""

import os
import pathlib

SHARED_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"

if "ADGM_TF_DATA_DIR" not in os.environ and SHARED_DATA.is_dir():
    os.environ["ADGM_TF_DATA_DIR"] = str(SHARED_DATA)
