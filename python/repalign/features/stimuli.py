"""Stimulus sets by name, for configs' ``[[stimuli]]`` sections.

Sources: ``mur92``, ``learning-dynamics`` (``split`` = train | test),
``texture-shape-edges``, ``texture-shape-filled-silhouettes``,
``texture-shape-cue-conflict`` (Geirhos et al. 2019's 1,280 cue-conflict images), ``folder``
(``path`` = a directory of images; ids are relative paths without extension;
label ``category`` = first sub-directory), and two sets that ship inside
installed packages: ``skimage`` (scikit-image's bundled sample images) and
``digits`` (scikit-learn's 8×8 digits as 32×32 RGB; label ``category`` = digit;
``n`` per class). ``limit`` keeps the first N stimuli of any source.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repalign.config import parse_section
from repalign.datasets import StimulusSet
from repalign.errors import ValidationError
from repalign.features.config import SOURCES, StimuliEntry  # noqa: F401 (SOURCES: re-exported)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# scikit-image sample images bundled in the wheel (no download)
SKIMAGE_IMAGES = (
    "astronaut",
    "brick",
    "camera",
    "cell",
    "chelsea",
    "clock",
    "coffee",
    "coins",
    "colorwheel",
    "grass",
    "gravel",
    "horse",
    "hubble_deep_field",
    "immunohistochemistry",
    "logo",
    "microaneurysms",
    "moon",
    "page",
    "retina",
    "rocket",
    "text",
)


def _rgb(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.shape[2] == 4:
        a = a[:, :, :3]
    return np.ascontiguousarray(a, dtype=np.uint8)


def _object_array(items: list[np.ndarray]) -> np.ndarray:
    out = np.empty(len(items), dtype=object)
    for i, a in enumerate(items):
        out[i] = a
    return out


def skimage_set(name: str = "skimage") -> StimulusSet:
    """scikit-image's bundled sample images as RGB (sizes differ; ids = names)."""
    from skimage import data

    arrays = [_rgb(getattr(data, n)()) for n in SKIMAGE_IMAGES]
    labels = pd.DataFrame({"category": list(SKIMAGE_IMAGES)}, index=pd.Index(SKIMAGE_IMAGES, name="stimulus_id"))
    return StimulusSet(name, SKIMAGE_IMAGES, labels, arrays=_object_array(arrays), meta={"source": "skimage"})


def digits_set(name: str = "digits", n: int | None = None) -> StimulusSet:
    """scikit-learn's handwritten digits (8×8, 0–16) as 32×32 RGB uint8 images
    (nearest upsampling). ids ``digit_0000`` … (sklearn order); ``n``: keep the
    first n images of each digit."""
    from sklearn.datasets import load_digits

    d = load_digits()
    keep = np.arange(len(d.target))
    if n is not None:
        if int(n) < 1:
            raise ValidationError(f"stimuli {name!r}: n must be ≥ 1, got {n}")
        keep = np.sort(np.concatenate([np.flatnonzero(d.target == k)[: int(n)] for k in range(10)]))
    img = np.clip(np.rint(d.images[keep] * (255 / 16)), 0, 255).astype(np.uint8)
    img = np.kron(img, np.ones((4, 4), np.uint8))  # (m, 32, 32)
    arrays = np.repeat(img[..., None], 3, axis=3)
    ids = tuple(f"digit_{i:04d}" for i in keep)
    labels = pd.DataFrame({"category": d.target[keep].astype(int)}, index=pd.Index(ids, name="stimulus_id"))
    return StimulusSet(name, ids, labels, arrays=arrays, meta={"source": "sklearn.datasets.load_digits"})


def folder_set(path: str | Path, name: str | None = None) -> StimulusSet:
    """Every image under ``path`` (recursive, sorted); id = relative path
    without extension; label ``category`` = first sub-directory ('' at top)."""
    root = Path(path)
    if not root.is_dir():
        raise ValidationError(f"stimulus folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if not files:
        raise ValidationError(f"stimulus folder {root} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    ids, seen = [], {}
    for p in files:
        rel = p.relative_to(root).with_suffix("").as_posix()
        if rel in seen:
            raise ValidationError(f"stimulus folder {root}: {seen[rel]} and {p} give the same id {rel!r}")
        seen[rel] = p
        ids.append(rel)
    cats = [r.split("/", 1)[0] if "/" in r else "" for r in ids]
    labels = pd.DataFrame(
        {"category": cats, "file": [p.relative_to(root).as_posix() for p in files]},
        index=pd.Index(ids, name="stimulus_id"),
    )
    return StimulusSet(name or root.name, tuple(ids), labels, paths=tuple(files), meta={"source": str(root)})


def _rename(s: StimulusSet, name: str) -> StimulusSet:
    return StimulusSet(name, s.ids, s.labels, s.paths, s.arrays, dict(s.meta))


def load_stimulus_set(section: Mapping[str, Any], base: str | Path | None = None) -> StimulusSet:
    """A ``[[stimuli]]`` section → StimulusSet named ``section['name']``
    (default: the source). ``base``: directory that relative paths are relative to."""
    entry = parse_section(StimuliEntry, section, f"[[stimuli]] {section.get('name', section.get('source', '?'))!r}")
    source, name = entry.source, entry.set_name
    if source == "mur92":
        from repalign.datasets import load_mur92

        s = load_mur92().stimuli
    elif source == "learning-dynamics":
        from repalign.datasets.learning_dynamics import _load_images

        s = _load_images()
        if entry.split is not None:
            s = s.subset((s.labels["split"] == entry.split).to_numpy())
    elif source == "texture-shape-cue-conflict":
        from repalign.datasets import load_cue_conflict

        s = load_cue_conflict().stimuli
    elif source.startswith("texture-shape-"):
        from repalign.datasets import load_texture_shape

        s = load_texture_shape().stimuli[source.removeprefix("texture-shape-")]
    elif source == "folder":
        p = Path(entry.path).expanduser()
        if not p.is_absolute() and base is not None:
            p = Path(base) / p
        s = folder_set(p, name)
    elif source == "skimage":
        s = skimage_set(name)
    else:
        s = digits_set(name, entry.n)
    if entry.limit is not None:
        s = s.subset(list(range(min(entry.limit, len(s)))))
    return _rename(s, name)
