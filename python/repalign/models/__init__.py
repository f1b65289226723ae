"""The model zoo: metadata (``ModelSpec``), loading (module +
preprocessing + spec), layer names. See ``repalign.models.zoo`` for the names."""

import os as _os

# No network at run time: the Hugging Face hub (open_clip, timm, MiniLM) answers
# from its local cache only. Set before any of those libraries import the hub.
_os.environ.setdefault("HF_HUB_OFFLINE", "1")

from repalign.models.layers import ALIASES, list_layers, resolve_layer
from repalign.models.loading import (
    LoadedModel,
    PixelBaseline,
    load_model,
    planned_transform,
    random_twin_name,
    spec_transform,
)
from repalign.models.spec import CSV_COLUMNS, ModelSpec, Preprocess, curated
from repalign.models.train_data import TRAIN_DATA, train_data_of
from repalign.models.zoo import BACKENDS, get_spec, list_models

__all__ = [
    "ALIASES",
    "BACKENDS",
    "CSV_COLUMNS",
    "LoadedModel",
    "ModelSpec",
    "PixelBaseline",
    "Preprocess",
    "TRAIN_DATA",
    "curated",
    "get_spec",
    "list_layers",
    "list_models",
    "load_model",
    "planned_transform",
    "random_twin_name",
    "resolve_layer",
    "spec_transform",
    "train_data_of",
    "models_table",
]


def models_table(names=None):
    """A pandas DataFrame of model metadata (one row per name; default: ``list_models()``)."""
    import pandas as pd

    names = list_models() if names is None else list(names)
    return pd.DataFrame([get_spec(n).row() for n in names])
