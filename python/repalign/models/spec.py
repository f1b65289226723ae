"""``ModelSpec``: what a model is (metadata) and how to feed it (preprocessing).

The curated table ``data/models.csv`` (one row per model, with a ``source`` for
every training-set size) overrides what the libraries' registries say.
"""

from __future__ import annotations

import csv
import os
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path

from repalign.errors import MalformedDataError

CSV_COLUMNS = (
    "name",
    "backend",
    "architecture",
    "weights",
    "family",
    "objective",
    "train_data",
    "train_size",
    "params",
    "resolution",
    "source",
)

# ImageNet statistics used by torchvision/timm, and CLIP's (open_clip OPENAI_DATASET_*)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocess:
    """Image preprocessing, enough to rebuild it and to key a cache on it.

    resolution: side of the square network input (pixels); resize: side the
    shorter image edge is resized to before a centre crop of ``resolution``
    (equal to resolution: no crop); mean/std: per-channel normalisation of
    0–1 RGB; interpolation: "bilinear" | "bicubic" | "nearest".
    """

    resolution: int = 224
    resize: int = 256
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    interpolation: str = "bilinear"

    def as_dict(self) -> dict:
        d = asdict(self)
        d["mean"] = [round(float(x), 8) for x in self.mean]
        d["std"] = [round(float(x), 8) for x in self.std]
        return d


@dataclass(frozen=True)
class ModelSpec:
    """Metadata of one zoo model.

    name: zoo name (``efficientnet_lite0``, ``open_clip/ViT-B-32:openai``,
    ``timm/resnet18.a1_in1k``, ``torchvision/resnet50:IMAGENET1K_V2``, ``minilm``,
    ``pixels``, ``random:<arch>``); backend: packaged | open_clip | timm |
    torchvision | text | pixels; architecture: the library's architecture name;
    weights: weight tag (None = random initialisation); family: architecture
    family (EfficientNet, ViT, ResNet, …); objective: supervised |
    self-supervised | image-text contrastive | captioning | text | baseline |
    random-init; train_data / train_size: training set and its size in images
    or image-text pairs (0 for untrained, None if unknown); params: parameter
    count (None until known); resolution: input side in pixels; source:
    citation for the weights and the size; default_layer: the layer extracted
    when none is named; modality: image | text; seed: initialisation seed of
    random-init models.
    """

    name: str
    backend: str
    architecture: str
    weights: str | None
    family: str = ""
    objective: str = ""
    train_data: str = ""
    train_size: int | None = None
    params: int | None = None
    resolution: int | None = 224
    source: str = ""
    default_layer: str = "output"
    modality: str = "image"
    preprocess: Preprocess | None = field(default_factory=Preprocess)
    seed: int | None = None

    def row(self) -> dict:
        """One row of the models table (``data/models.csv`` columns + extras)."""
        d = {k: getattr(self, k) for k in CSV_COLUMNS}
        d["default_layer"] = self.default_layer
        d["modality"] = self.modality
        return d

    def with_curated(self) -> ModelSpec:
        """This spec with the curated table's values (where given) filled in."""
        cur = curated().get(self.name)
        if not cur:
            return self
        return replace(self, **cur)


def models_csv() -> Path:
    """The curated table: ``$REPALIGN_MODELS_CSV``, else the copy inside the installed package
    (``repalign/models/models.csv``; ``data/models.csv`` in a checkout links to it)."""
    env = os.environ.get("REPALIGN_MODELS_CSV")
    if env:
        return Path(env)
    return Path(str(resources.files("repalign.models").joinpath("models.csv")))


@lru_cache(maxsize=2)
def _read_curated(path: Path, mtime: float) -> dict[str, dict]:
    out: dict[str, dict] = {}
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise MalformedDataError(f"{path}, line 1: missing column(s) {missing}")
        for lineno, row in enumerate(reader, start=2):
            name = row["name"].strip()
            if not name:
                raise MalformedDataError(f"{path}, line {lineno}: empty model name")
            vals: dict = {}
            for key in ("family", "objective", "train_data", "source"):
                if row[key].strip():
                    vals[key] = row[key].strip()
            for key in ("train_size", "params", "resolution"):
                v = row[key].strip()
                if v:
                    try:
                        vals[key] = int(float(v))
                    except ValueError:
                        raise MalformedDataError(
                            f"{path}, line {lineno}: column {key!r} is not a number: {v!r}"
                        ) from None
            if "train_size" in vals and not vals.get("source"):
                raise MalformedDataError(f"{path}, line {lineno}: train_size of {name!r} has no source")
            out[name] = vals
    return out


def curated() -> dict[str, dict]:
    """Curated metadata per model name from ``data/models.csv`` (empty if absent)."""
    path = models_csv()
    if not path.is_file():
        return {}
    return _read_curated(path, path.stat().st_mtime)
