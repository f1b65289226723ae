"""The RSA result family: ``rsa_<method>`` rows of the metrics table and their noise
ceilings (``rsa_<method>_ceiling_lower`` / ``_upper``), registered with
``repalign.families``: their report table and figure group (drawn by
``repalign.metrics.rsa_figures``) and their findings."""

from __future__ import annotations

import pandas as pd

from repalign.families import ResultFamily, register
from repalign.metrics import rsa_figures


def owns(metric: str) -> bool:
    """Whether a metrics-table row (by its ``metric`` name) belongs to the RSA family."""
    return metric.startswith("rsa_")


def findings(metrics: pd.DataFrame) -> list[str]:
    """The most aligned representation per dataset and RSA method with its CI, and its
    share of the lower noise ceiling when both ceilings are in the table. [] without rows."""
    if metrics is None or metrics.empty:
        return []
    m = metrics
    out = []
    for (ds, metric), d in m[m["metric"].str.match(r"^rsa_[a-z]+$")].groupby(["dataset", "metric"], sort=True):
        best = d.sort_values("value", ascending=False).iloc[0]
        c = m[(m["dataset"] == ds) & m["metric"].isin([f"{metric}_ceiling_lower", f"{metric}_ceiling_upper"])]
        c = c.groupby("metric")["value"].first()
        text = (
            f"RSA ({metric.removeprefix('rsa_')}) on {ds}: the most aligned representation is {best['model']} at "
            f"{best['value']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}]"
        )
        if len(c) == 2:
            lo, hi = c[f"{metric}_ceiling_lower"], c[f"{metric}_ceiling_upper"]
            text += f", {best['value'] / lo:.0%} of the lower noise ceiling {lo:.3f} (upper {hi:.3f})"
        out.append(text + ".")
    return out


RSA = register(
    ResultFamily(
        name="rsa",
        title="Representational similarity (RSA)",
        task_prefix="metrics:rsa:",
        findings=findings,
        metrics=owns,
        figures=rsa_figures.figures,
    )
)
