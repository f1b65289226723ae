"""Representational similarity analysis: RDMs, RDM comparison, per-subject scores,
bootstrap CIs and noise ceilings from a set of subject RDMs.

RDMs are square (n, n), symmetric, with a zero diagonal; comparisons use the upper
triangle (i < j) only. Definitions follow rsatoolbox where it has one:
``compare_rdms(..., "spearman")`` = Pearson correlation of ranks (ties averaged),
``"kendall_tau_a"`` = (concordant − discordant) / (n(n−1)/2) with no tie correction,
``"kendall_tau_b"`` = scipy's tau-b; the noise ceiling's upper bound compares each
subject with the pooled RDM of all subjects, the lower bound with the pooled RDM of
the others (pooled = mean after the transform the method is invariant to: ranks for
rank correlations, z-scores for Pearson, RMS-normalised for cosine).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import pdist, squareform

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix
from repalign.metrics.uncertainty import _percentiles

RDM_METRICS = ("correlation", "cosine", "euclidean", "sqeuclidean")
COMPARISONS = ("spearman", "pearson", "kendall_tau_a", "kendall_tau_b", "cosine")


def rdm(X: Any, metric: str = "correlation") -> np.ndarray:
    """(n, n) dissimilarity matrix of the rows of X (n stimuli × d features).

    correlation: 1 − Pearson r of the feature vectors; cosine: 1 − cosine similarity;
    euclidean: Euclidean distance; sqeuclidean: squared Euclidean distance.
    """
    if metric not in RDM_METRICS:
        raise ValidationError(f"unknown RDM metric {metric!r}; valid: {', '.join(RDM_METRICS)}")
    Xa = feature_matrix(X)
    if Xa.shape[0] < 3:
        raise ValidationError(f"an RDM needs at least 3 stimuli, got {Xa.shape[0]}")
    if metric == "correlation" and np.any(np.ptp(Xa, axis=1) == 0):
        rows = np.flatnonzero(np.ptp(Xa, axis=1) == 0)
        raise ValidationError(f"correlation distance undefined for constant feature row(s) {rows[:10].tolist()}")
    if metric == "cosine" and np.any(~Xa.any(axis=1)):
        rows = np.flatnonzero(~Xa.any(axis=1))
        raise ValidationError(f"cosine distance undefined for all-zero feature row(s) {rows[:10].tolist()}")
    return squareform(pdist(Xa, metric=metric), checks=False)


def check_rdm(D: Any, name: str = "RDM", atol: float = 1e-8) -> np.ndarray:
    """Validate a square, symmetric, finite RDM with a zero diagonal; returns float64."""
    D = np.asarray(D, dtype=np.float64)
    if D.ndim != 2 or D.shape[0] != D.shape[1]:
        raise ValidationError(f"{name}: an RDM must be a square 2-d matrix, got shape {D.shape}")
    if D.shape[0] < 3:
        raise ValidationError(f"{name}: an RDM needs at least 3 stimuli, got {D.shape[0]}")
    if not np.all(np.isfinite(D)):
        raise ValidationError(f"{name}: {int((~np.isfinite(D)).sum())} non-finite entries")
    scale = max(1.0, float(np.abs(D).max()))
    asym = np.abs(D - D.T).max()
    if asym > atol * scale:
        i, j = np.unravel_index(np.argmax(np.abs(D - D.T)), D.shape)
        raise ValidationError(f"{name}: not symmetric (entry [{i},{j}] = {D[i, j]} but [{j},{i}] = {D[j, i]})")
    if np.abs(np.diag(D)).max() > atol * scale:
        raise ValidationError(f"{name}: diagonal must be zero (max |diag| = {np.abs(np.diag(D)).max()})")
    return D


def upper(D: np.ndarray) -> np.ndarray:
    """Upper-triangle vector (i < j, row-major) of a square matrix."""
    i, j = np.triu_indices(D.shape[0], 1)
    return D[i, j]


def _tau_a(x: np.ndarray, y: np.ndarray) -> float:
    # tau-b's numerator (concordant − discordant) is unaffected by the tie correction,
    # so tau-a = tau-b · sqrt((n0 − n1)(n0 − n2)) / n0 with n1, n2 the pairs tied in x, y.
    n = x.size
    n0 = n * (n - 1) / 2
    tau_b = stats.kendalltau(x, y, variant="b").statistic
    ties = [np.sum(c * (c - 1) / 2) for c in (np.unique(x, return_counts=True)[1], np.unique(y, return_counts=True)[1])]
    return float(tau_b * np.sqrt((n0 - ties[0]) * (n0 - ties[1])) / n0)


def compare_vectors(a: np.ndarray, b: np.ndarray, method: str = "spearman") -> float:
    """Compare two dissimilarity vectors (same length)."""
    if method not in COMPARISONS:
        raise ValidationError(f"unknown RDM comparison {method!r}; valid: {', '.join(COMPARISONS)}")
    if method == "spearman":
        return float(np.corrcoef(stats.rankdata(a), stats.rankdata(b))[0, 1])
    if method == "pearson":
        return float(np.corrcoef(a, b)[0, 1])
    if method == "kendall_tau_b":
        return float(stats.kendalltau(a, b, variant="b").statistic)
    if method == "kendall_tau_a":
        return _tau_a(a, b)
    return float(a @ b / np.sqrt((a @ a) * (b @ b)))


def compare_rdms(a: Any, b: Any, method: str = "spearman") -> float:
    """Similarity of two RDMs (n, n) over their upper triangles: spearman | pearson |
    kendall_tau_a | kendall_tau_b | cosine."""
    A, B = check_rdm(a, "first RDM"), check_rdm(b, "second RDM")
    if A.shape != B.shape:
        raise ValidationError(f"RDMs differ in size: {A.shape} vs {B.shape}")
    return compare_vectors(upper(A), upper(B), method)


def _subject_stack(subject_rdms: Any) -> np.ndarray:
    R = np.asarray(subject_rdms, dtype=np.float64)
    if R.ndim != 3:
        raise ValidationError(f"subject RDMs must have shape (n_subjects, n, n), got {R.shape}")
    for s in range(R.shape[0]):
        check_rdm(R[s], f"subject RDM {s}")
    return R


def rsa_scores(model_rdm: Any, subject_rdms: Any, method: str = "spearman") -> np.ndarray:
    """Per-subject similarity (n_subjects,) of a model RDM (n, n) to each subject RDM (s, n, n)."""
    M = check_rdm(model_rdm, "model RDM")
    R = _subject_stack(subject_rdms)
    if R.shape[1:] != M.shape:
        raise ValidationError(f"model RDM is {M.shape} but subject RDMs are {R.shape[1:]}")
    m = upper(M)
    return np.array([compare_vectors(m, upper(r), method) for r in R])


def _pool(vectors: np.ndarray, method: str) -> np.ndarray:
    """The pooled RDM vector that best represents a group under ``method``."""
    if method in ("spearman", "kendall_tau_a", "kendall_tau_b"):
        v = np.apply_along_axis(stats.rankdata, 1, vectors)
    elif method == "pearson":
        v = (vectors - vectors.mean(axis=1, keepdims=True)) / vectors.std(axis=1, keepdims=True)
    else:
        v = vectors / np.sqrt(np.mean(vectors**2, axis=1, keepdims=True))
    return v.mean(axis=0)


def rsa_noise_ceiling(subject_rdms: Any, method: str = "spearman") -> tuple[float, float]:
    """(lower, upper) noise ceiling: mean similarity of each subject RDM to the pooled RDM
    of the other subjects (lower) and of all subjects (upper)."""
    R = _subject_stack(subject_rdms)
    if R.shape[0] < 2:
        raise ValidationError("a noise ceiling needs at least 2 subject RDMs")
    V = np.stack([upper(r) for r in R])
    pooled = _pool(V, method)
    lower, upper_ = [], []
    for s in range(V.shape[0]):
        others = _pool(np.delete(V, s, axis=0), method)
        lower.append(compare_vectors(others, V[s], method))
        upper_.append(compare_vectors(pooled, V[s], method))
    return float(np.mean(lower)), float(np.mean(upper_))


@dataclass(frozen=True)
class RSAResult:
    """Mean per-subject RSA score with a bootstrap CI and the noise ceiling."""

    value: float
    ci_low: float
    ci_high: float
    scores: np.ndarray  # (n_subjects,)
    ceiling_low: float
    ceiling_high: float
    method: str
    bootstrap: str

    def as_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"subject": np.arange(self.scores.size), "score": self.scores})


def rsa(
    model_rdm: Any,
    subject_rdms: Any,
    method: str = "spearman",
    bootstrap: str = "subjects",
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    variant: str = "default",
) -> RSAResult:
    """RSA score of a model against subject RDMs with a percentile bootstrap CI.

    variant="default": the mean of the per-subject scores (each subject's RDM compared
    with the model's). variant="published": the model RDM compared with the
    group-average RDM (the plain mean of the subject RDMs), as Muttenthaler et al.
    (2023) do — LukasMut/human_alignment ``data/multi_arrangement.py`` averages the
    participants' RDMs and ``utils/evaluation/helpers.py`` ``perform_rsa`` correlates
    the upper triangles with ``thingsvision.core.rsa.correlate_rdms`` (scipy's
    spearmanr / pearsonr). ``scores`` holds the per-subject scores in both variants.

    bootstrap="subjects" resamples subjects (generalisation to new subjects; for the
    published variant the resampled subjects' RDMs are averaged again); "stimuli"
    resamples stimuli with replacement and recomputes the score on the resampled RDMs,
    dropping the zero-distance pairs a stimulus makes with its own copies
    (generalisation to new stimuli); "none" gives no CI. The noise ceiling is that of
    per-subject scores (an upper bound for the default variant; the group-average
    score can exceed it).
    """
    if bootstrap not in ("subjects", "stimuli", "none"):
        raise ValidationError(f"unknown bootstrap {bootstrap!r}; valid: subjects, stimuli, none")
    check_variant(variant, "RSA")
    M = check_rdm(model_rdm, "model RDM")
    R = _subject_stack(subject_rdms)
    scores = rsa_scores(M, R, method)
    lo_c, hi_c = rsa_noise_ceiling(R, method) if R.shape[0] >= 2 else (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    if variant == "published":
        return _rsa_group(M, R, scores, method, bootstrap, n_boot, level, rng, lo_c, hi_c)
    if bootstrap == "subjects" and R.shape[0] >= 2:
        idx = rng.integers(0, scores.size, size=(n_boot, scores.size))
        lo, hi = _percentiles(scores[idx].mean(axis=1), level)
    elif bootstrap == "stimuli":
        n = M.shape[0]
        boots = np.empty(n_boot)
        iu = np.triu_indices(n, 1)
        for b in range(n_boot):
            s = rng.integers(0, n, n)
            i, j = s[iu[0]], s[iu[1]]
            keep = i != j  # pairs of a stimulus with itself carry no information
            m = M[i[keep], j[keep]]
            boots[b] = np.mean([compare_vectors(m, r[i[keep], j[keep]], method) for r in R])
        lo, hi = _percentiles(boots[np.isfinite(boots)], level)
    else:
        lo, hi = np.nan, np.nan
    return RSAResult(float(scores.mean()), lo, hi, scores, lo_c, hi_c, method, bootstrap)


def _rsa_group(M, R, scores, method, bootstrap, n_boot, level, rng, lo_c, hi_c) -> RSAResult:
    """The published variant: compare the model RDM with the mean subject RDM."""
    m = upper(M)
    V = np.stack([upper(r) for r in R])  # (subjects, pairs)
    value = compare_vectors(m, V.mean(axis=0), method)
    lo, hi = np.nan, np.nan
    if bootstrap == "subjects" and R.shape[0] >= 2:
        idx = rng.integers(0, V.shape[0], size=(n_boot, V.shape[0]))
        boots = np.array([compare_vectors(m, V[i].mean(axis=0), method) for i in idx])
        lo, hi = _percentiles(boots[np.isfinite(boots)], level)
    elif bootstrap == "stimuli":
        G = R.mean(axis=0)
        n = M.shape[0]
        iu = np.triu_indices(n, 1)
        boots = np.empty(n_boot)
        for b in range(n_boot):
            s = rng.integers(0, n, n)
            i, j = s[iu[0]], s[iu[1]]
            keep = i != j
            boots[b] = compare_vectors(M[i[keep], j[keep]], G[i[keep], j[keep]], method)
        lo, hi = _percentiles(boots[np.isfinite(boots)], level)
    return RSAResult(float(value), lo, hi, scores, lo_c, hi_c, method, bootstrap)
