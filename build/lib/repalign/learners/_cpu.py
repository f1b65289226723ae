"""Shared plumbing of the learners' numba CPU kernels: which back-end runs,
participants in threads, and the per-trial standardisation."""

from __future__ import annotations

import numpy as np
import torch
from numba import njit

_EPS = float(np.finfo(np.float64).eps)


def use_cpu_kernels(backend: str, X: torch.Tensor) -> bool:
    """Whether a learner runs its numba CPU kernels ("cpu", or "auto" with CPU
    tensors) rather than the batched torch code ("torch", or "auto" on CUDA)."""
    if backend not in ("auto", "cpu", "torch"):
        raise ValueError(f"backend must be 'auto', 'cpu' or 'torch', got {backend!r}")
    return backend == "cpu" or (backend == "auto" and X.device.type == "cpu")


def cpu_threads(B: int) -> int:
    """Threads for B independent CPU jobs: torch's thread count (OMP_NUM_THREADS /
    torch.set_num_threads), at most B."""
    return max(1, min(torch.get_num_threads(), B))


def run_cpu(kernel, B: int) -> None:
    """kernel(b) for every sequence b, on torch's number of threads (the numba
    kernels release the GIL); BLAS inside each kernel is kept to one thread so
    the threads do not oversubscribe the cores."""
    n = cpu_threads(B)
    if n == 1:
        for b in range(B):
            kernel(b)
        return
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(n) as pool:
        list(pool.map(kernel, range(B)))


@njit(cache=True, nogil=True)
def standardized(Xb, t):
    """Rows 0..t−1 of Xb (T, d) standardised by their own mean and population
    s.d. (scikit-learn's StandardScaler: a constant feature gets s.d. 1), and
    the statistics (mu, inverse s.d.)."""
    d = Xb.shape[1]
    mu = np.zeros(d)
    for i in range(t):
        for k in range(d):
            mu[k] += Xb[i, k]
    for k in range(d):
        mu[k] /= t
    var = np.zeros(d)
    for i in range(t):
        for k in range(d):
            q = Xb[i, k] - mu[k]
            var[k] += q * q
    inv = np.ones(d)
    for k in range(d):
        v = var[k] / t
        # scikit-learn's test for a constant feature, as _common.scaler_stats (torch)
        if not (v <= t * _EPS * v + (t * mu[k] * _EPS) ** 2):
            inv[k] = 1.0 / np.sqrt(v)
    Z = np.empty((t, d))
    for i in range(t):
        for k in range(d):
            Z[i, k] = (Xb[i, k] - mu[k]) * inv[k]
    return Z, mu, inv
