"""The classification result family (``[[metrics]] metric = "classification"``):
console lines, report section and finding of accuracy and error consistency per
agent, registered with ``repalign.families``; and the error-consistency family: the
metrics-table rows of κ and error consistency, and the tables of accuracy and κ per
agent found among the run's files (``repalign.metrics.behaviour_tables``), which the
report shows and draws (``repalign.metrics.behaviour_figures``)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from repalign.families import ResultFamily, files_under, register, table_html
from repalign.metrics import behaviour_figures
from repalign.metrics.behaviour import HUMANS, closest_to_humans, summary_lines
from repalign.metrics.behaviour_tables import find_tables


def classification_section(metrics: pd.DataFrame, roots: Sequence[Path]) -> str:
    """HTML of the classification behaviour section ("" without classification rows): the κ table
    (accuracy and mean κ to the people per dataset and agent, bootstrap CIs over images), the
    agent closest to the people per dataset with its CI against the people's own κ, and the
    R figure ``classification_accuracy_kappa.png`` when the R stage drew it."""
    if metrics.empty or "agent_type" not in metrics.columns:
        return ""
    t = metrics[
        metrics["agent_type"].isin([HUMANS, "network", "model"])
        & metrics["metric"].isin(["accuracy", "kappa_to_humans"])
    ]
    if t.empty:
        return ""
    wide = t.pivot_table(
        index=["dataset", "model", "agent_type"],
        columns="metric",
        values=["value", "ci_low", "ci_high"],
        aggfunc="first",
    )
    rows = []
    for (ds, agent, kind), r in wide.iterrows():
        rows.append(
            {
                "dataset": ds,
                "agent": agent,
                "type": kind,
                "accuracy": r[("value", "accuracy")],
                "accuracy CI": f"[{r[('ci_low', 'accuracy')]:.3f}, {r[('ci_high', 'accuracy')]:.3f}]",
                "κ to humans": r[("value", "kappa_to_humans")],
                "κ CI": f"[{r[('ci_low', 'kappa_to_humans')]:.3f}, {r[('ci_high', 'kappa_to_humans')]:.3f}]",
            }
        )
    table = pd.DataFrame(rows).sort_values(["dataset", "κ to humans"], ascending=[True, False])
    out = [
        "<h2>Classification behaviour</h2>",
        "<p>Accuracy and error consistency (Cohen's κ of trial-wise correctness, mean over the people; "
        "for <i>humans</i>: mean over pairs of different people, the ceiling); 95% bootstrap CIs over images.</p>",
    ]
    for c in closest_to_humans(metrics):
        out.append(
            f"<div class='finding'>{html.escape(c['dataset'])}: the model closest to humans is "
            f"<b>{html.escape(str(c['agent']))}</b> with κ = {c['kappa']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}] "
            f"(people among themselves: {c['ceiling']:.3f} [{c['ceiling_low']:.3f}, {c['ceiling_high']:.3f}]).</div>"
        )
    out.append(table_html(table))
    for p in files_under(roots, "classification_accuracy_kappa.png"):
        b64 = base64.b64encode(p.read_bytes()).decode()
        out.append(f"<img alt='accuracy and kappa per agent' src='data:image/png;base64,{b64}'>")
    return "\n".join(out)


CLASSIFICATION = register(
    ResultFamily(
        name="classification",
        title="Classification behaviour",
        task_prefix="metrics:classification:",
        summary_lines=summary_lines,
        report_section=classification_section,
    )
)


def owns_agreement(metric: str) -> bool:
    """Whether a metrics-table row (by its ``metric`` name) is an error-consistency row:
    κ, error consistency or a ``classification*`` score."""
    return "kappa" in metric or "error_consistency" in metric or metric.startswith("classification")


# The figure group and metrics table of those rows, and the classification tables of the
# run's files (the figures are drawn from them by ``repalign.metrics.behaviour_figures``).
ERROR_CONSISTENCY = register(
    ResultFamily(
        name="error_consistency",
        title="Accuracy and error consistency to humans",
        task_prefix="metrics:classification:",
        metrics=owns_agreement,
        tables=find_tables,
        figures=behaviour_figures.figures,
        tables_title="Classification tables",
    )
)
