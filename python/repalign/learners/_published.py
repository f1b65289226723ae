"""The learners exactly as Demircan et al. (2024) ran them (``variant="published"``).

Source: candemircan/naturalcogsci, ``naturalcogsci/learners.py`` (CategoryLearner,
RewardLearner) and ``bin/run_learners.py`` (``fit_regulariser`` and the script
body). Re-implemented here from a reading of that code; every fit runs the solver
the seed's scikit-learn call runs (its bundled liblinear, same settings), because the
seed's fits stop at scikit-learn's default tolerance and repalign's fast kernels
(solved to ~1e-6 in the logits) would not reproduce its numbers to 1e-6. How the
fast path gets the same numbers sooner: ``repalign.learners._published_pass``.

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
# Today's pass (kept as ``ref_published_category`` in tests/python/reference_impls.py)
# standardises rows 0..t with numpy at every step (O(T²·d) per pass, 18 passes per task)
# and fits liblinear on all d + 1 columns. Here a pass's standardisation is O(T·d)
# bookkeeping (closed-form statistics, exact where rounding decides; _published_pass)
# and each fit runs the same liblinear solver on an n-column orthogonal reduction of
# the design, which takes the same steps (_published_pass docstring); a prediction is
# the dot product and expit scikit-learn's predict_proba computes.


def _fit(Xt: np.ndarray, yf: np.ndarray, C: float) -> tuple[np.ndarray, np.ndarray]:
    """liblinear as ``LogisticRegression(C=C, solver="liblinear", max_iter=5000).fit``
    calls it, on Xt (n, d+1) C-ordered with a last column of 1 (overwritten); yf (n,)
    float64 0/1 holding both classes. Returns (coef (1, d), intercept (1,))."""
    from repalign.learners._published_pass import liblinear_fit

    w = liblinear_fit(Xt, yf, C)
    return w[None, :-1], w[-1:]


def _pair_fit(d: int, C: float):
    """The seed's first fit: two all-zero rows of classes 0 and 1."""
    Xt = np.zeros((2, d + 1))
    Xt[:, d] = 1.0
    return _fit(Xt, np.array([0.0, 1.0]), C)


#: below this width a pass standardises with numpy's arithmetic, bit for bit (see category_pass)
EXACT_BELOW = 128


