"""Fast kernels of the published category learner (``repalign.learners._published``):
one pass's in-place standardisation in O(T·d) instead of O(T²·d), and liblinear's
fit on an n-column orthogonal reduction of the design instead of its d + 1 columns.

Source of the method they reproduce: Demircan et al. (2024), candemircan/naturalcogsci,
``naturalcogsci/learners.py`` (CategoryLearner.fit: standardise rows 0..t of the
feature array in place, refit) and ``bin/run_learners.py`` (the C search); the solver
is scikit-learn's bundled liblinear (Fan et al. 2008, JMLR 9:1871; trust-region Newton,
Lin, Weng & Keerthi 2008, JMLR 9:627), called unchanged.

**The pass in closed form.** At step t of a pass (both categories seen among trials
0..t) the seed standardises rows 0..t of the array by their own mean and population
s.d. Rows 0..t−1 were standardised at step t−1, so (in exact arithmetic) they have
mean 0 and variance 1 in every column, and with x = row t (as the pass found it)
the step's statistics are

    μ_t = x / (t+1),    σ_t² = (t·(1 + μ_t²) + (x − μ_t)²) / (t+1),

O(d) per step. Each step is an affine map per column, so the value of row i at step
t is a_t·v_i + b_t, with (a_t, b_t) the composition of the steps so far and v_i
row i pulled back through the steps before it joined.

**Where numpy's rounding decides.** Each pass starts every column in numpy's own
arithmetic (rows added in numpy's order, bit for bit) and hands it to the closed form
at its first *healthy* step (s.d. ≥ ``HEALTHY`` · max|value|); the first step of a
pass on the caller's values is exact, and so are steps on all-equal rows (e.g. 0 in
a sparse embedding, where numpy's rounded mean decides whether the s.d. is exactly 0
→ 1). But the seed's passes also manufacture such rows: a raw row far from the
standardised ones (|x| ≫ 1) shrinks the earlier rows by ~|x|/√t at each step, and
after a pass of them the first rows of a column can agree to the last bit — the next
pass's first step then divides rounding residue by rounding residue, and its result
is the rounding of every earlier pass. A dry run of all passes (``unsafe_columns``)
finds these columns (an unhealthy step in a pass after the first) and they are
computed in numpy's arithmetic throughout, by the bit-exact kernel
(``standardise_rows``). Elsewhere the statistics differ from numpy's by round-off
(~1e-16 relative), so the learner's outputs match the seed's to ~1e-13
(tests/python/test_learners_published.py).

**The fit in n ≤ T coordinates.** liblinear's primal trust-region Newton method for
L2-regularised logistic regression (``-s 0``; the intercept is an extra feature of
value 1, penalised like a weight) starts from w = 0 and uses only inner products,
norms and products with X̃ = [X, 1] and X̃ᵀ; every iterate lies in the row space of
X̃. With X̃ᵀ = QR (thin QR, Q (d+1, n) orthonormal), Z = X̃Q = Rᵀ is n × n and the
problem in z (w = Qz) has the same objective values, gradient norms, conjugate-
gradient steps and trust-region radii, so liblinear takes the same steps and stops
at the same iteration; w = Qz equals the full fit up to round-off.
"""

from __future__ import annotations

import warnings

import numpy as np
from numba import njit
from scipy.linalg import lapack

__all__ = [
    "PassState",
    "begin",
    "first_step",
    "liblinear_fit",
    "materialise",
    "run_pass",
    "search_pass",
    "standardise_rows",
    "step",
    "unsafe_columns",
]

_TOL = 1e-4  # LogisticRegression's default tol, which the seed keeps
_MAX_ITER = 5000  # run_learners.py passes max_iter=5000
_L2R_LR = 0  # liblinear's solver type for penalty="l2", dual=False, logistic loss


@njit(cache=True, nogil=True)
def standardise_rows(X, n):
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
def search_pass(X, y):
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
            standardise_rows(X, t + 1)
            fitted = t + 1
    return fitted


#: a standardising step computed as numpy does is "healthy" (its columns may go on in
#: closed form) when its s.d. is at least this share of the largest |value|: numpy's
#: rounded mean is then off by < 1e-13 of the spread, so the standardised rows have
#: mean 0 and variance 1 to round-off, which the closed form assumes
HEALTHY = 1e-3


