"""Learning curves, the generalisation lag and data efficiency (Huber, Mast &
Wichmann, ICLR 2024 Re-Align workshop) over any ``dynamics`` trial table.

All accuracies are proportions correct in [0, 1]. Per-run accuracies are the
unit of replication: summaries are the mean and s.d. *across runs* (participants
or fine-tuning / simulation runs) of per-run accuracies, as in the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import binom

from repalign.dynamics.table import check_dynamics_table
from repalign.errors import ValidationError

#: The participants who learned the task (Huber et al. 2024, Section 3.1); the
#: paper's lag and data-efficiency analyses use only these humans.
HUMAN_LEARNERS: tuple[int, ...] = (1, 2, 7, 8, 9, 10, 12)
#: Default run selection for the lag / efficiency analyses.
DEFAULT_RUNS: Mapping[str, Sequence[int]] = {"human": HUMAN_LEARNERS}


def select_runs(table: pd.DataFrame, runs: Mapping[str, Sequence[int]] | None) -> pd.DataFrame:
    """Keep only the listed runs of the agents named in ``runs`` (others untouched).

    An agent in ``runs`` that is absent from the table is ignored (so the default
    human selection applies to tables without humans); a listed run that the agent
    does not have is an error naming agent and run(s).
    """
    if not runs:
        return table
    keep = np.ones(len(table), dtype=bool)
    for agent, wanted in runs.items():
        rows = (table["agent"] == agent).to_numpy()
        if not rows.any():
            continue
        have = set(table.loc[rows, "run"].tolist())
        absent = sorted(set(int(r) for r in wanted) - have)
        if absent:
            raise ValidationError(f"agent {agent!r} has no run(s) {absent}; its runs: {sorted(have)}")
        keep &= ~rows | table["run"].isin([int(r) for r in wanted]).to_numpy()
    return table.loc[keep]


def accuracy_by_run(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Accuracy per agent × run × epoch × phase (× ``by``).

    Columns: agent, agent_type, run, epoch, phase, *by, n_trials, n_correct, accuracy.
    """
    table = check_dynamics_table(table)
    keys = ["agent", "agent_type", "run", "epoch", "phase", *by]
    g = table.groupby(keys, sort=True, observed=True)["correct"]
    out = g.agg(n_trials="size", n_correct="sum").reset_index()
    out["n_correct"] = out["n_correct"].astype(np.int64)
    out["accuracy"] = out["n_correct"] / out["n_trials"]
    return out