def category_pass(
    X: np.ndarray,
    y: np.ndarray,
    C: float,
    predict: bool = True,
    exact: bool | None = None,
    force: np.ndarray | None = None,
    later: bool = False,
):
    """One pass of the seed's category learner over X (T, d) C-ordered float64,
    **modified in place** as the seed modifies it; y (T,) int 0/1. Returns
    (P(category 1) per trial (T,) or None, (coef (1, d), intercept (1,)) of the last fit).

    predict=False (the C search, which needs only the changed array and the last
    fit): the in-place standardisation depends on X and y alone, not on any fit,
    so only the last fit is made — the same array and the same last fit as the
    seed's pass, with 1 instead of ~T liblinear fits.

    exact (None: d < EXACT_BELOW): standardise rows 0..t at every step as numpy does,
    bit for bit (O(T²·d)), instead of the O(T·d) closed form. Narrow features need it:
    once t + 1 ≥ d + 1 liblinear runs on the very columns the seed gives it, and
    liblinear's stopping tests (a reduction f − f_new compared with 1e-12·|f|) can
    turn a round-off difference in the data into a different last iteration (|ΔP| up
    to ~1e-5 on SPoSE-49 at C = 20); bit-equal data keep it bit-equal.

    force (d,) bool: columns kept in numpy's arithmetic throughout (the closed form
    otherwise; ``_published_pass.unsafe_columns``); later: the pass does not start
    from the caller's own values (an earlier pass changed them).
    """
    from scipy.special import expit

    from repalign.learners._published_pass import (
        PassState,
        begin,
        first_step,
        materialise,
        run_pass,
        search_pass,
        standardise_rows,
        step,
    )

    T, d = X.shape
    yf = y.astype(np.float64)
    if exact is None:
        exact = d < EXACT_BELOW
    buf = np.empty((T, d + 1))
    buf[:, d] = 1.0
    if exact:
        if not predict:
            fitted = search_pass(X, y)
            if not fitted:
                return None, _pair_fit(d, C)
            buf[:fitted, :d] = X[:fitted]
            return None, _fit(buf[:fitted], yf[:fitted], C)
        p = np.empty(T)
        coef, icpt = _pair_fit(d, C)
        mu, sd = np.zeros(d), np.ones(d)
        has0 = has1 = False
        for t in range(T):
            z = (X[t] - mu) / sd
            p[t] = expit(z.reshape(1, -1) @ coef.T + icpt)[0, 0]
            has0, has1 = has0 or y[t] == 0, has1 or y[t] == 1
            if has0 and has1:
                mu, sd = standardise_rows(X, t + 1)
                buf[: t + 1, :d] = X[: t + 1]
                buf[: t + 1, d] = 1.0
                coef, icpt = _fit(buf[: t + 1], yf[: t + 1], C)
        return p, (coef, icpt)
    # forced columns: numpy's arithmetic by the bit-exact kernel on their own copy (each
    # column's standardisation involves that column alone); the rest in closed form
    hard = np.flatnonzero(force) if force is not None else np.zeros(0, dtype=np.int64)
    free = np.setdiff1d(np.arange(d), hard)
    Xf = np.ascontiguousarray(X[:, hard])
    Xc = X if not len(hard) else np.ascontiguousarray(X[:, free])
    cbuf = buf if not len(hard) else np.empty((T, len(free) + 1))
    st = PassState(T, len(free))

    def merged(t: int) -> np.ndarray:
        """Rows 0..t of the whole array at step t, with the intercept column, in buf."""
        materialise(t, st.E, st.V, st.a, st.b, st.mode, cbuf)
        if len(hard):
            buf[: t + 1, free] = cbuf[: t + 1, :-1]
            buf[: t + 1, hard] = Xf[: t + 1]
            buf[: t + 1, d] = 1.0
        return buf[: t + 1]

    t0 = first_step(y)
    if not predict:
        if t0 < 0:
            return None, _pair_fit(d, C)
        run_pass(Xc, y, later, *st.arrays(), cbuf)
        if len(hard):
            search_pass(Xf, y)
        rows = merged(T - 1)
        X[:] = rows[:, :d]  # the array as the seed's pass leaves it
        return None, _fit(rows, yf, C)
    p = np.empty(T)
    coef, icpt = _pair_fit(d, C)
    mu, sd = np.zeros(d), np.ones(d)
    if t0 >= 0:
        begin(Xc, t0, *st.arrays())
    for t in range(T):
        # predict_proba of the row standardised by the last fit's statistics (a copy)
        z = X[t] if t <= t0 else (X[t] - mu) / sd
        p[t] = expit(z.reshape(1, -1) @ coef.T + icpt)[0, 0]
        if t >= t0 >= 0:
            step(Xc, t, later, *st.arrays())
            if len(hard):
                mu[hard], sd[hard] = standardise_rows(Xf, t + 1)
                mu[free], sd[free] = st.mu, st.sd
            else:
                mu, sd = st.mu, st.sd
            coef, icpt = _fit(merged(t), yf[: t + 1], C)
    if t0 >= 0:
        X[:] = merged(T - 1)[:, :d]
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


def published_category(
    X: np.ndarray,
    y: np.ndarray,
    grid=PUBLISHED_C_GRID,
    C: float | None = None,
    pca: int | None = None,
    exact: bool | None = None,
) -> tuple[np.ndarray, float]:
    """The published category pipeline on one task: X (T, d) features in trial
    order (copied, never changed), y (T,) 0/1. With ``C`` given: one pass at that C
    (no search). Otherwise the search over ``grid`` then the final pass. Returns
    (P(category 1) (T,), chosen C). Equal to today's scikit-learn loop
    (``ref_published_category``, tests/python/reference_impls.py) to ~1e-15
    (tests/python/test_learners_published.py; bench/published_category.py)."""
    from repalign.learners._published_pass import unsafe_columns

    X = np.array(X, dtype=np.float64, order="C", copy=True)
    y = np.asarray(y).astype(np.int64)
    if exact is None:
        exact = X.shape[1] < EXACT_BELOW
    n_passes = (0 if C is not None else len(grid)) + (1 if pca is None else 0)
    # columns whose result is the rounding of earlier passes: numpy's arithmetic throughout
    force = None if exact else unsafe_columns(X, y, n_passes)
    passes = 0
    if C is None:
        best_score, C = 0.0, 1.0  # the seed's starting point
        for c in grid:
            _, fit = category_pass(X, y, float(c), predict=False, exact=exact, force=force, later=passes > 0)
            passes += 1
            score = _train_accuracy(X, y, fit)  # on the array as this pass left it
            if score > best_score:
                best_score, C = score, float(c)
    if pca is not None:
        X = np.ascontiguousarray(seed_pca(X, pca), dtype=np.float64)
        exact = X.shape[1] < EXACT_BELOW  # a new array, a new width
        force, passes = None, 0
    p, _ = category_pass(X, y, float(C), exact=exact, force=force, later=passes > 0)
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
