"""The CKA result family: ``cka*`` rows of the metrics table (``repalign.metrics.cka``),
registered with ``repalign.families``: their report table and figure group (the heatmap
of ``repalign.metrics.cka_figures``). No findings of its own."""

from __future__ import annotations

from repalign.families import ResultFamily, register
from repalign.metrics import cka_figures, dimensionality_figures


def owns(metric: str) -> bool:
    """Whether a metrics-table row (by its ``metric`` name) belongs to the CKA family."""
    return metric.startswith("cka")


CKA = register(
    ResultFamily(
        name="cka",
        title="CKA between representations",
        task_prefix="metrics:cka:",
        metrics=owns,
        figures=cka_figures.figures,
        tables=dimensionality_figures.find_scores,  # the row order without RSA / odd-one-out rows
    )
)