def _across_runs(per_run: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    g = per_run.groupby(keys, sort=True, observed=True)["accuracy"]
    out = g.agg(mean="mean", sd="std", n_runs="size").reset_index()
    out["sem"] = out["sd"] / np.sqrt(out["n_runs"])
    return out


def accuracy_summary(table: pd.DataFrame, runs: Mapping[str, Sequence[int]] | None = None) -> pd.DataFrame:
    """Learning curves: mean and s.d. across runs of the per-run accuracy.

    One row per agent × epoch × phase; columns agent, agent_type, epoch, phase,
    mean, sd, n_runs, sem. ``runs`` optionally restricts agents to some runs
    (e.g. ``DEFAULT_RUNS``); default: all runs.
    """
    per_run = accuracy_by_run(select_runs(check_dynamics_table(table), runs))
    return _across_runs(per_run, ["agent", "agent_type", "epoch", "phase"])


def accuracy_by_object(table: pd.DataFrame, runs: Mapping[str, Sequence[int]] | None = None) -> pd.DataFrame:
    """Test accuracy split by objects seen in training vs novel objects.

    One row per agent × epoch × objects ("seen" / "novel"); columns as in
    ``accuracy_summary`` with ``objects`` instead of ``phase``. Needs column
    ``seen_object``.
    """
    table = check_dynamics_table(table, required=("agent", "run", "epoch", "phase", "correct", "seen_object"))
    test = select_runs(table.loc[table["phase"] == "test"], runs).copy()
    test["objects"] = np.where(test["seen_object"].astype(bool), "seen", "novel")
    per_run = accuracy_by_run(test, by=("objects",))
    return _across_runs(per_run, ["agent", "agent_type", "epoch", "objects"])


def chance_band(n_trials: int = 36, p: float = 1 / 3, level: float = 0.95) -> tuple[float, float]:
    """Central ``level`` binomial interval of the accuracy of ``n_trials`` guesses at
    rate ``p``, as proportions. Default (36 trials, p = 1/3, 95 %): (7/36, 18/36)."""
    if n_trials < 1 or not 0 < p < 1 or not 0 < level < 1:
        raise ValidationError(
            f"chance_band: need n_trials >= 1, 0 < p < 1, 0 < level < 1 (got {n_trials}, {p}, {level})"
        )
    low, high = binom.interval(level, n_trials, p)
    return float(low) / n_trials, float(high) / n_trials


def _last_epoch_before_decrease(epochs: np.ndarray, test: np.ndarray) -> int:
    """Last epoch before the first epoch whose mean test accuracy is lower than the
    previous epoch's; the last epoch if it never decreases."""
    drops = np.flatnonzero(np.diff(test) < 0)
    return int(epochs[drops[0]]) if len(drops) else int(epochs[-1])


def generalisation_lag(
    table: pd.DataFrame,
    runs: Mapping[str, Sequence[int]] | None = DEFAULT_RUNS,
    n_trials: int = 36,
    p: float = 1 / 3,
    level: float = 0.95,
) -> pd.DataFrame:
    """The generalisation lag of each agent (Huber et al. 2024, Fig. 3b).

    With the chance band of ``chance_band(n_trials, p, level)``:

    * ``first_above_chance`` (j): first epoch whose mean training accuracy exceeds
      the band's upper bound;
    * window: epochs j … ``window_end``, where ``window_end`` is the last epoch for
      humans, and for networks and learners the last epoch before mean test accuracy
      first decreases (the last epoch if it never does);
    * ``lag``: mean over the window of (mean train accuracy − mean test accuracy).

    Agents whose training accuracy never leaves the chance band, or whose window is
    empty (test accuracy drops before epoch j), get NaN ``lag``. ``runs`` selects
    runs per agent (default: the humans who learned, ``HUMAN_LEARNERS``).

    Returns one row per agent: agent, agent_type, n_runs, chance_upper,
    first_above_chance, window_start, window_end, n_epochs, lag, train_final, test_final.
    """
    _, upper = chance_band(n_trials, p, level)
    summary = accuracy_summary(table, runs)
    rows = []
    for (agent, agent_type), s in summary.groupby(["agent", "agent_type"], sort=True):
        wide = s.pivot(index="epoch", columns="phase", values="mean").sort_index()
        missing = [ph for ph in ("train", "test") if ph not in wide.columns]
        if missing:
            raise ValidationError(f"agent {agent!r}: no {missing[0]} trials; the lag needs train and test accuracy")
        wide = wide.dropna()
        epochs = wide.index.to_numpy()
        train, test = wide["train"].to_numpy(), wide["test"].to_numpy()
        above = np.flatnonzero(train > upper)
        j = int(epochs[above[0]]) if len(above) else None
        end = int(epochs[-1]) if agent_type == "human" else _last_epoch_before_decrease(epochs, test)
        in_window = (epochs >= j) & (epochs <= end) if j is not None else np.zeros(len(epochs), bool)
        lag = float(np.mean(train[in_window] - test[in_window])) if in_window.any() else float("nan")
        rows.append(
            {
                "agent": agent,
                "agent_type": agent_type,
                "n_runs": int(s["n_runs"].max()),
                "chance_upper": upper,
                "first_above_chance": j if j is not None else pd.NA,
                "window_start": j if j is not None else pd.NA,
                "window_end": end,
                "n_epochs": int(in_window.sum()),
                "lag": lag,
                "train_final": float(train[-1]),
                "test_final": float(test[-1]),
            }
        )
    out = pd.DataFrame(rows)
    for col in ("first_above_chance", "window_start"):
        out[col] = out[col].astype("Int64")
    return out


def data_efficiency(
    table: pd.DataFrame,
    runs: Mapping[str, Sequence[int]] | None = DEFAULT_RUNS,
    n_train: int = 36,
    baseline: float = 0.0,
) -> pd.DataFrame:
    """Data efficiency (Huber et al. 2024, Fig. 4): gain in mean test accuracy per
    training trial, epoch by epoch.

    ``efficiency[e] = (test[e] − test[e−1]) / n_train`` with ``test[0] = baseline``
    (the paper uses 0; 1/3, chance, is the other natural choice). Units:
    proportion correct per training trial. One row per agent × epoch; columns
    agent, agent_type, epoch, test_accuracy, gain, efficiency.
    """
    if n_train < 1:
        raise ValidationError(f"data_efficiency: n_train must be >= 1 (got {n_train})")
    summary = accuracy_summary(table, runs)
    test = summary.loc[summary["phase"] == "test"].sort_values(["agent", "epoch"])
    out = test[["agent", "agent_type", "epoch"]].copy()
    out["test_accuracy"] = test["mean"].to_numpy()
    prev = test.groupby("agent")["mean"].shift(1).fillna(baseline).to_numpy()
    out["gain"] = out["test_accuracy"] - prev
    out["efficiency"] = out["gain"] / n_train
    return out.reset_index(drop=True)
