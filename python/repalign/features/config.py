"""Schema of the features stage's sections: ``[[stimuli]]``, ``[[models]]`` and
``[[representations]]`` (see ``repalign.features.plan`` for what they do).

Defaults are the planner's: a [[models]] entry without ``layers`` uses the model's
default layer, without ``stimuli`` every [[stimuli]] set, without ``alias`` its name.
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from repalign.config import Count, NonNegative, Section, Seed, check_nonempty, key_error

#: [[stimuli]] sources (repalign.features.stimuli)
SOURCES = (
    "mur92",
    "learning-dynamics",
    "texture-shape-edges",
    "texture-shape-filled-silhouettes",
    "texture-shape-cue-conflict",
    "folder",
    "skimage",
    "digits",
)
#: [[representations]] sources and the keys each one takes besides name and source
REPR_SOURCE_KEYS = {
    "spose49": (),
    "spose14": (),
    "minilm-things": (),
    "random": ("dims", "stimuli", "seed"),
    "concepts": ("of", "by"),
    "file": ("path", "ids", "ids_file", "stimuli", "model", "layer"),
}
REPR_SOURCES = tuple(REPR_SOURCE_KEYS)
#: images of the rarest digit in scikit-learn's digits (digit 8): the largest ``n``
#: (images per digit) that keeps every class whole
DIGITS_PER_CLASS = 174


def _given(model: Section) -> list[str]:
    return list(model.model_fields_set)


class StimuliEntry(Section):
    """``[[stimuli]]``: a stimulus set. ``name`` defaults to the source; ``path``
    (folder), ``n`` (digits per class), ``split`` (learning-dynamics), ``limit``
    (first N of any source); ``optional = true`` skips the set (with a warning) when
    its data are not available."""

    name: str | None = None
    source: str  # one of SOURCES
    path: str | None = None
    n: Count | None = None
    limit: Count | None = None
    split: Literal["train", "test"] | None = None
    optional: bool = False

    @model_validator(mode="after")
    def _applies(self):
        if self.source not in SOURCES:
            raise ValueError(f"unknown source {self.source!r}; valid: {', '.join(SOURCES)}")
        for key, ok in (
            ("path", self.source == "folder"),
            ("n", self.source == "digits"),
            ("split", self.source == "learning-dynamics"),
        ):
            if key in self.model_fields_set and not ok:
                raise ValueError(f"key {key!r} does not apply to source {self.source!r}")
        if self.source == "folder" and self.path is None:
            raise ValueError("source 'folder' needs 'path'")
        if self.n is not None and self.n > DIGITS_PER_CLASS:  # would be capped class by class, silently
            raise key_error(
                "n",
                f"expected at most {DIGITS_PER_CLASS} images per digit (the rarest digit of "
                f"scikit-learn's digits has {DIGITS_PER_CLASS}), got {self.n}",
            )
        return self

    @property
    def set_name(self) -> str:
        return self.name if self.name is not None else self.source


class ModelEntry(Section):
    """``[[models]]``: a zoo model × layers × stimulus sets (one extraction task per set)."""

    name: str
    layers: str | list[str] | None = None  # default: the model's default layer
    pooling: str = "auto"  # auto | cls | mean | avg | flatten (checked by the planner)
    stimuli: str | list[str] | None = None  # default: every [[stimuli]] set
    alias: str | None = None  # representation-name prefix (default: name)
    batch_size: Count = 64
    device: str = "auto"
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16, fixed in the plan
    skip_bad: bool = False
    num_workers: NonNegative | None = None  # DataLoader workers (0: in the main process)
    decode_once: bool = True  # read images decoded once for every model of the same resize/crop
    decode: Literal["cpu", "gpu", "auto"] = "cpu"  # gpu: JPEGs decoded by nvJPEG (own key); auto: gpu on CUDA

    @model_validator(mode="after")
    def _lists(self):
        check_nonempty(self, ("layers", "stimuli"), " (leave the key out for the default)")
        return self


class RepresentationEntry(Section):
    """``[[representations]]``: a representation that is not a zoo model's features.
    ``random`` takes dims (required), stimuli ("things" or a [[stimuli]] name) and
    seed (default: the run's); ``concepts`` takes of (a representation) and by (a label)."""

    name: str
    source: str  # one of REPR_SOURCES
    dims: Count | None = None  # bounded by memory when planned (repalign.representations.resolve)
    stimuli: str | None = None
    seed: Seed | None = None
    of: str | None = None
    by: str | None = None
    path: str | None = None  # file: a .npy/.parquet/.csv (repalign.representations.files)
    ids: str | None = None  # file: the ids column (default stimulus_id)
    ids_file: str | None = None  # file: one id per line
    model: str | None = None  # file: the name in result tables (default: name)
    layer: str | None = None  # file: the layer in result tables (default: "file")

    @model_validator(mode="after")
    def _applies(self):
        if self.source not in REPR_SOURCE_KEYS:
            raise ValueError(f"unknown source {self.source!r}; valid: {', '.join(REPR_SOURCES)}")
        extra = [k for k in self.model_fields_set if k not in ("name", "source", *REPR_SOURCE_KEYS[self.source])]
        if extra:
            raise ValueError(f"key(s) {sorted(extra)} do not apply to source {self.source!r}")
        if self.source == "random" and (self.dims is None or self.dims < 1):
            raise ValueError("source 'random' needs dims ≥ 1")
        if self.source == "file" and self.path is None:
            raise ValueError("source 'file' needs path (a .npy, .parquet or .csv file)")
        if self.source == "concepts" and self.of is None:
            raise ValueError("source 'concepts' needs 'of' (a representation name)")
        return self