@njit(cache=True, nogil=True)
def first_step(y):
    """The first step t0 of a pass (both categories among trials 0..t0); −1: none."""
    has0 = False
    has1 = False
    for t in range(y.shape[0]):
        has0 = has0 or y[t] == 0
        has1 = has1 or y[t] == 1
        if has0 and has1:
            return t
    return -1


class PassState:
    """One pass's bookkeeping over an array X (T, d), all (T, d) or (d,) float64:
    E (exact current values of the columns computed as numpy does), V, a, b (the
    closed-form columns: row i ≤ t holds a·V[i] + b), mode (0 numpy, 1 closed form),
    force (columns kept in numpy's arithmetic for the whole pass), mu, sd (the last
    step's statistics), unsafe (columns whose rounding decides the result, see step)."""

    def __init__(self, T: int, d: int, force: np.ndarray | None = None):
        self.E = np.zeros((T, d))
        self.V = np.zeros((T, d))
        self.a = np.ones(d)
        self.b = np.zeros(d)
        self.mode = np.zeros(d, dtype=np.int8)
        self.force = np.zeros(d, dtype=np.bool_) if force is None else force
        self.mu = np.zeros(d)
        self.sd = np.ones(d)
        self.unsafe = np.zeros(d, dtype=np.bool_)

    def arrays(self):
        return self.E, self.V, self.a, self.b, self.mode, self.force, self.mu, self.sd, self.unsafe


@njit(cache=True, nogil=True)
def begin(X, t0, E, V, a, b, mode, force, mu, sd, unsafe):
    """Start a pass: every column in numpy's arithmetic, rows 0..t0−1 as found."""
    d = X.shape[1]
    for k in range(d):
        mode[k] = 0
        a[k] = 1.0
        b[k] = 0.0
        mu[k] = 0.0
        sd[k] = 1.0
    for i in range(t0):
        for k in range(d):
            E[i, k] = X[i, k]


@njit(cache=True, nogil=True)
def step(X, t, later, E, V, a, b, mode, force, mu, sd, unsafe):
    """Step t of a pass (t ≥ t0): rows 0..t of every column standardised by their
    mean and population s.d. (0 → 1); row t enters as X[t] (the pass's input).

    Columns in numpy's arithmetic (the first step of a pass, and any step whose rows
    are all equal or nearly so) add rows in numpy's order, bit for bit. A healthy
    such step (s.d. ≥ HEALTHY · max|value|) hands the column to the closed form
    (module docstring) unless forced. An unhealthy one in a pass that did not start
    from the caller's own values (later = True) marks the column unsafe: its result
    is the rounding of earlier passes, amplified, which only numpy's arithmetic from
    the start reproduces (all-zero rows excepted: they stay exactly 0)."""
    d = X.shape[1]
    n = t + 1
    for k in range(d):
        x = X[t, k]
        if mode[k] == 0:
            E[t, k] = x
            acc = E[0, k]
            big = abs(E[0, k])
            for i in range(1, n):
                acc += E[i, k]
                big = max(big, abs(E[i, k]))
            m = acc / n
            q = E[0, k] - m
            var = q * q
            for i in range(1, n):
                q = E[i, k] - m
                var += q * q
            r = np.sqrt(var / n)
            rr = 1.0 if r == 0 else r
            for i in range(n):
                E[i, k] = (E[i, k] - m) / rr
            mu[k] = m
            sd[k] = rr
            healthy = r > 0 and r >= HEALTHY * big
            if not healthy and later and big > 0:
                unsafe[k] = True
            if healthy and not force[k]:
                for i in range(n):
                    V[i, k] = E[i, k]
                a[k] = 1.0
                b[k] = 0.0
                mode[k] = 1
        else:
            # rows 0..t−1: mean 0, variance 1 (standardised by step t−1); row t: x
            m = x / n
            q = x - m
            r = np.sqrt((t * (1.0 + m * m) + q * q) / n)
            V[t, k] = (x - b[k]) / a[k]
            a[k] = a[k] / r
            b[k] = (b[k] - m) / r
            mu[k] = m
            sd[k] = r


