"""Input coercion and validation shared by the metrics: features of any origin
(an ``Embedding`` or a plain array) and triplets (a ``Triplets`` or a plain array).

Every check raises ``ValidationError`` naming the offending thing, so a metric
never silently computes on NaN features, out-of-range indices or misaligned ids.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from repalign.datasets.base import Embedding
from repalign.datasets.things import Triplets
from repalign.errors import ValidationError


def feature_matrix(X: Any, name: str = "features") -> np.ndarray:
    """A finite float64 matrix (n_objects, d) from an ndarray or an ``Embedding``."""
    if isinstance(X, Embedding):
        name = X.name
        X = X.values
    arr = np.asarray(X)
    if arr.ndim != 2:
        raise ValidationError(f"{name}: expected a 2-d (n_objects, n_dims) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValidationError(f"{name}: empty feature matrix of shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise ValidationError(f"{name}: features must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64, copy=False)
    bad = ~np.isfinite(arr)
    if bad.any():
        rows = np.flatnonzero(bad.any(axis=1))
        raise ValidationError(
            f"{name}: {bad.sum()} non-finite value(s) (NaN/inf) in {rows.size} row(s), first rows {rows[:10].tolist()}"
        )
    return arr


def triplet_array(triplets: Any, n_objects: int | None = None, name: str = "triplets") -> np.ndarray:
    """An int64 (n, 3) array; checks range ``0..n_objects-1`` and repeated items."""
    if isinstance(triplets, Triplets):
        name = f"triplets {triplets.source!r}"
        triplets = triplets.triplets
    t = np.asarray(triplets)
    if t.ndim != 2 or t.shape[1] != 3:
        raise ValidationError(f"{name}: expected shape (n, 3), got {t.shape}")
    if t.shape[0] and not np.issubdtype(t.dtype, np.integer):
        if not np.issubdtype(t.dtype, np.floating) or not np.all(np.isfinite(t)) or np.any(t % 1 != 0):
            raise ValidationError(f"{name}: indices must be integers, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    if n_objects is not None and t.size and (t.min() < 0 or t.max() >= n_objects):  # fast path: two reductions
        out = np.flatnonzero(((t < 0) | (t >= n_objects)).any(axis=1))
        if out.size:
            raise ValidationError(
                f"{name}: {out.size} triplet(s) with an object index out of range 0..{n_objects - 1}; "
                f"first: row {out[0]} = {t[out[0]].tolist()}"
            )
    rep = np.flatnonzero((t[:, 0] == t[:, 1]) | (t[:, 0] == t[:, 2]) | (t[:, 1] == t[:, 2]))
    if rep.size:
        raise ValidationError(
            f"{name}: {rep.size} triplet(s) repeat an item; first: row {rep[0]} = {t[rep[0]].tolist()}"
        )
    return t


def features_and_triplets(X: Any, triplets: Any) -> tuple[np.ndarray, np.ndarray]:
    """Align features with triplets.

    When both carry stimulus ids (``Embedding`` and ``Triplets``), the triplet
    indices are mapped onto the embedding's rows by id (error listing the ids the
    embedding lacks); otherwise rows are taken to be in triplet index order.
    """
    if isinstance(X, Embedding) and isinstance(triplets, Triplets):
        t = triplet_array(triplets, len(triplets.ids))
        used = np.unique(t)
        rows = np.full(len(triplets.ids), -1, dtype=np.int64)
        rows[used] = X.index_of([triplets.ids[i] for i in used])
        return feature_matrix(X), rows[t]
    Xa = feature_matrix(X)
    return Xa, triplet_array(triplets, Xa.shape[0])


def participants_of(triplets: Any, participant: Any, n: int) -> np.ndarray:
    """Participant labels (n,): ``True`` takes them from a ``Triplets``; an array is checked for length."""
    if participant is True:
        if not isinstance(triplets, Triplets):
            raise ValidationError("participant=True needs a Triplets object; pass an array of labels instead")
        return np.asarray(triplets.participant)
    p = np.asarray(participant)
    if p.shape != (n,):
        raise ValidationError(f"participant labels: expected shape ({n},), got {p.shape}")
    return p
