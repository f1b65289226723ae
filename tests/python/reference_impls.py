"""Plain per-trial scikit-learn references of repalign's batched learners: one
``clone(...).fit`` per trial, no batching, no warm starts. The equivalence tests
(tests/python/test_learners_equivalence.py) check the learners against them and
bench/learners.py times them; both import this one module (bench puts this folder
on ``sys.path``). Not part of the package.

The learners follow Demircan et al. (2024), candemircan/naturalcogsci
``naturalcogsci/learners.py`` (CategoryLearner: liblinear logistic regression per
trial on standardised features; RewardLearner: BayesianRidge per trial), and the
multiclass learner's softmax (repalign.learners.multiclass docstring).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import ARDRegression, BayesianRidge, LogisticRegression
from sklearn.preprocessing import StandardScaler


def _liblinear(C: float, tol: float) -> LogisticRegression:
    return LogisticRegression(C=C, solver="liblinear", tol=tol, max_iter=100000)


def ref_category(X, y, C, tol=1e-10):
    """X (T, d), y (T,) 0/1 → P(category 1) per trial from the trials before it
    (0.5 until both categories are seen). tol: liblinear's (1e-10: solved to the
    optimum; scikit-learn's default 1e-4 stops far from it for large C)."""
    base = _liblinear(C, tol)
    p = np.full(len(y), 0.5)
    for t in range(1, len(y)):
        if len(set(y[:t])) < 2:
            continue
        sc = StandardScaler().fit(X[:t])
        m = clone(base).fit(sc.transform(X[:t]), y[:t])
        p[t] = m.predict_proba(sc.transform(X[t : t + 1]))[0, 1]
    return p


def ref_category_final_accuracy(X, y, C, tol=1e-10):
    """Training accuracy of the fit on all T trials (the reference's rule for choosing C)."""
    sc = StandardScaler().fit(X)
    m = _liblinear(C, tol).fit(sc.transform(X), y)
    return m.score(sc.transform(X), y)


def ref_reward(X, R, ard=False, stride=1):
    """X (T, 2, d), R (T, 2) → values (T, 2) of both options from the option/reward
    pairs before each trial (0 on trial 1). ard: ARDRegression instead of
    BayesianRidge. stride k: only every k-th trial is fitted, the others are NaN
    (for timing on a subset)."""
    T, _, d = X.shape
    base = ARDRegression() if ard else BayesianRidge()
    out = np.full((T, 2), np.nan)
    out[0] = 0
    for t in range(1, T, stride):
        Xt = X[:t].reshape(2 * t, d)
        sc = StandardScaler().fit(Xt)
        out[t] = clone(base).fit(sc.transform(Xt), R[:t].reshape(2 * t)).predict(sc.transform(X[t]))
    return out


def ref_multiclass(X, y, is_train, K, C):
    """Softmax with penalised intercept = multinomial LogisticRegression without
    intercept on [z, 1]; 1/K until every class has been trained on. X (N, d), y (N,)
    class indices, is_train (N,) bool → (N, K) probabilities."""
    base = LogisticRegression(C=C, fit_intercept=False, solver="newton-cg", tol=1e-12, max_iter=10000)
    out = np.full((len(y), K), 1.0 / K)
    train = np.flatnonzero(is_train)
    for i in range(len(y)):
        rows = train[train < i]
        if len(set(y[rows])) < K:
            continue
        sc = StandardScaler().fit(X[rows])

        def aug(A, sc=sc):
            return np.c_[sc.transform(A), np.ones(len(A))]

        m = clone(base).fit(aug(X[rows]), y[rows])
        out[i] = m.predict_proba(aug(X[i : i + 1]))[0]
    return out


# --- the published category learner as repalign ran it before the fast path -----------------
# (repalign.learners._published up to this change: a LogisticRegression per fit, numpy
# mean/std per trial). Kept verbatim as the reference the fast path must equal to 1e-9
# (test_learners_published.py, bench/published_category.py). Source of the method:
# candemircan/naturalcogsci, naturalcogsci/learners.py + bin/run_learners.py.
from repalign.learners._published import PUBLISHED_C_GRID  # noqa: E402


def _published_logreg(C: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=float(C), solver="liblinear", max_iter=5000)


def _published_scale_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population s.d. over rows, an s.d. of exactly 0 replaced by 1 (the
    seed's rule; scikit-learn's StandardScaler also treats near-constant as constant)."""
    mu = rows.mean(axis=0)
    sd = rows.std(axis=0)
    return mu, np.where(sd == 0, 1, sd)


def ref_published_category_pass(X: np.ndarray, y: np.ndarray, C: float, predict: bool = True):
    """One pass of the seed's category learner over X (T, d) float64, **modified in
    place** as the seed modifies it; y (T,) int 0/1. Returns (P(category 1) per trial
    (T,) or None, the last fitted LogisticRegression).

    predict=False (the C search, which needs only the changed array and the last
    fit): the in-place standardisation depends on X and y alone, not on any fit,
    so only the last fit is made — the same array and the same last fit as the
    seed's pass, with 1 instead of ~T liblinear fits.
    """
    T, d = X.shape
    p = np.empty(T) if predict else None
    est = _published_logreg(C).fit(np.zeros((2, d)), np.array([0, 1])) if predict else None
    mu, sd = 0.0, 1.0
    has0 = has1 = False
    fitted = 0
    for t in range(T):
        if predict:
            z = (X[t] - mu) / sd  # a copy: the predicted row itself is not changed here
            p[t] = est.predict_proba(z.reshape(1, -1))[0, 1]
        has0, has1 = has0 or y[t] == 0, has1 or y[t] == 1
        if has0 and has1:
            rows = X[: t + 1]  # a view: standardised in place, as in the seed
            mu, sd = _published_scale_stats(rows)
            rows -= mu
            rows /= sd
            fitted = t + 1
            if predict:
                est = _published_logreg(C).fit(rows, y[: t + 1])
    if not predict:
        est = (
            _published_logreg(C).fit(X[:fitted], y[:fitted])
            if fitted
            else _published_logreg(C).fit(np.zeros((2, d)), np.array([0, 1]))
        )
    return p, est


def _published_seed_pca(X: np.ndarray, k: int) -> np.ndarray:
    """``PCA(n_components=k).fit_transform`` on the rows as given (the seed's
    transform="pca"; scikit-learn's default solver choice, as the seed)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=int(k)).fit_transform(X)


def ref_published_category(
    X: np.ndarray, y: np.ndarray, grid=None, C: float | None = None, pca: int | None = None
) -> tuple[np.ndarray, float]:
    """The published category pipeline on one task: X (T, d) features in trial
    order (copied, never changed), y (T,) 0/1. With ``C`` given: one pass at that C
    (no search). Otherwise the search over ``grid`` then the final pass. Returns
    (P(category 1) (T,), chosen C)."""
    grid = PUBLISHED_C_GRID if grid is None else grid
    X = np.array(X, dtype=np.float64, order="C", copy=True)
    y = np.asarray(y)
    if C is None:
        best_score, C = 0.0, 1.0  # the seed's starting point
        for c in grid:
            _, est = ref_published_category_pass(X, y, float(c), predict=False)
            score = est.score(X, y)  # on the array as this pass left it
            if score > best_score:
                best_score, C = score, float(c)
    if pca is not None:
        X = np.ascontiguousarray(_published_seed_pca(X, pca), dtype=np.float64)
    p, _ = ref_published_category_pass(X, y, float(C))
    return p, float(C)
