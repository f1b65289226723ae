"""The odd-one-out family's figure: accuracy per representation, zero-shot and probed,
over the triplet noise ceiling and chance; registered as ``ODD_ONE_OUT.figures``
(``repalign.metrics.odd_one_out_family``)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.plotting as plotting
import repalign.style as style
from repalign.families import FamilyFigure, anchor

_OOO = re.compile(r"^(odd_one_out_[a-z]+|probe_[a-z_]+)$")


def plot_odd_one_out(metrics: pd.DataFrame, objectives: dict[str, str] | None = None):
    """Odd-one-out accuracy per representation, one panel per triplet set: zero-shot
    (``odd_one_out_<similarity>``) and probed (``probe_*``) with 95 % CIs, over the
    triplet noise ceiling (band from the leave-one-out to the majority estimate, or
    one estimate's CI) and chance (1/3).

    metrics: rows of the ``metrics`` schema. Returns a matplotlib Figure, or None
    when there are no odd-one-out rows.
    """
    df = metrics[
        metrics["metric"].str.match(_OOO) & ~metrics["metric"].str.endswith(("_temperature", "_loglik"))
    ].copy()
    if df.empty:
        return None
    objectives = objectives or style.model_objectives(df["model"].unique())
    df["label"] = plotting.labels(df)
    nc = metrics[metrics["metric"].str.startswith("noise_ceiling_")]
    datasets = sorted(df["dataset"].unique())
    variants = sorted(df["metric"].unique(), key=lambda m: (m.startswith("probe_"), m != "probe_zero_shot", m))
    markers = dict(zip(variants, "os^DvP*X"))
    labels = sorted(df["label"].unique(), key=lambda l: -df.loc[df["label"] == l, "value"].max())
    fig, axes = plotting.figure(len(datasets), width_per=max(3.8, 1.1 * len(labels) + 1.5))
    for ax, ds in zip(axes, datasets):
        if len(nc):
            vals = nc.set_index("metric")
            if {"noise_ceiling_loo", "noise_ceiling_majority"} <= set(vals.index):
                lo, hi = sorted([vals.loc["noise_ceiling_loo", "value"], vals.loc["noise_ceiling_majority", "value"]])
                lab = f"noise ceiling ({lo:.3f}–{hi:.3f})"
            else:
                r = vals.iloc[0]
                lo, hi = (r["ci_low"], r["ci_high"]) if np.isfinite(r["ci_low"]) else (r["value"], r["value"])
                lab = f"noise ceiling ({r['value']:.3f})"
            plotting.ceiling(ax, lo, hi, lab)
        plotting.chance(ax, 1 / 3, "chance (1/3)")
        sub = df[df["dataset"] == ds]
        width = 0.7 / max(len(variants), 1)
        for j, v in enumerate(variants):
            s = sub[sub["metric"] == v]
            for _, r in s.iterrows():
                x = labels.index(r["label"]) - 0.35 + width * (j + 0.5)
                plotting.whisker(
                    ax,
                    [x],
                    [r["value"]],
                    [r["ci_low"]],
                    [r["ci_high"]],
                    style.objective_colour(objectives.get(r["model"])),
                    marker=markers[v],
                )
        tilt = len(labels) > 3 or (len(labels) > 1 and max(map(len, labels)) > 14)  # long names would collide
        ax.set_xticks(range(len(labels)), labels, rotation=30 if tilt else 0, ha="right" if tilt else "center")
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.set_title(f"{ds} triplets")
        ax.set_ylabel("odd-one-out accuracy (95% CI)")
    from matplotlib.lines import Line2D

    handles, _ = axes[0].get_legend_handles_labels()
    handles += [
        Line2D(
            [],
            [],
            marker=markers[v],
            linestyle="none",
            color="#444444",
            label=v.replace("odd_one_out_", "zero-shot ").replace("probe_", "probe: ").replace("_", " "),
        )
        for v in variants
    ]
    handles += plotting.objective_handles((objectives.get(m, "other") for m in df["model"]), "objective: {}")
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """``ResultFamily.figures`` of the odd-one-out family: ``odd_one_out.png`` (+ PDF) in
    ``out_dir`` when the run has odd-one-out rows."""
    with plotting.draw():
        fig = plot_odd_one_out(plotting.metrics_rows(metrics))
        if fig is None:
            return []
        png, pdf = plotting.save(fig, out_dir, "odd_one_out")
    return [
        FamilyFigure(
            "odd_one_out",
            "Odd-one-out accuracy per representation",
            "Zero-shot and probed accuracy with 95% CIs; grey band: triplet noise ceiling (leave-one-out to majority "
            "estimate); dotted: chance (1/3). Colour: training objective.",
            png,
            pdf,
            (anchor("metrics", "odd_one_out"),),
        )
    ]
