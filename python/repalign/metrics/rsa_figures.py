"""The RSA family's figure: RSA per representation over the noise-ceiling band and zero;
registered as ``RSA.figures`` (``repalign.metrics.rsa_family``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.plotting as plotting
import repalign.style as style
from repalign.families import FamilyFigure, anchor

RSA_METRIC = re.compile(r"^rsa_([a-z]+)$")  # rsa_<method> rows (not their ceilings)


def plot_rsa(metrics: pd.DataFrame, objectives: dict[str, str] | None = None):
    """RSA per representation (``rsa_<method>``) with 95 % CIs, sorted, over the
    noise-ceiling band (``rsa_<method>_ceiling_lower`` to ``_upper``) and zero.
    One panel per method × dataset; None without RSA rows."""
    df = metrics[metrics["metric"].str.match(RSA_METRIC)].copy()
    if df.empty:
        return None
    objectives = objectives or style.model_objectives(df["model"].unique())
    df["label"] = plotting.labels(df)
    groups = sorted(df.groupby(["metric", "dataset"]).groups)
    n = df.groupby(["metric", "dataset"]).size().max()
    fig, axes = plotting.figure(len(groups), width_per=6.5, height=max(2.6, 0.38 * n + 1.2), ncols_max=2)
    for ax, (metric, ds) in zip(axes, groups):
        sub = df[(df["metric"] == metric) & (df["dataset"] == ds)].sort_values("value")
        ceil = metrics[
            (metrics["dataset"] == ds) & metrics["metric"].isin([f"{metric}_ceiling_lower", f"{metric}_ceiling_upper"])
        ]
        c = ceil.groupby("metric")["value"].first()
        if len(c) == 2:
            lo, hi = c[f"{metric}_ceiling_lower"], c[f"{metric}_ceiling_upper"]
            plotting.ceiling(ax, lo, hi, f"noise ceiling ({lo:.3f}–{hi:.3f})", horizontal=False)
        plotting.zero(ax, horizontal=False)
        y = np.arange(len(sub))
        for yi, (_, r) in zip(y, sub.iterrows()):
            plotting.hwhisker(
                ax,
                [yi],
                [r["value"]],
                [r["ci_low"]],
                [r["ci_high"]],
                style.objective_colour(objectives.get(r["model"])),
            )
        ax.set_yticks(y, sub["label"])
        ax.set_xlabel(f"RSA ({metric.removeprefix('rsa_')}, 95% CI)")
        ax.set_title(f"{ds}")
    handles = axes[0].get_legend_handles_labels()[0]
    handles += plotting.objective_handles((objectives.get(m, "other") for m in df["model"]), "objective: {}")
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """``ResultFamily.figures`` of the RSA family: ``rsa.png`` (+ PDF) in ``out_dir`` when
    the run has RSA rows."""
    with plotting.draw():
        fig = plot_rsa(plotting.metrics_rows(metrics))
        if fig is None:
            return []
        png, pdf = plotting.save(fig, out_dir, "rsa")
    return [
        FamilyFigure(
            "rsa",
            "RSA per representation",
            "Correlation of model and human RDMs with 95% CIs; grey band: noise ceiling (lower–upper); light line: 0.",
            png,
            pdf,
            (anchor("metrics", "rsa"),),
        )
    ]
