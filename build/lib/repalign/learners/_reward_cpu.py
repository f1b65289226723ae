"""CPU kernel of the reward learner (numba; see ``reward.py`` for the semantics).

One participant's sequence is computed trial by trial with every array in cache
(participants in parallel threads; the kernel releases the GIL): standardise the
2(t−1) training samples, take the spectral decomposition of their Gram matrix
(n ≤ d; LAPACK dsyevd) or their thin SVD (n > d), run scikit-learn's MacKay
updates in that basis (O(min(n, d)) per iteration), and evaluate scikit-learn's
L1 stopping rule in feature space only when the cheap bounds
‖Δcoef‖₂ ≤ ‖Δcoef‖₁ ≤ √d‖Δcoef‖₂ cannot decide it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from repalign.learners._cpu import standardized

_EPS = float(np.finfo(np.float64).eps)
_A1 = _A2 = _L1 = _L2 = 1e-6  # BayesianRidge defaults
_TOL, _MAX_ITER = 1e-3, 300


@njit(cache=True, nogil=True)
def _coef_l1(gram, Z, U, M, du):
    """Σ_k |Δcoef_k| for a change du of the basis coefficients: Δcoef = Zᵀ U du
    (Gram route) or M du with M = V S (SVD route)."""
    if gram:
        v = U @ du
        return np.abs(Z.T @ v).sum()
    return np.abs(M @ du).sum()


@njit(cache=True, nogil=True)
def reward_sequence(Xrows, y_all, out):
    """Values of one participant's options.

    Xrows (2T, d) float64 option features in sample order (trial 1 left, right,
    trial 2 left, …); y_all (2T,) their rewards. Fills out (T, 2): row t with the
    values of trial t's options from the samples of trials < t (row 0 untouched,
    i.e. 0)."""
    T = Xrows.shape[0] // 2
    d = Xrows.shape[1]
    sqrt_d = np.sqrt(d)
    for tt in range(1, T):
        n = 2 * tt
        Z, mu, inv = standardized(Xrows, n)
        zt = np.empty((2, d))
        for o in range(2):
            for k in range(d):
                zt[o, k] = (Xrows[n + o, k] - mu[k]) * inv[k]
        y = y_all[:n]
        ym = y.mean()
        yc = y - ym
        yy = (yc * yc).sum()
        yvar = yy / n
        gram = n <= d
        M = np.empty((0, 0))
        U = np.empty((0, 0))
        if gram:
            # left singular vectors from the n×n Gram matrix (far cheaper than an
            # SVD of Z). Its small eigenvalues carry ±eps·‖Z‖² noise, so they are
            # recomputed as ‖Zᵀu‖²: tiny directions (centring, repeated stimuli)
            # then get ~0 as in scikit-learn's SVD
            ev, Ue = np.linalg.eigh(Z @ Z.T)  # ascending
            U = np.ascontiguousarray(Ue)
            big = max(ev[n - 1], 1e-300)
            for k in range(n):
                if ev[k] < 1e-6 * big:
                    w = Z.T @ np.ascontiguousarray(Ue[:, k])
                    ev[k] = (w * w).sum()
            e = np.maximum(ev, 0.0)
            c = U.T @ yc
            h = U.T @ (Z @ zt.T)  # (n, 2)
            perp = 0.0  # the singular vectors span the samples
        else:  # n > d: thin SVD of the tall data, as scikit-learn
            Us, S, Vh = np.linalg.svd(Z, full_matrices=False)
            e = S * S
            c = Us.T @ yc
            h = (Vh @ zt.T) * S.reshape(-1, 1)  # (d, 2)
            M = np.ascontiguousarray(Vh.T * S.reshape(1, -1))  # coef = M u
            perp = max(yy - (c * c).sum(), 0.0)
        # scikit-learn's MacKay loop, in the basis
        alpha = 1.0 / (yvar + _EPS)
        lam = 1.0
        u_old = np.zeros_like(c)
        for it in range(_MAX_ITER):
            r = lam / alpha
            u = c / (e + r)
            coef2 = (e * u * u).sum()
            q = r / (e + r)
            sse = perp + (c * c * q * q).sum()
            gamma = (alpha * e / (lam + alpha * e)).sum()
            lam = (gamma + 2 * _L1) / (coef2 + 2 * _L2)
            alpha = (n - gamma + 2 * _A1) / (sse + 2 * _A2)
            if it != 0:
                du = u_old - u
                l2 = np.sqrt((e * du * du).sum())
                if l2 * sqrt_d < _TOL:
                    break
                if l2 < _TOL:
                    if _coef_l1(gram, Z, U, M, du) < _TOL:
                        break
            u_old = u
        u = c / (e + lam / alpha)
        for o in range(2):
            out[tt, o] = (h[:, o] * u).sum() + ym
