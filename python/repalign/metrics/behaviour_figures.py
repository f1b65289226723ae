"""The error-consistency family's figure: accuracy and error consistency κ to humans per
agent, drawn from the classification tables the family finds among the run's files
(``repalign.metrics.behaviour_tables``); registered as ``ERROR_CONSISTENCY.figures``
(``repalign.metrics.behaviour_family``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import repalign.plotting as plotting
import repalign.style as style
from repalign.families import FamilyFigure
from repalign.metrics.behaviour_tables import classification_columns, classification_wide


def plot_error_consistency(table: pd.DataFrame):
    """Accuracy (left) and error consistency κ to humans (right) per agent, with CIs;
    the human agent's (``humans``/``human``) value and CI shaded as the human band,
    κ = 0 (no consistency beyond chance) and, with a ``chance`` column, chance
    accuracy. One row of panels per stimulus set. None if not a classification table."""
    table = classification_wide(table)
    cols = classification_columns(table.columns)
    if cols is None or table.empty:
        return None
    import matplotlib.pyplot as plt

    panels = sorted(table[cols["panel"]].astype(str).unique()) if "panel" in cols else ["all"]
    n = table.groupby(cols["panel"]).size().max() if "panel" in cols else len(table)
    fig, axes = plt.subplots(len(panels), 2, figsize=(10, max(2.6, 0.34 * n + 1.3) * len(panels)), squeeze=False)
    objectives = style.model_objectives(table["agent"].astype(str).unique())
    for (ax_a, ax_k), p in zip(axes, panels):
        sub = table if p == "all" else table[table[cols["panel"]].astype(str) == p]
        sub = sub.sort_values(cols["kappa"], na_position="first").reset_index(drop=True)
        human = sub[sub["agent"].astype(str).str.lower().isin(["humans", "human"])]
        for ax, key, label in ((ax_a, "accuracy", "accuracy"), (ax_k, "kappa", "error consistency κ to humans")):
            col = cols[key]
            lo, hi = cols.get(f"{key}_lo"), cols.get(f"{key}_hi")
            if len(human):
                h = human.iloc[0]
                hl, hh = (h[lo], h[hi]) if lo and np.isfinite(h[lo]) else (h[col], h[col])
                plotting.ceiling(ax, hl, hh, "humans", horizontal=False)
            if key == "kappa":
                c = style.CHANCE
                ax.axvline(0, color=c["colour"], linestyle=c["linestyle"], linewidth=c["linewidth"], label="κ = 0")
            elif "chance" in cols:
                c = style.CHANCE
                ax.axvline(
                    float(sub[cols["chance"]].iloc[0]),
                    color=c["colour"],
                    linestyle=c["linestyle"],
                    linewidth=c["linewidth"],
                    label="chance",
                )
            for i, r in sub.iterrows():
                plotting.hwhisker(
                    ax,
                    [i],
                    [r[col]],
                    [r[lo] if lo else np.nan],
                    [r[hi] if hi else np.nan],
                    style.objective_colour(objectives.get(str(r["agent"]))),
                )
            ax.set_yticks(range(len(sub)), sub["agent"].astype(str) if ax is ax_a else [""] * len(sub))
            ax.set_xlabel(f"{label} (CI)")
            ax.set_title(p if p != "all" else "")
            ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """``ResultFamily.figures`` of the error-consistency family: one figure per
    classification table the family found (``tables``, by report anchor, in anchor order):
    ``error_consistency.png``, ``error_consistency_1.png``, … (+ PDFs) in ``out_dir``."""
    out = []
    with plotting.draw():
        for i, (anc, table) in enumerate(sorted(tables.items())):
            fig = plot_error_consistency(table)
            if fig is None:
                continue
            png, pdf = plotting.save(fig, out_dir, f"error_consistency_{i}" if i else "error_consistency")
            out.append(
                FamilyFigure(
                    png.stem,
                    "Accuracy and error consistency to humans",
                    "Per agent, accuracy and error consistency (Cohen's κ of trial-wise correctness) to humans with "
                    "CIs; grey band: the humans' own value (CI); dotted: κ = 0 / chance.",
                    png,
                    pdf,
                    (anc,),
                )
            )
    return out
