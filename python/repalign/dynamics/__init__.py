"""Learning dynamics: human vs network learning curves, the generalisation lag and
data efficiency (Huber, Mast & Wichmann 2024) over any trial table in the
``dynamics`` format — humans, fine-tuned networks, or repalign learners reading a
model's features (``simulate``). Mixed-effects statistics and figures are in the R
package (``R/dynamics.R``)."""

from repalign.dynamics.curves import (
    DEFAULT_RUNS,
    HUMAN_LEARNERS,
    accuracy_by_object,
    accuracy_by_run,
    accuracy_summary,
    chance_band,
    data_efficiency,
    generalisation_lag,
    select_runs,
)
from repalign.dynamics.plan import analyse
from repalign.dynamics.simulate import SIM_COLUMNS, simulate_dynamics
from repalign.dynamics.table import DYNAMICS_COLUMNS, check_dynamics_table, load_dynamics_table

__all__ = [
    "DEFAULT_RUNS",
    "HUMAN_LEARNERS",
    "accuracy_by_object",
    "accuracy_by_run",
    "accuracy_summary",
    "chance_band",
    "data_efficiency",
    "generalisation_lag",
    "select_runs",
    "DYNAMICS_COLUMNS",
    "check_dynamics_table",
    "load_dynamics_table",
    "analyse",
    "SIM_COLUMNS",
    "simulate_dynamics",
]
