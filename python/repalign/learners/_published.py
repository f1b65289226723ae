"""The learners exactly as Demircan et al. (2024) ran them (``variant="published"``).

Source: candemircan/naturalcogsci, ``naturalcogsci/learners.py`` (CategoryLearner,
RewardLearner) and ``bin/run_learners.py`` (``fit_regulariser`` and the script
body). Re-implemented here from a reading of that code; every fit is the same
scikit-learn call the seed makes, because the seed's fits stop at scikit-learn's
default tolerance and repalign's fast kernels (solved to ~1e-6 in the logits)
would not reproduce its numbers to 1e-6.

What the published category pipeline does, step by step (T trials, d features):

* One *pass* over a task (the seed's ``CategoryLearner.fit``): first a fit on two
  all-zero pseudo-observations of classes 0 and 1 (so trial 1 gets P = 0.5).
  Then at each trial t (0-based): predict x_t, standardised by the statistics of
  the last fit (mean 0, s.d. 1 before any fit); if both categories occur among
  trials 0..t, compute the mean and population s.d. (s.d. exactly 0 → 1) of the
  rows 0..t of the *feature array itself*, standardise those rows **in place**,
  and refit on them. Rows 0..t−1 were already standardised by the previous
  trial, so every fit standardises a mix of standardised rows and one raw row,
  and the array keeps the changes after the pass.
* The C search (``fit_regulariser``): one pass per C of the grid, in grid order,
  all on the same array — each pass starts from the array the previous one left.
  A C is kept when the last fit's training accuracy on the array as left by its
  pass is strictly higher than the best so far (start: accuracy 0, C = 1), so
  ties go to the first C.
* The final pass with the chosen C, again on that same array (with
  ``transform="pca"``: on ``PCA(k).fit_transform`` of the array as left by the
  search, i.e. a new array fitted on the trials' rows, repeats included).

The reward learner has no such side effect (its training rows are copies); per
trial it standardises the 2t option rows of trials 0..t−1 (s.d. exactly 0 → 1)
and refits ``BayesianRidge()`` (or ``ARDRegression()``); with ``transform="pca"``
the features are first replaced by ``PCA(k).fit_transform`` of the task's 2T
option rows (trial-major, left before right).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["PUBLISHED_C_GRID", "category_pass", "published_category", "published_reward", "seed_pca"]

#: ``fit_regulariser``'s grid, in its order (17 values)
PUBLISHED_C_GRID = (0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 10.0, 15.0, 20.0)
_MAX_ITER = 5000  # run_learners.py passes max_iter=5000 (tol left at scikit-learn's default)


def _logreg(C: float):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=float(C), solver="liblinear", max_iter=_MAX_ITER)


def _scale_stats(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population s.d. over rows, an s.d. of exactly 0 replaced by 1 (the
    seed's rule; scikit-learn's StandardScaler also treats near-constant as constant)."""
    mu = rows.mean(axis=0)
    sd = rows.std(axis=0)
    return mu, np.where(sd == 0, 1, sd)


# --- the fast path ------------------------------------------------------------------------------
# Why it is faster yet equal: today's pass (kept as ``ref_published_category`` in
# tests/python/reference_impls.py) spends most of its time around the fits, not in
# them — numpy's mean/std/in-place updates over rows 0..t (18 passes × 120 trials),
# and scikit-learn's input checks on each of ~137 fits and ~120 one-row predictions.
# Here the in-place standardisation runs in one numba loop that adds the rows in
# numpy's order (a reduction over axis 0 of a C-ordered array adds row after row),
# so the array evolves bit for bit as before; each fit is the very liblinear call
# LogisticRegression(solver="liblinear").fit makes (same data, solver type, tol,
# bias, C, weights), minus the checks; a prediction is the same dot product and
# expit scikit-learn's predict_proba computes.

_TOL = 1e-4  # LogisticRegression's default tol, which the seed keeps
_L2R_LR = 0  # liblinear's solver type for penalty="l2", dual=False, logistic loss


@njit(cache=True, nogil=True)
def _standardise_rows(X, n):
    """Rows 0..n−1 of X standardised in place by their own mean and population s.d.
    (s.d. exactly 0 → 1), as ``rows -= mu; rows /= sd`` with numpy's mean/std;
    returns (mu, sd) (d,). (Statistics in local arrays: LLVM then knows they do not
    alias X and vectorises the loops over features.)"""
    d = X.shape[1]
    mu = np.empty(d)
    v = np.empty(d)
    sd = np.empty(d)
    for k in range(d):
        mu[k] = X[0, k]
    for i in range(1, n):
        for k in range(d):
            mu[k] += X[i, k]
    for k in range(d):
        mu[k] = mu[k] / n
    for k in range(d):
        q = X[0, k] - mu[k]
        v[k] = q * q
    for i in range(1, n):
        for k in range(d):
            q = X[i, k] - mu[k]
            v[k] += q * q
    for k in range(d):
        s = np.sqrt(v[k] / n)
        sd[k] = 1.0 if s == 0 else s
    for i in range(n):
        for k in range(d):
            X[i, k] = (X[i, k] - mu[k]) / sd[k]
    return mu, sd


@njit(cache=True, nogil=True)
def _search_pass(X, y):
    """The array changes of one pass without its fits (X modified in place, y (T,)
    int 0/1); returns the number of rows of the pass's last fit (0: none)."""
    T = X.shape[0]
    has0 = False
    has1 = False
    fitted = 0
    for t in range(T):
        has0 = has0 or y[t] == 0
        has1 = has1 or y[t] == 1
        if has0 and has1:
            _standardise_rows(X, t + 1)
            fitted = t + 1
    return fitted


