"""Class separation of a representation and trial-wise error consistency."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import cdist

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix

FORMULAS = ("naturalcogsci", "kornblith", "distinct_pairs")
SEPARATION_METRICS = ("cosine", "euclidean")
_CHUNK = 2048  # rows of the distance matrix held at once (euclidean)


def _block_sums(X: np.ndarray, inv: np.ndarray, K: int, metric: str) -> np.ndarray:
    """B (K, K): B[a, b] = Σ_{i∈a, j∈b} d(x_i, x_j) over ordered pairs, self-pairs included (d = 0)."""
    G = np.zeros((X.shape[0], K))
    G[np.arange(X.shape[0]), inv] = 1.0
    if metric == "cosine":
        # Σ_{i∈a, j∈b} (1 − x̂_i·x̂_j) = n_a n_b − (Σ_a x̂)·(Σ_b x̂): O(n·d), no n×n matrix.
        norms = np.linalg.norm(X, axis=1)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise ValidationError(
                f"class_separation: cosine distance undefined for {zero.size} all-zero feature row(s), first rows "
                f"{zero[:10].tolist()}"
            )
        C = G.T @ (X / norms[:, None])
        n = G.sum(axis=0)
        return np.outer(n, n) - C @ C.T
    B = np.zeros((K, K))
    for i in range(0, X.shape[0], _CHUNK):
        B += G[i : i + _CHUNK].T @ cdist(X[i : i + _CHUNK], X, metric) @ G
    return B


def class_separation(
    X: Any,
    labels: Any,
    metric: str = "cosine",
    variant: str = "default",
    formula: str = "naturalcogsci",
) -> float:
    """Class separation R² = 1 − d̄_within / d̄_total (Kornblith et al. 2021), as computed by
    Demircan et al. (2024), candemircan/naturalcogsci ``bin/r2_class_sep.py``.

    X: (n, d) features; labels: (n,) class of each row (the published analysis uses the
    THINGS concept of each image). With K classes of sizes n_c and d the ``metric``
    distance ("cosine" = 1 − cosine similarity, the paper's; or "euclidean"):

    * formula="naturalcogsci" (the default, and variant="published"): d̄_within =
      Σ_c Σ_{i<j∈c} d_ij / (K·n_c²) — each within-class pair counted once, as the seed's
      ``pdist`` sum — and d̄_total = Σ_{a,b} Σ_{i∈a, j∈b} d_ij / (K²·n_a·n_b) over all
      ordered class pairs, a = b and self-pairs included (the seed's ``cdist`` loop).
    * formula="kornblith": the equation of Kornblith et al. (2021), whose within term
      sums ordered pairs (both orders); it equals 2·R²_naturalcogsci − 1 exactly.
    * formula="distinct_pairs": repalign ≤ 0.x — mean distance over distinct pairs within
      each class (classes of ≥ 2), averaged over classes, over the mean distance of all
      distinct pairs.

    1 = each class collapsed to a point. Cosine sums are exact closed forms (O(n·d)), so
    the published value for tens of thousands of images needs no n×n matrix.
    """
    check_variant(variant, "class_separation")
    if formula not in FORMULAS:
        raise ValidationError(f"unknown class_separation formula {formula!r}; valid: {', '.join(FORMULAS)}")
    if variant == "published" and formula != "naturalcogsci":
        raise ValidationError(
            f"class_separation: variant='published' is formula='naturalcogsci', got formula={formula!r}"
        )
    if metric not in SEPARATION_METRICS:
        raise ValidationError(f"unknown separation metric {metric!r}; valid: {', '.join(SEPARATION_METRICS)}")
    Xa = feature_matrix(X)
    y = np.asarray(labels)
    if y.shape != (Xa.shape[0],):
        raise ValidationError(f"class_separation: {Xa.shape[0]} stimuli but labels have shape {y.shape}")
    classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    inv = inv.ravel()
    K = classes.size
    if K < 2:
        raise ValidationError("class_separation needs at least 2 classes")
    if (counts < 2).all():
        raise ValidationError("class_separation needs a class with at least 2 stimuli")
    B = _block_sums(Xa, inv, K, metric)
    n = counts.astype(np.float64)
    diag = np.diag(B)
    if formula == "distinct_pairs":
        N = n.sum()
        big = counts >= 2
        within = np.mean(diag[big] / (n[big] * (n[big] - 1)))
        return float(1.0 - within / (B.sum() / (N * (N - 1))))
    total = np.sum(B / np.outer(n, n)) / K**2
    within = np.sum(diag / n**2) / K  # ordered pairs
    if formula == "naturalcogsci":
        within /= 2  # each pair once (pdist)
    return float(1.0 - within / total)


def error_consistency(correct_a: Any, correct_b: Any, variant: str = "default") -> float:
    """Error consistency (Geirhos et al. 2020): Cohen's kappa of trial-wise correctness.

    κ = (c_obs − c_exp) / (1 − c_exp), with c_obs the share of trials where both are
    right or both wrong and c_exp = p_a·p_b + (1−p_a)(1−p_b) the overlap expected from
    the accuracies alone. NaN when c_exp = 1 (both always right, or both always
    wrong): κ is undefined there. ``variant="published"`` follows
    bethgelab/model-vs-human ``modelvshuman/plotting/analyses.py``
    (``ErrorConsistency.error_consistency``): κ = 1 whenever c_obs = 1. The two agree
    everywhere else.
    """
    if variant not in ("default", "published"):
        raise ValidationError(f"error_consistency: variant must be 'default' or 'published', got {variant!r}")
    a = np.asarray(correct_a)
    b = np.asarray(correct_b)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValidationError(
            f"error_consistency: correctness vectors must be 1-d and equally long, got {a.shape} and {b.shape}"
        )
    if a.size == 0:
        raise ValidationError("error_consistency: no trials")
    for name, v in (("correct_a", a), ("correct_b", b)):
        if not np.isin(v, (0, 1, True, False)).all():
            raise ValidationError(f"error_consistency: {name} must be boolean / 0-1")
    a, b = a.astype(bool), b.astype(bool)
    pa, pb = a.mean(), b.mean()
    c_exp = pa * pb + (1 - pa) * (1 - pb)
    c_obs = np.mean(a == b)
    if variant == "published" and c_obs == 1.0:
        return 1.0
    if np.isclose(c_exp, 1.0):
        return float("nan")
    return float((c_obs - c_exp) / (1 - c_exp))
