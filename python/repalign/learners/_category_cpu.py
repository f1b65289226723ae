"""CPU kernels of the binary category learner (numba; see ``category.py`` for the
semantics).

Why a separate CPU path: the batched torch solver pads every anti-diagonal of
(trial, C) fits to one tensor and streams all of them through memory at every
Newton step, which on a CPU costs more than the arithmetic. Here each participant's
sequence is solved fit by fit with every matrix in cache, participants in
parallel threads (the kernels release the GIL).

Solver: the same dual problem as the torch path,

    min_a ½aᵀKa + C Σ_i log(1 + exp(−ỹ_i (Ka)_i)),   K = Z Zᵀ + 1  (t × t),

solved by lazy Newton (Shamanskii / chord) steps. The step direction in the dual,

    Δa = −(r − S P⁻¹ S K r),   r = a − C(y − p),

is the Newton step when S² = W = C p(1 − p) is current and P = I + S K S; a chord
step keeps an older S and factor P = L Lᵀ. The factor is kept as long as each
step shrinks the previous one by at least ``_REFACTOR_RATIO``; otherwise, or after
a damped step, it is refactorised at the current point (a fresh Newton step).
Steps are line-searched on the objective, except chord steps below 1e-3 that
contract (a step that fails to contract triggers a fresh Newton step instead).
A fit stops after a full step that moved every logit by less than ``tol``; the
chord steps contract with ratio ≤ ``_REFACTOR_RATIO``, so the logits are then
within ~tol/3 of the optimum.

Reuse across fits (why a fit costs ~0.5 factorisations instead of ~4):
- the fit (t, C_r) starts from the better of the fit (t − 1, C_r) extended by the
  new trial's coefficient C(y − p), and the fit (t, C_{r−1}) rescaled by the
  factor that minimises the objective along it (a 1-D convex problem: with more
  dimensions than trials the data are separable, and the logits of a weaker
  penalty's fit mostly grow in scale);
- its first factor is the final factor of the fit (t − 1, C_r), bordered by the new
  trial's row (O(t²) instead of O(t³)). The kernel of the older trials has moved
  a little with the re-standardisation, so this factor is only a preconditioner;
  the contraction test above replaces it when it is not good enough.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from repalign.learners._cpu import standardized

_REFACTOR_RATIO = 0.25


@njit(cache=True, nogil=True, inline="always")
def _softplus(x):
    if x > 0:
        return x + np.log1p(np.exp(-x))
    return np.log1p(np.exp(x))


@njit(cache=True, nogil=True, inline="always")
def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + np.exp(-x))
    e = np.exp(x)
    return e / (1.0 + e)


@njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _chol_solve(L, b):
    """x with L Lᵀ x = b (L lower triangular); L is read row-wise in both sweeps.
    (Reassociation lets the inner products vectorise.)"""
    n = b.shape[0]
    z = np.empty(n)
    for i in range(n):
        s = 0.0
        for j in range(i):
            s += L[i, j] * z[j]
        z[i] = (b[i] - s) / L[i, i]
    for i in range(n - 1, -1, -1):
        z[i] /= L[i, i]
        xi = z[i]
        for j in range(i):
            z[j] -= L[i, j] * xi
    return z


@njit(cache=True, nogil=True)
def _objective(a, f, y, C):
    q = 0.0
    loss = 0.0
    for i in range(a.shape[0]):
        q += a[i] * f[i]
        loss += _softplus(-(2.0 * y[i] - 1.0) * f[i])
    return 0.5 * q + C * loss


@njit(cache=True, nogil=True)
def _solve(K, a0, f0, y, C, tol, max_iter, L, s0, have):
    """Minimise ½aᵀKa + C Σ log(1 + exp(−ỹ_i (Ka)_i)) from a0 (see the module
    docstring); K (n, n), a0 (n,) with logits f0 = K a0, y (n,) 0/1. With ``have``, (L, s0) is a factor
    P = L Lᵀ and its scaling S to start with. Returns (a, factorisations, steps,
    converged, L, s0), the last two being the factor in use at the end."""
    n = a0.shape[0]
    a = a0.copy()
    f = f0.copy()
    sgn = 2.0 * y - 1.0
    # e_i = exp(−|f_i|) gives both the sigmoid and the loss with one exp
    e = np.exp(-np.abs(f))
    obj = 0.0
    for i in range(n):
        obj += 0.5 * a[i] * f[i] + C * (max(-sgn[i] * f[i], 0.0) + np.log1p(e[i]))
    need, fresh = not have, False
    prev = np.inf
    nf = 0
    p = np.empty(n)
    r = np.empty(n)
    e_try = np.empty(n)
    for it in range(max_iter):
        for i in range(n):
            p[i] = 1.0 / (1.0 + e[i]) if f[i] >= 0 else e[i] / (1.0 + e[i])
            r[i] = a[i] - C * (y[i] - p[i])
        if need:
            s0 = np.empty(n)
            for i in range(n):
                s0[i] = np.sqrt(C * p[i] * (1.0 - p[i]))
            Bm = np.empty((n, n))
            for i in range(n):
                for j in range(n):
                    Bm[i, j] = s0[i] * K[i, j] * s0[j]
                Bm[i, i] += 1.0
            L = np.linalg.cholesky(Bm)
            nf += 1
            need, fresh = False, True
            prev = np.inf
        u = K @ r
        v = _chol_solve(L, s0 * u)
        da = s0 * v - r
        df = K @ da
        step = 0.0
        q0 = 0.0
        q1 = 0.0
        q2 = 0.0
        for i in range(n):
            step = max(step, abs(df[i]))
            q0 += a[i] * f[i]
            q1 += da[i] * f[i]
            q2 += da[i] * df[i]
        q0 *= 0.5
        q2 *= 0.5
        eta = 1.0
        accepted = False
        new = obj
        if not fresh and step < 1e-3 and step <= _REFACTOR_RATIO * prev:
            # chord tail: contracting steps this small are taken without the
            # objective check (a step that fails to contract triggers a fresh,
            # line-searched Newton step instead)
            for i in range(n):
                e_try[i] = np.exp(-abs(f[i] + df[i]))
            accepted = True
            new = np.nan
        else:
            if obj != obj:  # recompute after unchecked steps
                obj = 0.0
                for i in range(n):
                    obj += 0.5 * a[i] * f[i] + C * (max(-sgn[i] * f[i], 0.0) + np.log1p(e[i]))
            # backtracking on the objective along a + η Δa (quadratic part in closed form)
            for _ in range(40):
                loss = 0.0
                for i in range(n):
                    fi = f[i] + eta * df[i]
                    e_try[i] = np.exp(-abs(fi))
                    loss += max(-sgn[i] * fi, 0.0) + np.log1p(e_try[i])
                new = q0 + eta * q1 + eta * eta * q2 + C * loss
                if new <= obj + 1e-12 * abs(obj):
                    accepted = True
                    break
                eta *= 0.5
        if not accepted:
            if fresh or step < tol:  # no decrease left at machine precision
                return a, nf, it + 1, True, L, s0
            need = True  # an old factor: refactorise here and retry
            continue
        for i in range(n):
            a[i] += eta * da[i]
            f[i] += eta * df[i]
            e[i] = e_try[i]
        obj = new
        if step < tol and eta == 1.0:
            return a, nf, it + 1, True, L, s0
        if eta < 1.0 or step > _REFACTOR_RATIO * prev:
            need = True
        prev = step
        fresh = False
    return a, nf, max_iter, False, L, s0


@njit(cache=True, nogil=True)
def _ray(a, f, y, C):
    """α ≥ 0.1 (approximately) minimising the objective along α·a, f = K a
    (a few 1-D Newton steps on a convex function; only a warm start)."""
    n = a.shape[0]
    q = 0.0
    for i in range(n):
        q += a[i] * f[i]
    al = 1.0
    for _ in range(8):
        g = al * q
        h = q
        for i in range(n):
            m = (2.0 * y[i] - 1.0) * f[i]
            z = al * m
            ez = np.exp(-abs(z))
            sg = ez / (1.0 + ez) if z >= 0 else 1.0 / (1.0 + ez)  # σ(−z)
            g -= C * m * sg
            h += C * m * m * sg * (1.0 - sg)
        if h <= 0:
            break
        stepa = g / h
        al -= stepa
        if al < 0.1:
            al = 0.1
        if abs(stepa) < 1e-3:
            break
    return al


@njit(cache=True, nogil=True)
def _train_accuracy(K, a, y):
    """Share of the training trials whose logit (K a)_i has the sign of y_i."""
    f = K @ a
    hits = 0
    for i in range(f.shape[0]):
        if (f[i] > 0) == (y[i] > 0.5):
            hits += 1
    return hits / f.shape[0]


@njit(cache=True, nogil=True)
def category_sequence(Xb, yb, Cs, tol, max_iter, P, acc, stats):
    """One participant: Xb (T, d) float64, yb (T,) float64 0/1, Cs (nC,)
    ascending. Fills P (nC, T) with the trial-wise P(category 1) (0.5 until both
    categories are among the training trials), acc (nC,) with the final fit's
    training accuracy (NaN with one category), stats (3,) with factorisations,
    steps and unconverged fits.

    Warm starts and factors are reused across fits (module docstring)."""
    T, d = Xb.shape
    nC = Cs.shape[0]
    sols = np.zeros((nC, T))
    Ls = np.zeros((nC, T, T))
    ss = np.zeros((nC, T))
    have = np.zeros(nC, dtype=np.bool_)
    praw = np.full(nC, 0.5)  # each C's prediction of the newest training trial
    n1 = 0
    for t in range(1, T + 1):
        if yb[t - 1] > 0.5:
            n1 += 1
        both = 0 < n1 < t
        Z, mu, inv = standardized(Xb, t)
        K = Z @ Z.T + 1.0
        kt = np.empty(0)
        if t < T:
            zt = (Xb[t] - mu) * inv
            kt = Z @ zt + 1.0
        yt = yb[:t].copy()
        lower = np.empty(0)
        for r in range(nC):
            C = Cs[r]
            own = np.empty(t)
            own[: t - 1] = sols[r, : t - 1]
            own[t - 1] = C * (yb[t - 1] - praw[r])
            fo = K @ own
            start, fstart = own, fo
            if r > 0:
                fl = K @ lower
                al = _ray(lower, fl, yt, C)
                lo = al * lower
                flo = al * fl
                if _objective(lo, flo, yt, C) < _objective(own, fo, yt, C):
                    start, fstart = lo, flo
            # the previous trial's factor for this C, bordered by the new trial's row
            ok_b = False
            Lb = np.empty((0, 0))
            sb = np.empty(0)
            if have[r]:
                m = t - 1
                ft = fstart[m]
                pt = 1.0 / (1.0 + np.exp(-ft))
                st = np.sqrt(C * pt * (1.0 - pt))
                sb = np.empty(t)
                sb[:m] = ss[r, :m]
                sb[m] = st
                c = np.empty(m)
                for j in range(m):
                    c[j] = st * K[m, j] * sb[j]
                # forward substitution l = L⁻¹ c
                Lo = Ls[r]
                l = np.empty(m)
                for i in range(m):
                    acc_ = c[i]
                    for j in range(i):
                        acc_ -= Lo[i, j] * l[j]
                    l[i] = acc_ / Lo[i, i]
                lam2 = 1.0 + st * st * K[m, m] - np.dot(l, l)
                if lam2 > 1e-12:
                    Lb = np.zeros((t, t))
                    Lb[:m, :m] = Lo[:m, :m]
                    Lb[m, :m] = l
                    Lb[m, m] = np.sqrt(lam2)
                    ok_b = True
            a, nf, ns, ok, Lf, sf = _solve(K, start, fstart, yt, C, tol, max_iter, Lb, sb, ok_b)
            Ls[r, :t, :t] = Lf
            ss[r, :t] = sf
            have[r] = True
            stats[0] += nf
            stats[1] += ns
            if not ok:
                stats[2] += 1
            sols[r, :t] = a
            lower = a
            if t < T:
                praw[r] = _sigmoid(np.dot(a, kt))
                if both:
                    P[r, t] = praw[r]
            elif both:
                acc[r] = _train_accuracy(K, a, yb)


@njit(cache=True, nogil=True)
def final_accuracy(Xb, yb, Cs, tol, max_iter, acc, stats):
    """Training accuracy (nC,) of the fit on all trials for each C (ascending,
    each warm-started from the previous one, rescaled along itself), without the
    trial-wise sequence."""
    T = Xb.shape[0]
    Z, mu, inv = standardized(Xb, T)
    K = Z @ Z.T + 1.0
    a = np.zeros(T)
    for r in range(Cs.shape[0]):
        if r > 0:
            a = _ray(a, K @ a, yb, Cs[r]) * a
        a, nf, ns, ok, Lf, sf = _solve(K, a, K @ a, yb, Cs[r], tol, max_iter, np.empty((0, 0)), np.empty(0), False)
        stats[0] += nf
        stats[1] += ns
        if not ok:
            stats[2] += 1
        acc[r] = _train_accuracy(K, a, yb)