@njit(cache=True, nogil=True)
def materialise(t, E, V, a, b, mode, out):
    """Rows 0..t of the array at the current step into out (≥ t+1, d+1) C-ordered,
    with out[i, d] = 1 (liblinear's intercept feature)."""
    d = E.shape[1]
    for i in range(t + 1):
        for k in range(d):
            out[i, k] = E[i, k] if mode[k] == 0 else a[k] * V[i, k] + b[k]
        out[i, d] = 1.0


@njit(cache=True, nogil=True)
def run_pass(X, y, later, E, V, a, b, mode, force, mu, sd, unsafe, buf):
    """A whole pass without fits: X (T, d) changed in place as the seed's pass changes
    it (also left in buf (T, d+1) with the intercept column); returns t0 (−1: no
    step, X unchanged)."""
    T, d = X.shape
    t0 = first_step(y)
    if t0 < 0:
        return t0
    begin(X, t0, E, V, a, b, mode, force, mu, sd, unsafe)
    for t in range(t0, T):
        step(X, t, later, E, V, a, b, mode, force, mu, sd, unsafe)
    materialise(T - 1, E, V, a, b, mode, buf)
    for i in range(T):
        for k in range(d):
            X[i, k] = buf[i, k]
    return t0


def unsafe_columns(X: np.ndarray, y: np.ndarray, n_passes: int) -> np.ndarray:
    """(d,) bool: the columns of X (T, d) to keep in numpy's arithmetic over n_passes
    passes on one array (a dry run: passes without fits, X not changed)."""
    T, d = X.shape
    X = np.array(X, dtype=np.float64, order="C", copy=True)
    st = PassState(T, d)
    buf = np.empty((T, d + 1))
    for p in range(n_passes):
        run_pass(X, y, p > 0, *st.arrays(), buf)
    return st.unsafe


def liblinear_fit(Xt: np.ndarray, yf: np.ndarray, C: float) -> np.ndarray:
    """The fit ``LogisticRegression(C=C, solver="liblinear", max_iter=5000).fit`` makes
    (scikit-learn's ``svm._base._fit_liblinear``: same solver type, tol, C, weights)
    on X̃ = Xt (n, d+1) C-ordered float64 whose last column is the intercept feature 1
    (liblinear's bias=1 appends exactly that column); yf (n,) float64 0/1 with both
    classes. Xt is overwritten. Returns w (d+1,): coef = w[:d], intercept = w[d].

    n < d+1: solved on Z = Rᵀ (n, n) from the thin QR X̃ᵀ = QR and mapped back,
    w = Qz (module docstring); otherwise on X̃ itself."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import _liblinear

    n, p = Xt.shape
    _liblinear.set_verbosity_wrap(0)  # a process-wide switch: keep liblinear quiet, as scikit-learn does
    if n >= p:
        Z = Xt
    else:
        # X̃ᵀ (p, n) is Xt's memory in Fortran order: LAPACK factors it without a copy
        qr, tau, _, info = lapack.dgeqrf(Xt.T, lwork=64 * n, overwrite_a=1)
        if info != 0:
            raise RuntimeError(f"LAPACK dgeqrf failed (info={info})")
        Z = np.ascontiguousarray(np.triu(qr[:n, :n]).T)
    raw, n_iter = _liblinear.train_wrap(
        Z, yf, False, _L2R_LR, _TOL, -1.0, float(C), np.ones(2), _MAX_ITER, 0, 0.1, np.ones(n)
    )
    if max(n_iter) >= _MAX_ITER:
        warnings.warn(
            "Liblinear failed to converge, increase the number of iterations.", ConvergenceWarning, stacklevel=2
        )
    if n >= p:
        return raw[0].copy()
    zf = np.zeros((p, 1), order="F")
    zf[:n, 0] = raw[0]
    w, _, info = lapack.dormqr("L", "N", qr, tau, zf, lwork=64 * max(n, 1), overwrite_c=1)
    if info != 0:
        raise RuntimeError(f"LAPACK dormqr failed (info={info})")
    return w[:, 0]
