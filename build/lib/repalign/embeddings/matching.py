"""Compare two embeddings of the same objects: dimension matching and RSA.

Dimension matching (as in Mahner et al. 2025): the Pearson correlation of every
dimension of A with every dimension of B over the objects, then the one-to-one
assignment of A's dimensions to B's that maximises the summed correlation (Hungarian
algorithm, ``scipy.optimize.linear_sum_assignment``). RSA: the correlation of the
two embeddings' object-by-object similarity matrices (upper triangles), built on
``repalign.metrics``.
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


def match_dimensions(A: np.ndarray, B: np.ndarray) -> DimensionMatch:
    """One-to-one matching of A's and B's dimensions maximising the summed correlation
    (constant dimensions count as r = 0 for the assignment and are reported as NaN)."""
    corr = dimension_correlations(A, B)
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
