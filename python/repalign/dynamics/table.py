"""The long learning-dynamics trial table (humans, fine-tuned networks, simulated learners).

One row per trial; the columns of ``DYNAMICS_COLUMNS``. It is a ``dynamics`` table
of ``repalign.store`` (required: agent, run, epoch, phase, image_name, correct) with
the stimulus description added so that every analysis can split by test set,
object, category or rotation without re-parsing image names.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from repalign.datasets.learning_dynamics import AGENTS, load_learning_dynamics
from repalign.errors import SchemaError

#: Column → meaning. ``agent_type`` is "human", "network" (fine-tuned DNN) or
#: "learner" (a repalign learner reading a model's features); it selects the
#: generalisation-lag window rule. ``trial`` is 1-based within (agent, run, epoch, phase).
DYNAMICS_COLUMNS = {
    "agent": "human or model name",
    "agent_type": "human | network | learner",
    "run": "participant (humans) or fine-tuning / simulation run",
    "epoch": "1-based epoch",
    "phase": "train | test",
    "trial": "1-based position within (agent, run, epoch, phase)",
    "test_set": "test set shown (1-6); 0 for training images",
    "image_name": "image file name, e.g. second_gen_p_3_z_90.png",
    "category": "true category p | q | v",
    "object_id": "object number within its category",
    "axis": "rotation axis x | z, or none (canonical view)",
    "angle": "rotation angle in degrees",
    "seen_object": "the object appears in the training set",
    "prediction": "category answered",
    "correct": "prediction == category",
}

PHASES = ("train", "test")
AGENT_TYPES = ("human", "network", "learner")
_INT_COLUMNS = ("run", "epoch", "trial", "test_set", "object_id", "angle")


def agent_type_of(agent: str) -> str:
    """ "human" for the human participants, "network" for the fine-tuned DNNs."""
    return "human" if agent == "human" else "network"


def load_dynamics_table(agents: Iterable[str] = AGENTS) -> pd.DataFrame:
    """The real trials of Huber et al. (2024) as one long table.

    ``agents``: any of ``repalign.datasets.learning_dynamics.AGENTS`` (default: all
    seven — humans and six networks). Returns ``len = 68,991`` rows for all seven.
    """
    return dynamics_table_from(load_learning_dynamics(tuple(agents)).trials)


def dynamics_table_from(trials: pd.DataFrame) -> pd.DataFrame:
    """``LearningDynamics.trials`` (the loader's table) → the long dynamics table."""
    df = trials.drop(columns=["ground_truth"])  # identical to ``category`` (checked by the loader)
    df["agent_type"] = df["agent"].map(agent_type_of)
    # Within-block order as in the upstream files (they list trials in presentation order).
    df["trial"] = df.groupby(["agent", "run", "epoch", "phase"], sort=False).cumcount() + 1
    return check_dynamics_table(df[list(DYNAMICS_COLUMNS)], where="learning-dynamics trials")


def check_dynamics_table(
    df: pd.DataFrame,
    where: str = "dynamics table",
    required: Iterable[str] = ("agent", "run", "epoch", "phase", "correct"),
) -> pd.DataFrame:
    """Validate a trial table for the analyses; return it with canonical dtypes.

    Raises SchemaError naming the table and the offending column. Rows without
    ``agent_type`` get it from the agent name (``agent_type_of``).
    """
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {missing}; required: {list(required)}")
    df = df.copy()
    default_type = df["agent"].astype(str).map(agent_type_of)
    df["agent_type"] = df["agent_type"].fillna(default_type) if "agent_type" in df.columns else default_type
    bad = sorted(set(df["agent_type"]) - set(AGENT_TYPES))
    if bad:
        raise SchemaError(f"{where}: column 'agent_type' has value(s) {bad}; allowed: {list(AGENT_TYPES)}")
    bad = sorted(set(df["phase"].astype(str)) - set(PHASES))
    if bad:
        raise SchemaError(f"{where}: column 'phase' has value(s) {bad}; allowed: {list(PHASES)}")
    for col in _INT_COLUMNS:
        if col in df.columns:
            if df[col].isna().any() or not np.issubdtype(df[col].dtype, np.integer):
                raise SchemaError(f"{where}: column {col!r} must hold integers without missing values")
            df[col] = df[col].astype(np.int64)
    if (df["epoch"] < 1).any():
        raise SchemaError(f"{where}: column 'epoch' must be >= 1 (epochs are 1-based)")
    if df["correct"].dtype != bool:
        if df["correct"].isna().any() or not set(pd.unique(df["correct"])) <= {0, 1}:
            raise SchemaError(f"{where}: column 'correct' must be boolean (or 0/1)")
        df["correct"] = df["correct"].astype(bool)
    for col in ("agent", "agent_type", "phase"):
        df[col] = df[col].astype(str)
    return df.reset_index(drop=True)
