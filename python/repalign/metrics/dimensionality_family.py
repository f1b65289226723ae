"""The intrinsic-dimensionality result family: ``dimensionality_<estimator>`` rows of the
metrics table (``repalign.metrics.dimensionality``), registered with ``repalign.families``:
their report table and figure group (``repalign.metrics.dimensionality_figures``,
and R's ``alignment_vs_intrinsic_dim``). No findings of its own."""

from __future__ import annotations

from repalign.families import ResultFamily, register
from repalign.metrics import dimensionality_figures


def owns(metric: str) -> bool:
    """Whether a metrics-table row (by its ``metric`` name) belongs to the dimensionality family."""
    return metric.startswith("dimensionality_")


DIMENSIONALITY = register(
    ResultFamily(
        name="dimensionality",
        title="Intrinsic dimensionality and alignment",
        task_prefix="metrics:dimensionality:",
        metrics=owns,
        figures=dimensionality_figures.figures,
        tables=dimensionality_figures.find_scores,  # the R stage's alignment scores, one measure it may draw
    )
)
