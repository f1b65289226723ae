"""Simulated participants: choices drawn from a learner's trial values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from repalign.errors import ValidationError

__all__ = ["simulate_choices", "choice_probabilities"]


def _kind(df: pd.DataFrame) -> str:
    if {"value_left", "value_right"} <= set(df.columns):
        return "reward"
    if any(c.startswith("prob_") for c in df.columns):
        return "multiclass"
    if "value" in df.columns:
        return "category"
    raise ValidationError(
        "simulate_choices: the table has neither value_left/value_right, prob_<class> nor value columns"
    )


def choice_probabilities(trials: pd.DataFrame, temperature: float = 1.0, lapse: float = 0.0) -> np.ndarray:
    """Choice probabilities of a softmax chooser with lapses.

    reward tables (value_left, value_right): P(right) = lapse/2 + (1 − lapse)
    σ((value_right − value_left)/temperature), shape (n,). category tables
    (value = P(category 1)): P(1) = lapse/2 + (1 − lapse) σ(logit(value)/temperature),
    shape (n,). multiclass tables (prob_<class>): P(k) = lapse/K + (1 − lapse)
    softmax(log prob_k / temperature), shape (n, K) in column order.
    """
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValidationError(f"simulate_choices: temperature must be positive, got {temperature}")
    if not 0 <= lapse <= 1:
        raise ValidationError(f"simulate_choices: lapse must be in [0, 1], got {lapse}")
    kind = _kind(trials)
    if kind == "multiclass":
        cols = [c for c in trials.columns if c.startswith("prob_")]
        P = trials[cols].to_numpy(dtype=np.float64)
        if not np.isfinite(P).all():
            raise ValidationError("simulate_choices: prob_ columns hold NaN/inf")
        logits = np.log(np.clip(P, 1e-300, None)) / temperature
        logits -= logits.max(1, keepdims=True)
        S = np.exp(logits)
        S /= S.sum(1, keepdims=True)
        return lapse / len(cols) + (1 - lapse) * S
    if kind == "reward":
        x = (trials["value_right"].to_numpy(np.float64) - trials["value_left"].to_numpy(np.float64)) / temperature
    else:
        p = np.clip(trials["value"].to_numpy(np.float64), 1e-300, 1 - 1e-16)
        x = (np.log(p) - np.log1p(-p)) / temperature
    if not np.isfinite(x).all():
        raise ValidationError("simulate_choices: values hold NaN/inf")
    return lapse / 2 + (1 - lapse) / (1 + np.exp(-x))


def simulate_choices(
    trials_df: pd.DataFrame, temperature: float = 1.0, lapse: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    """A copy of a learner's trial table with simulated choices.

    Adds ``choice`` (reward: 1 = right; category: 1 = category 1; multiclass: the
    class name) drawn with ``choice_probabilities`` and ``p_choice`` (probability
    of the simulated choice). An existing ``choice`` column (the human's) is kept
    as ``human_choice``. One uniform draw per row in table order from
    ``numpy.random.default_rng(seed)``: same inputs and seed → same choices.
    """
    kind = _kind(trials_df)
    P = choice_probabilities(trials_df, temperature, lapse)
    u = np.random.default_rng(seed).random(len(trials_df))
    out = trials_df.copy()
    if "choice" in out.columns:
        out = out.rename(columns={"choice": "human_choice"})
    if kind == "multiclass":
        cols = [c for c in trials_df.columns if c.startswith("prob_")]
        k = np.minimum((u[:, None] > np.cumsum(P, 1)).sum(1), len(cols) - 1)
        out["choice"] = np.asarray([c[len("prob_") :] for c in cols], dtype=object)[k].astype(str)
        out["p_choice"] = P[np.arange(len(P)), k]
    else:
        c = (u < P).astype(np.int64)
        out["choice"] = c
        out["p_choice"] = np.where(c == 1, P, 1 - P)
    return out
