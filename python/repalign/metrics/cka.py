"""Centered kernel alignment (Kornblith et al. 2019) with biased and unbiased HSIC.

CKA(X, Y) = HSIC(K, L) / sqrt(HSIC(K, K) · HSIC(L, L)) for Gram matrices K of X and
L of Y over the same n stimuli (rows). The biased estimator uses HSIC = tr(KHLH)/(n−1)²
(H the centering matrix); the unbiased one is the estimator of Song et al. (2012),
which removes the bias of the finite-n estimate (needs n ≥ 4). Linear CKA is
invariant to orthogonal transforms and isotropic scaling of either representation.

``variant="published"``: the CKA of Muttenthaler et al. (2023), LukasMut/human_alignment
``utils/analyses/cka.py`` (``CKA.compare``): biased HSIC (its missing 1/(n−1)² cancels),
linear kernel as here; the RBF kernel's bandwidth σ² = the median of the nonzero squared
pairwise distances (repalign's default: σ = 0.8 × the median distance).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import pdist, squareform

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix

KERNELS = ("linear", "rbf")


def gram(X: np.ndarray, kernel: str = "linear", sigma: float = 0.8, variant: str = "default") -> np.ndarray:
    """(n, n) Gram matrix. rbf: exp(−‖x−y‖² / (2 (sigma · median distance)²)); published:
    exp(−‖x−y‖² / (2 · median of the nonzero squared distances))."""
    if kernel not in KERNELS:
        raise ValidationError(f"unknown CKA kernel {kernel!r}; valid: {', '.join(KERNELS)}")
    if kernel == "linear":
        return X @ X.T
    if sigma <= 0:
        raise ValidationError(f"rbf sigma must be > 0, got {sigma}")
    d2 = squareform(pdist(X, "sqeuclidean"))
    if variant == "published":
        u = d2[np.triu_indices_from(d2, 1)]
        if not (u != 0).any():
            raise ValidationError("rbf kernel: every pairwise distance is 0 (all rows identical?)")
        return np.exp(-d2 / (2.0 * np.median(u[u != 0])))
    med = np.median(np.sqrt(d2[np.triu_indices_from(d2, 1)]))
    if med == 0:
        raise ValidationError("rbf kernel: median pairwise distance is 0 (all rows identical?)")
    return np.exp(-d2 / (2.0 * (sigma * med) ** 2))


def _center(K: np.ndarray) -> np.ndarray:
    m = K.mean(axis=0)
    return K - m[None, :] - m[:, None] + m.mean()


def hsic(K: np.ndarray, L: np.ndarray, unbiased: bool = False) -> float:
    """HSIC of two (n, n) Gram matrices: biased tr(KHLH)/(n−1)² or unbiased (Song et al. 2012)."""
    n = K.shape[0]
    if not unbiased:
        return float(np.sum(_center(K) * _center(L)) / (n - 1) ** 2)
    if n < 4:
        raise ValidationError(f"unbiased HSIC needs at least 4 stimuli, got {n}")
    Kt = K - np.diag(np.diag(K))
    Lt = L - np.diag(np.diag(L))
    one_K, one_L = Kt.sum(axis=0), Lt.sum(axis=0)
    val = np.sum(Kt * Lt) + one_K.sum() * one_L.sum() / ((n - 1) * (n - 2)) - 2.0 * (one_K @ one_L) / (n - 2)
    return float(val / (n * (n - 3)))


def cka(
    X: Any, Y: Any, kernel: str = "linear", unbiased: bool = False, sigma: float | None = None, variant: str = "default"
) -> float:
    """CKA between two representations of the same n stimuli: X (n, d1), Y (n, d2)
    (arrays or ``Embedding``s; two Embeddings are aligned by id). Value in [0, 1]
    for the biased estimator; the unbiased one can be slightly negative. sigma: the
    RBF bandwidth factor (None = 0.8). variant="published": Muttenthaler et al.'s CKA
    (biased HSIC; RBF σ² = median nonzero squared distance; see the module docstring)."""
    from repalign.datasets.base import Embedding

    check_variant(variant, "cka")
    if variant == "published" and (unbiased or sigma is not None):
        raise ValidationError(
            "CKA variant='published' is the biased estimator with the seed's median bandwidth; "
            f"got unbiased={unbiased}, sigma={sigma}"
        )
    sigma = 0.8 if sigma is None else sigma

    if isinstance(X, Embedding) and isinstance(Y, Embedding) and X.ids != Y.ids:
        Y = Y.select(X.ids)
    Xa, Ya = feature_matrix(X, "X"), feature_matrix(Y, "Y")
    if Xa.shape[0] != Ya.shape[0]:
        raise ValidationError(f"CKA: X has {Xa.shape[0]} stimuli (rows) but Y has {Ya.shape[0]}")
    if Xa.shape[0] < 3:
        raise ValidationError(f"CKA needs at least 3 stimuli, got {Xa.shape[0]}")
    K, L = gram(Xa, kernel, sigma, variant), gram(Ya, kernel, sigma, variant)
    kl, kk, ll = hsic(K, L, unbiased), hsic(K, K, unbiased), hsic(L, L, unbiased)
    if kk <= 0 or ll <= 0:
        raise ValidationError(
            "CKA undefined: a representation has zero (or negative unbiased) self-HSIC, e.g. constant rows"
        )
    return float(kl / np.sqrt(kk * ll))
