"""Bootstrap confidence intervals (percentile method), seeded and vectorised."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from repalign.errors import ValidationError


def binary_mean_ci(correct: np.ndarray, level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean of 0/1 outcomes (e.g. trial-wise correctness).

    Resampling n Bernoulli outcomes with replacement gives a mean distributed as
    Binomial(n, p̂)/n, so the bootstrap is drawn from that law directly (exact, O(n_boot)).
    """
    c = np.asarray(correct, dtype=np.float64).ravel()
    if c.size == 0:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    means = rng.binomial(c.size, c.mean(), size=n_boot) / c.size
    return _percentiles(means, level)


def bootstrap_ci(
    n_units: int,
    statistic: Callable[[np.ndarray], float],
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile CI of ``statistic(idx)`` over resamples ``idx`` (n_units,) of unit indices drawn with replacement."""
    if n_units < 2:
        return (np.nan, np.nan)
    rng = np.random.default_rng(seed)
    vals = np.array([statistic(rng.integers(0, n_units, n_units)) for _ in range(n_boot)], dtype=np.float64)
    vals = vals[np.isfinite(vals)]
    if vals.size == 0:
        return (np.nan, np.nan)
    return _percentiles(vals, level)


def _percentiles(vals: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ValidationError(f"confidence level must be in (0, 1), got {level}")
    a = (1 - level) / 2
    lo, hi = np.quantile(vals, [a, 1 - a])
    return float(lo), float(hi)