def _fit(X: np.ndarray, yf: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    """liblinear as ``LogisticRegression(C=C, solver="liblinear", max_iter=5000).fit(X, y)``
    calls it (scikit-learn's ``svm._base._fit_liblinear``): X (n, d) C-ordered float64,
    yf (n,) float64 0/1 holding both classes. Returns (coef (1, d), intercept (1,))."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import _liblinear

    n = X.shape[0]
    _liblinear.set_verbosity_wrap(0)  # a process-wide switch: keep liblinear quiet, as scikit-learn does
    raw, n_iter = _liblinear.train_wrap(X, yf, False, _L2R_LR, _TOL, 1.0, float(C), np.ones(2), _MAX_ITER, 0, 0.1,
                                        np.ones(n))
    if max(n_iter) >= _MAX_ITER:
        warnings.warn("Liblinear failed to converge, increase the number of iterations.", ConvergenceWarning)
    return raw[:, :-1], raw[:, -1]


def category_pass(X: np.ndarray, y: np.ndarray, C: float, predict: bool = True):
    """One pass of the seed's category learner over X (T, d) C-ordered float64,
    **modified in place** as the seed modifies it; y (T,) int 0/1. Returns
    (P(category 1) per trial (T,) or None, (coef (1, d), intercept (1,)) of the last fit).

    predict=False (the C search, which needs only the changed array and the last
    fit): the in-place standardisation depends on X and y alone, not on any fit,
    so only the last fit is made — the same array and the same last fit as the
    seed's pass, with 1 instead of ~T liblinear fits.
    """
    from scipy.special import expit

    T, d = X.shape
    yf = y.astype(np.float64)
    pair = np.array([0.0, 1.0])
    if not predict:
        fitted = _search_pass(X, y)
        if fitted:
            return None, _fit(X[:fitted], yf[:fitted], C)
        return None, _fit(np.zeros((2, d)), pair, C)
    p = np.empty(T)
    coef, icpt = _fit(np.zeros((2, d)), pair, C)
    mu, sd = np.zeros(d), np.ones(d)
    has0 = has1 = False
    for t in range(T):
        # predict_proba of the row standardised by the last fit's statistics (a copy)
        z = (X[t] - mu) / sd
        p[t] = expit(z.reshape(1, -1) @ coef.T + icpt)[0, 0]
        has0, has1 = has0 or y[t] == 0, has1 or y[t] == 1
        if has0 and has1:
            mu, sd = _standardise_rows(X, t + 1)
            coef, icpt = _fit(X[: t + 1], yf[: t + 1], C)
    return p, (coef, icpt)


def _train_accuracy(X: np.ndarray, y: np.ndarray, fit) -> float:
    """LogisticRegression.score: the share of rows whose decision value > 0 matches y."""
    coef, icpt = fit
    pred = ((X @ coef.T + icpt).reshape(-1) > 0).astype(np.int64)
    return float(np.average(pred == y))


def seed_pca(X: np.ndarray, k: int) -> np.ndarray:
    """``PCA(n_components=k).fit_transform`` on the rows as given (the seed's
    transform="pca"; scikit-learn's default solver choice, as the seed)."""
    from sklearn.decomposition import PCA

    return PCA(n_components=int(k)).fit_transform(X)


def published_category(X: np.ndarray, y: np.ndarray, grid=PUBLISHED_C_GRID, C: float | None = None,
                       pca: int | None = None) -> tuple[np.ndarray, float]:
    """The published category pipeline on one task: X (T, d) features in trial
    order (copied, never changed), y (T,) 0/1. With ``C`` given: one pass at that C
    (no search). Otherwise the search over ``grid`` then the final pass. Returns
    (P(category 1) (T,), chosen C). Equal to today's scikit-learn loop
    (``ref_published_category``, tests/python/reference_impls.py) to ~1e-15
    (tests/python/test_learners_published.py; bench/published_category.py)."""
    X = np.array(X, dtype=np.float64, order="C", copy=True)
    y = np.asarray(y).astype(np.int64)
    if C is None:
        best_score, C = 0.0, 1.0  # the seed's starting point
        for c in grid:
            _, fit = category_pass(X, y, float(c), predict=False)
            score = _train_accuracy(X, y, fit)  # on the array as this pass left it
            if score > best_score:
                best_score, C = score, float(c)
    if pca is not None:
        X = np.ascontiguousarray(seed_pca(X, pca), dtype=np.float64)
    p, _ = category_pass(X, y, float(C))
    return p, float(C)


def published_reward(X: np.ndarray, R: np.ndarray, ard: bool = False, pca: int | None = None) -> np.ndarray:
    """The seed's reward learner on one task: X (T, 2, d) option features, R (T, 2)
    rewards → values (T, 2) (0 on the first trial)."""
    from sklearn.linear_model import ARDRegression, BayesianRidge

    T, _, d = X.shape
    X = np.asarray(X, dtype=np.float64)
    if pca is not None:
        X = seed_pca(X.reshape(2 * T, d), pca).reshape(T, 2, -1)
        d = X.shape[2]
    out = np.zeros((T, 2))
    est = None
    mu, sd = np.zeros(d), np.ones(d)
    for t in range(T):
        if est is not None:
            out[t] = est.predict((X[t] - mu) / sd)
        # training rows: all left options of trials 0..t, then all right options
        rows = np.concatenate([X[: t + 1, 0], X[: t + 1, 1]], axis=0)
        target = np.concatenate([R[: t + 1, 0], R[: t + 1, 1]], axis=0)
        mu, sd = _scale_stats(rows)
        est = (ARDRegression() if ard else BayesianRidge()).fit((rows - mu) / sd, target)
    return out
