"""The features stage: feature extraction: stimulus sets → model layers → Parquet
features (streamed, cached, resumable), concept averages, text features, and
the plan of typed entries (``model_features``; the stage alone:
``repalign.pipeline.plan.plan_stage(config, "features")``)."""

from repalign.features.extractor import (
    FORMAT_VERSION,
    POOLINGS,
    cache_key,
    extract,
    feature_path,
    is_current,
    pool,
    select_device,
)
from repalign.features.io import concept_features, load_features
from repalign.features.stimuli import SOURCES, digits_set, folder_set, load_stimulus_set, skimage_set
from repalign.features.text import text_features

__all__ = [
    "FORMAT_VERSION",
    "POOLINGS",
    "SOURCES",
    "cache_key",
    "concept_features",
    "digits_set",
    "extract",
    "feature_path",
    "folder_set",
    "is_current",
    "load_features",
    "load_stimulus_set",
    "pool",
    "select_device",
    "skimage_set",
    "text_features",
]

from repalign.features.plan import FeatureFile, model_features, plan_model_features  # noqa: E402

__all__ += ["FeatureFile", "model_features", "plan_model_features"]
