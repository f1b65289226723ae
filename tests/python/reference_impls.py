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
        aug = lambda A: np.c_[sc.transform(A), np.ones(len(A))]  # noqa: E731
        m = clone(base).fit(aug(X[rows]), y[rows])
        out[i] = m.predict_proba(aug(X[i : i + 1]))[0]
    return out
