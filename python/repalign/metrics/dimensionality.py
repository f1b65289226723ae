"""Intrinsic dimensionality of a representation (n stimuli × d features).

* ``twonn`` (Facco et al. 2017): ratios μ = r₂/r₁ of second to first nearest-neighbour
  distances follow a Pareto law with shape = the dimension; the slope of
  −log(1 − F̂(μ)) on log μ through the origin, after discarding the largest 10% of μ.
  Duplicate rows are removed first (they give r₁ = 0). By default the features are
  then min-max scaled to [0, 1] each, as Demircan et al. (2024) do
  (candemircan/naturalcogsci, ``bin/intrinsic_dimensionality.py``: ``np.unique`` rows →
  scikit-learn ``MinMaxScaler`` → scikit-dimension ``TwoNN``): the estimate then does
  not depend on the units of individual features.
* ``mle`` (Levina & Bickel 2005): the k-nearest-neighbour maximum-likelihood estimate,
  averaged over points as the mean of the inverse per-point estimates (MacKay & Ghahramani's
  correction), duplicates removed.
* ``pr``: PCA participation ratio (Σλ)² / Σλ² of the covariance eigenvalues.
* ``pca90``: number of principal components explaining 90% of the variance.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.neighbors import NearestNeighbors

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix

METHODS = ("twonn", "mle", "pr", "pca90")


def _neighbour_distances(X: np.ndarray, k: int) -> np.ndarray:
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, _ = nn.kneighbors(X)
    return dist[:, 1:]  # drop the point itself (no duplicates remain)


def twonn(X: np.ndarray, discard_fraction: float = 0.1) -> float:
    X = np.unique(X, axis=0)
    if X.shape[0] < 3:
        raise ValidationError(f"TwoNN needs at least 3 distinct points, got {X.shape[0]}")
    d = _neighbour_distances(X, 2)
    mu = np.sort(d[:, 1] / d[:, 0])
    n = mu.size
    keep = int(n * (1 - discard_fraction))
    x = np.log(mu[:keep])
    y = -np.log(1 - np.arange(1, keep + 1) / n)
    return float(x @ y / (x @ x))


def mle(X: np.ndarray, k: int = 20) -> float:
    X = np.unique(X, axis=0)
    if X.shape[0] <= k:
        raise ValidationError(f"MLE with k={k} needs more than {k} distinct points, got {X.shape[0]}")
    if k < 2:
        raise ValidationError(f"MLE needs k >= 2, got {k}")
    d = _neighbour_distances(X, k)
    # Per point: inverse estimate m̂⁻¹ = mean_j<k log(T_k / T_j); averaging inverses is
    # the less biased pooling.
    inv = np.log(d[:, -1:] / d[:, :-1]).sum(axis=1) / (k - 1)
    return float(1.0 / inv.mean())


def _eigenvalues(X: np.ndarray) -> np.ndarray:
    Xc = X - X.mean(axis=0)
    s = np.linalg.svd(Xc, compute_uv=False)
    return s**2 / max(1, X.shape[0] - 1)


def participation_ratio(X: np.ndarray) -> float:
    lam = _eigenvalues(X)
    if lam.sum() == 0:
        raise ValidationError("participation ratio undefined: zero variance")
    return float(lam.sum() ** 2 / np.sum(lam**2))


def pca_components(X: np.ndarray, variance: float = 0.9) -> int:
    lam = _eigenvalues(X)
    if lam.sum() == 0:
        raise ValidationError("PCA dimensionality undefined: zero variance")
    cum = np.cumsum(lam) / lam.sum()
    return int(np.searchsorted(cum, variance - 1e-12) + 1)


SCALINGS = ("minmax", "none")


def minmax_scale(X: np.ndarray) -> np.ndarray:
    """Each column mapped affinely onto [0, 1] (a constant column becomes 0), as
    scikit-learn's ``MinMaxScaler`` with its defaults."""
    lo = X.min(axis=0)
    rng = X.max(axis=0) - lo
    return (X - lo) / np.where(rng == 0, 1.0, rng)


def intrinsic_dimensionality(
    X: Any,
    method: str = "twonn",
    k: int = 20,
    variance: float = 0.9,
    variant: str = "default",
    scale: str | None = None,
) -> float:
    """Intrinsic dimensionality of X (n, d) by ``method`` ∈ twonn | mle | pr | pca90.

    k: neighbours for mle; variance: explained-variance threshold for pca90.
    scale: "minmax" (each feature onto [0, 1] after duplicate rows are dropped) or
    "none"; None = the method's default: "minmax" for twonn (the published pipeline of
    Demircan et al. 2024, candemircan/naturalcogsci ``bin/intrinsic_dimensionality.py``),
    "none" for mle, pr and pca90 (PCA measures are about the features' variances, which
    min-max scaling would rewrite). variant="published" is the naturalcogsci pipeline:
    for twonn it is the default (unique rows → min-max → TwoNN) and refuses
    scale="none"; mle, pr and pca90 are not from that script, so both variants agree.
    """
    if method not in METHODS:
        raise ValidationError(f"unknown dimensionality method {method!r}; valid: {', '.join(METHODS)}")
    check_variant(variant, "dimensionality")
    if scale is not None and scale not in SCALINGS:
        raise ValidationError(f"unknown dimensionality scale {scale!r}; valid: {', '.join(SCALINGS)}")
    if variant == "published" and method == "twonn" and scale == "none":
        raise ValidationError(
            "dimensionality: variant='published' min-max scales the features for twonn; scale='none' contradicts it"
        )
    if scale is None:
        scale = "minmax" if method == "twonn" else "none"
    Xa = feature_matrix(X)
    if scale == "minmax":
        # Duplicates first (as the published script), so the ranges are those of the distinct points.
        Xa = minmax_scale(np.unique(Xa, axis=0))
    if method == "twonn":
        return twonn(Xa)
    if method == "mle":
        return mle(Xa, k)
    if method == "pr":
        return participation_ratio(Xa)
    return float(pca_components(Xa, variance))
