"""Typed objects shared by the loaders and every later stage."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from repalign.errors import MalformedDataError, ValidationError


@dataclass(frozen=True)
class Embedding:
    """A representation of stimuli: one row of ``values`` per stimulus id.

    ``values`` has shape (n_stimuli, n_dims), float64 unless stated. Any stage that
    takes features (metrics, learners, embeddings) takes an ``Embedding``, whatever
    produced it: a loader (SPoSE), the feature extractor, or the user.
    """

    ids: tuple[str, ...]
    values: np.ndarray
    name: str = "embedding"
    meta: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        values = np.asarray(self.values)
        if values.ndim != 2:
            raise ValidationError(f"embedding {self.name!r}: values must be 2-d, got shape {values.shape}")
        if values.shape[0] != len(self.ids):
            raise ValidationError(f"embedding {self.name!r}: {values.shape[0]} rows but {len(self.ids)} ids")
        if len(set(self.ids)) != len(self.ids):
            dup = _first_duplicates(self.ids)
            raise ValidationError(f"embedding {self.name!r}: duplicate ids {dup}")
        object.__setattr__(self, "ids", tuple(self.ids))
        object.__setattr__(self, "values", values)

    @property
    def shape(self) -> tuple[int, int]:
        return self.values.shape  # type: ignore[return-value]

    def index_of(self, ids: Iterable[str]) -> np.ndarray:
        """Row indices of ``ids``; error listing every id the embedding lacks."""
        lookup = {s: i for i, s in enumerate(self.ids)}
        wanted = list(ids)
        missing = [s for s in dict.fromkeys(wanted) if s not in lookup]
        if missing:
            shown = ", ".join(map(repr, missing[:20])) + (" …" if len(missing) > 20 else "")
            raise ValidationError(f"embedding {self.name!r} lacks {len(missing)} stimulus id(s): {shown}")
        return np.fromiter((lookup[s] for s in wanted), dtype=np.int64, count=len(wanted))

    def select(self, ids: Sequence[str]) -> Embedding:
        """The rows of ``ids``, in that order."""
        idx = self.index_of(ids)
        return Embedding(tuple(ids), self.values[idx], self.name, dict(self.meta))


def _first_duplicates(ids: Sequence[str], limit: int = 10) -> list[str]:
    seen: set[str] = set()
    dup: list[str] = []
    for s in ids:
        if s in seen and s not in dup:
            dup.append(s)
            if len(dup) >= limit:
                break
        seen.add(s)
    return dup


def malformed(path: Path | str, line: int | None, message: str) -> MalformedDataError:
    """A MalformedDataError that names file and (1-based) line."""
    where = f"{path}" if line is None else f"{path}, line {line}"
    return MalformedDataError(f"{where}: {message}")
