"""Image stimulus sets: Mur et al. 92 images, texture-vs-shape silhouettes and
edges, and the Huber et al. learning-dynamics objects.

Every set is a ``StimulusSet``: stimulus ids, and for each either an image file
path or an in-memory RGB array, plus a per-stimulus table of labels.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from repalign.errors import DataError, ValidationError


@dataclass(frozen=True)
class StimulusSet:
    """Images to show a model, in a fixed order.

    ids: stimulus ids (unique); paths: image files (or None when ``arrays`` given);
    arrays: uint8 (n, H, W, 3) when the images live in memory; labels: one row per
    stimulus (index = ids) with the set's annotations (category, …).
    """

    name: str
    ids: tuple[str, ...]
    labels: pd.DataFrame
    paths: tuple[Path, ...] | None = None
    arrays: np.ndarray | None = None
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if (self.paths is None) == (self.arrays is None):
            raise ValidationError(f"stimulus set {self.name!r}: give exactly one of paths or arrays")
        n = len(self.ids)
        if len(set(self.ids)) != n:
            raise ValidationError(f"stimulus set {self.name!r}: duplicate stimulus ids")
        if self.paths is not None and len(self.paths) != n:
            raise ValidationError(f"stimulus set {self.name!r}: {len(self.paths)} paths for {n} ids")
        if self.arrays is not None and len(self.arrays) != n:
            raise ValidationError(f"stimulus set {self.name!r}: {len(self.arrays)} arrays for {n} ids")
        if len(self.labels) != n:
            raise ValidationError(f"stimulus set {self.name!r}: {len(self.labels)} label rows for {n} ids")

    def __len__(self) -> int:
        return len(self.ids)

    def load_image(self, i: int) -> Image.Image:
        """The i-th stimulus as an RGB PIL image (error names the file if unreadable)."""
        if self.arrays is not None:
            return Image.fromarray(np.asarray(self.arrays[i], dtype=np.uint8)).convert("RGB")
        path = self.paths[i]  # type: ignore[index]
        try:
            with Image.open(path) as im:
                return im.convert("RGB")
        except Exception as exc:  # PIL raises several types for unreadable files
            raise ValidationError(
                f"stimulus set {self.name!r}: cannot read image {path} (id {self.ids[i]!r}): {exc}"
            ) from exc

    def manifest_hash(self) -> str:
        """sha256 over ids and image bytes: changes whenever any stimulus changes."""
        h = hashlib.sha256()
        for i, sid in enumerate(self.ids):
            h.update(sid.encode() + b"\0")
            if self.arrays is not None:
                a = np.ascontiguousarray(self.arrays[i])
                h.update(str(a.shape).encode())
                h.update(a.tobytes())
            else:
                try:
                    h.update(Path(self.paths[i]).read_bytes())  # type: ignore[index]
                except OSError as exc:  # permissions, a file removed since the set was listed, …
                    raise DataError(
                        f"stimulus set {self.name!r}: cannot read image {self.paths[i]} "  # type: ignore[index]
                        f"(id {sid!r}): {exc.strerror or exc}"
                    ) from None
        return h.hexdigest()

    def subset(self, keep: Callable[[pd.DataFrame], np.ndarray] | np.ndarray | list[int]) -> StimulusSet:
        idx = keep(self.labels) if callable(keep) else keep
        idx = np.asarray(idx)
        if idx.dtype == bool:
            idx = np.flatnonzero(idx)
        return StimulusSet(
            name=self.name,
            ids=tuple(self.ids[i] for i in idx),
            labels=self.labels.iloc[idx],
            paths=None if self.paths is None else tuple(self.paths[i] for i in idx),
            arrays=None if self.arrays is None else self.arrays[idx],
            meta=dict(self.meta),
        )
