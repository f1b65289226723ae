"""THINGS: concept metadata, the SPoSE embedding and odd-one-out triplets.

Object ids are THINGS unique ids ("aardvark", "abacus", …) in the canonical order
of ``unique_id.csv`` (1854 concepts). Triplet indices index that order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from repalign.datasets.base import Embedding, malformed
from repalign.datasets.registry import fetch
from repalign.errors import UnknownDatasetError

N_CONCEPTS = 1854
_NEGATIVE_TOLERANCE = -0.01  # smallest SPoSE value accepted (then clipped to 0)

__all__ = [
    "ThingsConcepts",
    "Triplets",
    "load_things_ids",
    "load_things_concepts",
    "load_spose",
    "load_triplets",
    "TRIPLET_SOURCES",
]


def load_things_ids() -> tuple[str, ...]:
    """The 1854 THINGS unique ids in canonical order (``unique_id.csv``)."""
    return _load_ids(fetch("things-spose", "unique_id.csv"))


@lru_cache(maxsize=4)
def _load_ids(path: Path) -> tuple[str, ...]:
    lines = path.read_text().splitlines()
    if not lines or lines[0].strip() != "id":
        raise malformed(path, 1, "expected header 'id'")
    ids = tuple(s.strip() for s in lines[1:] if s.strip())
    if len(ids) != N_CONCEPTS or len(set(ids)) != N_CONCEPTS:
        raise malformed(path, None, f"expected {N_CONCEPTS} distinct ids, got {len(ids)}")
    return ids


@dataclass(frozen=True)
class ThingsConcepts:
    """THINGS concept metadata.

    ids: 1854 unique ids (canonical order); words: the concept word of each id;
    categories: bool array (1854, 27), membership in the 27 top-level categories
    named by ``category_names`` (a concept can be in 0–3 of them).
    """

    ids: tuple[str, ...]
    words: tuple[str, ...]
    categories: np.ndarray
    category_names: tuple[str, ...]
    table: pd.DataFrame  # the full things_concepts.tsv, one row per id

    def category_of(self, name: str) -> list[str]:
        """Ids of the concepts in top-level category ``name``."""
        if name not in self.category_names:
            raise UnknownDatasetError(f"unknown THINGS category {name!r}; known: {', '.join(self.category_names)}")
        col = self.category_names.index(name)
        return [i for i, m in zip(self.ids, self.categories[:, col]) if m]


def load_things_concepts() -> ThingsConcepts:
    ids = load_things_ids()
    tsv = fetch("things-concepts", "data/things_concepts.tsv")
    table = pd.read_csv(tsv, sep="\t", dtype=str, keep_default_na=False)
    for col in ("Word", "uniqueID"):
        if col not in table.columns:
            raise malformed(tsv, 1, f"missing column {col!r}")
    if tuple(table["uniqueID"]) != ids:
        raise malformed(tsv, None, "uniqueID column does not follow the canonical unique_id.csv order")
    cat_path = fetch("things-concepts", "data/category_mat_manual.tsv")
    cats = pd.read_csv(cat_path, sep="\t")
    if len(cats) != N_CONCEPTS:
        raise malformed(cat_path, None, f"expected {N_CONCEPTS} rows, got {len(cats)}")
    values = cats.to_numpy()
    bad = ~np.isin(values, (0, 1))
    if bad.any():
        row = int(np.argwhere(bad)[0, 0])
        raise malformed(cat_path, row + 2, "category membership must be 0 or 1")
    return ThingsConcepts(
        ids=ids,
        words=tuple(table["Word"]),
        categories=values.astype(bool),
        category_names=tuple(cats.columns),
        table=table,
    )


def load_spose(dims: int = 49) -> Embedding:
    """The SPoSE embedding of Hebart et al. (2020): (1854, 49), non-negative.

    Tiny negative entries (>= -0.01, optimiser noise) are clipped to 0; their count is
    ``meta["clipped_negatives"]``.

    ``dims=14`` gives the 14-d embedding of THINGSDecisions (Demircan et al. 2022).
    """
    if dims == 49:
        ids = load_things_ids()
        path = fetch("things-spose", "spose_embedding_49d_sorted.txt")
        try:
            values = np.loadtxt(path, dtype=np.float64)
        except ValueError as exc:
            raise malformed(path, None, f"not a whitespace-separated numeric matrix: {exc}") from exc
    elif dims == 14:
        id_path = fetch("things-decisions", "data/unique_id.csv")
        ids = tuple(s.strip() for s in id_path.read_text().splitlines()[1:] if s.strip())
        path = fetch("things-decisions", "data/spose_embedding_14d_sorted.npy")
        values = np.load(path).astype(np.float64)
    else:
        raise UnknownDatasetError(f"no packaged SPoSE embedding with {dims} dimensions; choose 49 or 14")
    if values.shape != (len(ids), dims):
        raise malformed(path, None, f"expected shape ({len(ids)}, {dims}), got {values.shape}")
    if not np.isfinite(values).all() or (values < _NEGATIVE_TOLERANCE).any():
        raise malformed(path, None, f"SPoSE values must be finite and >= {_NEGATIVE_TOLERANCE}")
    # The upstream 49-d file holds 68 entries in [-0.0014, 0): optimiser noise around
    # the non-negativity constraint. They are set to 0 and counted in ``meta``.
    n_clipped = int((values < 0).sum())
    values = np.clip(values, 0.0, None)
    return Embedding(ids, values, name=f"spose{dims}", meta={"source": str(path), "clipped_negatives": n_clipped})


@dataclass(frozen=True)
class Triplets:
    """Odd-one-out responses.

    triplets: int64 (n, 3), indices into ``ids``, the chosen odd item LAST (the first
    two are the pair judged most similar, in their original order);
    participant: int64 (n,), -1 where unknown; source: name of the file set.
    """

    triplets: np.ndarray
    participant: np.ndarray
    ids: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return int(self.triplets.shape[0])

    def distinct(self) -> np.ndarray:
        """The distinct unordered triplets (sorted item indices), shape (m, 3)."""
        return np.unique(np.sort(self.triplets, axis=1), axis=0)


TRIPLET_SOURCES = {
    "noise_ceiling": ("things-concepts", "data/test_triplets.csv"),
    "test_10": ("things-triplets", "data/test_10_ID.txt"),
    "train_90": ("things-triplets", "data/train_90_ID_smallsample.txt"),
}


def load_triplets(source: str = "test_10") -> Triplets:
    """Load THINGS odd-one-out triplets as one representation (odd item last).

    Sources: ``noise_ceiling`` (1000 distinct triplets, ~20 responses each;
    upstream: tab-separated, 1-based, column 4 = position of the odd item),
    ``test_10`` (127,304 rows) and ``train_90`` (small training sample; both
    0-based with the odd item last, then participant id).
    """
    if source not in TRIPLET_SOURCES:
        raise UnknownDatasetError(f"unknown triplet source {source!r}; known: {', '.join(TRIPLET_SOURCES)}")
    dataset, rel = TRIPLET_SOURCES[source]
    path = fetch(dataset, rel)
    ids = load_things_ids()
    if source == "noise_ceiling":
        raw = _read_int_table(path, sep="\t", ncol=5)
        items = raw[:, :3] - 1
        pos = raw[:, 3]
        bad = np.flatnonzero((pos < 1) | (pos > 3))
        if bad.size:
            raise malformed(path, int(bad[0]) + 1, f"odd-item position must be 1–3, got {pos[bad[0]]}")
        odd = pos - 1
        # Reorder so the odd item is last while the pair keeps its order.
        order = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])[odd]
        triplets = np.take_along_axis(items, order, axis=1)
        participant = raw[:, 4]
    else:
        raw = _read_int_table(path, sep=r"\s+", ncol=4)
        triplets = raw[:, :3]
        participant = raw[:, 3]
    _validate_triplets(path, triplets, len(ids))
    return Triplets(triplets.astype(np.int64), participant.astype(np.int64), ids, source)


def _read_int_table(path: Path, sep: str, ncol: int) -> np.ndarray:
    df = pd.read_csv(path, sep=sep, header=None, dtype=str, engine="python" if sep != "\t" else "c")
    if df.shape[1] != ncol:
        raise malformed(path, None, f"expected {ncol} columns, got {df.shape[1]}")
    num = df.apply(pd.to_numeric, errors="coerce")
    bad = num.isna().any(axis=1) | (num % 1 != 0).any(axis=1)
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise malformed(path, line, f"expected {ncol} integers, got {' '.join(df.iloc[line - 1])!r}")
    return num.to_numpy(dtype=np.int64)


def _validate_triplets(path: Path, t: np.ndarray, n_objects: int) -> None:
    out = np.flatnonzero(((t < 0) | (t >= n_objects)).any(axis=1))
    if out.size:
        raise malformed(path, int(out[0]) + 1, f"object index out of range 0..{n_objects - 1}: {t[out[0]].tolist()}")
    rep = np.flatnonzero((t[:, 0] == t[:, 1]) | (t[:, 0] == t[:, 2]) | (t[:, 1] == t[:, 2]))
    if rep.size:
        raise malformed(path, int(rep[0]) + 1, f"repeated item in triplet {t[rep[0]].tolist()}")
