"""Class separation of a representation and trial-wise error consistency."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.spatial.distance import pdist, squareform

from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix


def class_separation(X: Any, labels: Any, metric: str = "cosine") -> float:
    """Class separation R² = 1 − d̄_within / d̄_total (Kornblith et al. 2021).

    d̄_within: mean distance between distinct stimuli of the same class (averaged over
    classes); d̄_total: mean distance over all pairs of distinct stimuli. metric:
    "cosine" (1 − cosine similarity, the paper's choice) or "euclidean". 0 = classes no
    tighter than the whole set, 1 = each class collapsed to a point.
    """
    Xa = feature_matrix(X)
    y = np.asarray(labels)
    if y.shape != (Xa.shape[0],):
        raise ValidationError(f"class_separation: {Xa.shape[0]} stimuli but labels have shape {y.shape}")
    if metric not in ("cosine", "euclidean"):
        raise ValidationError(f"unknown separation metric {metric!r}; valid: cosine, euclidean")
    classes, inv, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise ValidationError("class_separation needs at least 2 classes")
    if (counts < 2).all():
        raise ValidationError("class_separation needs a class with at least 2 stimuli")
    D = squareform(pdist(Xa, metric))
    n = D.shape[0]
    total = D.sum() / (n * (n - 1))
    within = []
    for c in np.flatnonzero(counts >= 2):
        idx = np.flatnonzero(inv.ravel() == c)
        within.append(D[np.ix_(idx, idx)].sum() / (idx.size * (idx.size - 1)))
    return float(1.0 - np.mean(within) / total)


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
        raise ValidationError(f"error_consistency: correctness vectors must be 1-d and equally long, got {a.shape} and {b.shape}")
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
