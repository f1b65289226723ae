"""Compare two embeddings of the same objects: dimension matching and RSA.

Dimension matching: the Pearson correlation of every dimension of A with every
dimension of B over the objects, then an assignment of A's dimensions to B's:

* ``variant="default"`` (repalign): the one-to-one assignment that maximises the summed
  correlation (Hungarian algorithm, ``scipy.optimize.linear_sum_assignment``);
* ``variant="published"`` (Mahner et al. 2025; florianmahner/object-dimensions,
  ``objdim/utils/stats.py`` ``pairwise_correlate_dimensions``, called by
  ``experiments/run_comparison.py`` with the human embedding as the base): greedy in
  the order of A's dimensions (A = the human embedding, sorted by weight) — each takes
  its most correlated B dimension, among those not taken yet (``duplicates=False``) or
  among all (``duplicates=True``, "with replacement"). The seed raises an error when A
  has more dimensions than B without duplicates; here A's dimensions are matched in
  order until B's run out and the rest stay unmatched.

RSA: the correlation of the two embeddings' object-by-object similarity matrices (upper
triangles), built on ``repalign.metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from repalign.errors import ValidationError
from repalign.metrics import similarity_matrix
from repalign.metrics.rsa import compare_vectors


@dataclass(frozen=True)
class DimensionMatch:
    """Result of ``match_dimensions``.

    corr: (d_a, d_b) Pearson correlations of A's with B's dimensions (NaN for a constant
    dimension); pairs: DataFrame with one row per matched pair (dim_a, dim_b, r), in
    order of A's dimensions; unmatched dimensions of the larger embedding are absent.
    """

    corr: np.ndarray
    pairs: pd.DataFrame

    @property
    def matched_r(self) -> np.ndarray:
        return self.pairs["r"].to_numpy()

    def n_above(self, threshold: float) -> int:
        """Number of matched pairs with r >= threshold."""
        return int((self.matched_r >= threshold).sum())


def _check_pair(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    A, B = np.asarray(A, np.float64), np.asarray(B, np.float64)
    if A.ndim != 2 or B.ndim != 2:
        raise ValidationError(f"embeddings must be 2-d, got shapes {A.shape} and {B.shape}")
    if A.shape[0] != B.shape[0]:
        raise ValidationError(f"embeddings must have the same objects (rows): {A.shape[0]} vs {B.shape[0]}")
    if A.shape[0] < 3:
        raise ValidationError("need at least 3 objects to compare embeddings")
    return A, B


def dimension_correlations(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """(d_a, d_b) Pearson correlations between the columns of A (n, d_a) and B (n, d_b);
    NaN where a column is constant."""
    A, B = _check_pair(A, B)
    za = A - A.mean(0)
    zb = B - B.mean(0)
    na, nb = np.linalg.norm(za, axis=0), np.linalg.norm(zb, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = (za.T @ zb) / np.outer(na, nb)
    corr[(na == 0)[:, None] | (nb == 0)[None, :]] = np.nan
    return np.clip(corr, -1.0, 1.0)


def greedy_matching(corr: np.ndarray, duplicates: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of the greedy matching of ``corr`` (d_a, d_b) in row order: row i
    takes the column of highest correlation (NaN ranks last; ties: lowest column),
    among the columns not yet taken unless ``duplicates``."""
    order = np.argsort(-np.where(np.isnan(corr), -np.inf, corr), axis=1, kind="stable")
    rows, cols, taken = [], [], set()
    for i in range(corr.shape[0]):
        free = order[i] if duplicates else [c for c in order[i] if c not in taken]
        if len(free) == 0:
            break
        rows.append(i)
        cols.append(int(free[0]))
        taken.add(int(free[0]))
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def match_dimensions(
    A: np.ndarray, B: np.ndarray, *, variant: str = "default", duplicates: bool = False
) -> DimensionMatch:
    """Match A's dimensions (n, d_a) to B's (n, d_b). ``variant="default"``: one-to-one,
    maximising the summed correlation (constant dimensions count as r = 0 for the
    assignment and are reported as NaN); ``"published"``: greedy in A's order, with or
    without ``duplicates`` (module doc). ``duplicates`` applies to the published variant
    only."""
    if variant not in ("default", "published"):
        raise ValidationError(f"match_dimensions: variant = {variant!r}; valid: default, published")
    if duplicates and variant != "published":
        raise ValidationError("match_dimensions: duplicates=True needs variant='published' (greedy matching)")
    corr = dimension_correlations(A, B)
    if variant == "published":
        rows, cols = greedy_matching(corr, duplicates)
    else:
        rows, cols = linear_sum_assignment(np.nan_to_num(corr, nan=0.0), maximize=True)
    pairs = pd.DataFrame({"dim_a": rows.astype(np.int64), "dim_b": cols.astype(np.int64), "r": corr[rows, cols]})
    return DimensionMatch(corr=corr, pairs=pairs)


def similarity_rsa(A: np.ndarray, B: np.ndarray, *, similarity: str = "dot", method: str = "pearson") -> float:
    """RSA of two embeddings of the same objects: the correlation (``pearson``,
    ``spearman`` …, see ``repalign.metrics.rsa.compare_vectors``) of the upper
    triangles (diagonal excluded) of their (n, n) similarity matrices (``dot``, the
    SPoSE/VICE similarity, or ``cosine``; see ``repalign.metrics.similarity_matrix``)."""
    A, B = _check_pair(A, B)
    iu = np.triu_indices(A.shape[0], k=1)
    return compare_vectors(similarity_matrix(A, similarity)[iu], similarity_matrix(B, similarity)[iu], method)
