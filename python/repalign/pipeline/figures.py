"""The report's figures, in one style (``repalign.style``): every registered result
family's own figures (``ResultFamily.figures``, drawn in the family's module, e.g.
``repalign.metrics.rsa_figures``), the figures of the stages that are no result family
(the R stage's choice models, the learning dynamics) and the R stage's ggplot2 figures.

Figure groups (``figure_groups``, the report's order and titles): the registered families
in registration order with their own titles, then the groups of ``STAGE_GROUPS`` (outputs
of the R stage and the dynamics stage, drawn here or in R), then ``other``:

==================  =======================================================  ======
group               figure                                                   drawn by
==================  =======================================================  ======
odd_one_out …       each family's figures (``repalign.metrics.*_figures``;   Python
                    the dimensionality family's also R's                     / R
                    ``alignment_vs_intrinsic_dim`` when fitted)
choice_models       cross-validated pseudo-R² per representation, 95 %      Python
                    participant-bootstrap CIs, zero (= chance)
alignment_vs_size   pseudo-R² against log10 training-set size by objective   R
                    with the fitted alignment model's lines (none from a
                    saturated or unconverged fit; the caption says why)
learning            learning curves (R: choices; Python: dynamics curves     R /
                    with chance and its band) and generalisation lags        Python
==================  =======================================================  ======

Rules every figure keeps (tested in ``tests/python/test_report_figures.py``,
``tests/testthat/test-figures.R`` and, on the rendered report,
``tests/python/test_report_browser.py``): every line and band is named in its caption;
axes name the estimator; no tick labels over each other (long names are turned); the
report shows first the figure of the table its first finding cites.

Every ``plot_*`` function maps tables to a matplotlib ``Figure`` (no files);
``python_figures`` draws what the tables allow and writes PNG + PDF under
``<output>/figures/`` (``repalign.plotting.save``); ``r_figures`` files the R stage's
PNGs (each beside its PDF) under their groups.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.metrics  # noqa: F401  (its modules register the result families)
import repalign.plotting as plotting
import repalign.style as style
from repalign.families import anchor, families, owner

__all__ = ["Figure", "STAGE_GROUPS", "anchor", "figure_groups", "metric_family", "python_figures", "r_figures"]

#: figure groups of stage outputs that are no registered result family (R stage, dynamics)
STAGE_GROUPS: dict[str, str] = {
    "choice_models": "Choice models (pseudo-R²)",
    "alignment_vs_size": "Alignment and training-set size",
    "learning": "Learning curves and generalisation lags",
}
OTHER = "other"  # R figures of no known group

# R stage figure stems -> group
_R_FAMILIES = {
    "learning_curves": "learning",
    "alignment_vs_train_size": "alignment_vs_size",
    "alignment_vs_intrinsic_dim": "dimensionality",
    "alignment_coefficients": "alignment_vs_size",
    "curves": "learning",
    "lag": "learning",
    "accuracy": "error_consistency",
}


def figure_groups() -> dict[str, str]:
    """{group name: title} in the report's order: the registered result families (in
    registration order, their own titles), ``STAGE_GROUPS``, then ``other``."""
    return {f.name: f.title for f in families()} | STAGE_GROUPS | {OTHER: "Other figures"}


@dataclass
class Figure:
    """One figure of the report: PNG (embedded) and PDF files, its family and the
    anchors of the tables it was drawn from."""

    family: str
    name: str
    title: str
    caption: str
    png: Path
    pdf: Path | None = None
    tables: list[str] = field(default_factory=list)
    source: str = "python"
    wide: bool = False  # spans the report's whole width (many panels)


def metric_family(metric: str) -> str:
    """Figure group of a metrics-table row by its ``metric`` name: the registered result
    family that owns the name (``ResultFamily.metrics``, ``repalign.families.owner``),
    else ``"other"``."""
    fam = owner(metric)
    return fam.name if fam is not None else OTHER


# ---- choice models -----------------------------------------------------------------------


def plot_choice_models(scores: pd.DataFrame, objectives: dict[str, str] | None = None):
    """Cross-validated pseudo-R² per representation (``alignment_scores.csv`` of the
    R stage) with 95 % participant-bootstrap CIs, one panel per task (or task kind);
    0 = no better than choosing at chance. None without rows."""
    if scores is None or scores.empty:
        return None
    s = scores.copy()
    s["layer"] = s["layer"].fillna("").astype(str) if "layer" in s else ""
    s["label"] = plotting.labels(s)
    panel_cols = [c for c in ("task_kind", "task") if c in s and s[c].nunique() > 1] or [
        c for c in ("task_kind", "task") if c in s
    ][:1]
    s["panel"] = s[panel_cols].astype(str).agg(" / ".join, axis=1) if panel_cols else "all"
    objectives = objectives or style.model_objectives(s["model"].unique())
    panels = sorted(s["panel"].unique())
    n = s.groupby("panel").size().max()
    fig, axes = plotting.figure(len(panels), width_per=6.0, height=max(2.4, 0.38 * n + 1.2), ncols_max=2)
    for ax, p in zip(axes, panels):
        sub = s[s["panel"] == p].sort_values("pseudo_r2")
        plotting.zero(ax, horizontal=False)
        c = style.CHANCE
        ax.axvline(0, color=c["colour"], linestyle=c["linestyle"], linewidth=c["linewidth"], label="chance (0)")
        y = np.arange(len(sub))
        for yi, (_, r) in zip(y, sub.iterrows()):
            plotting.hwhisker(
                ax,
                [yi],
                [r["pseudo_r2"]],
                [r.get("ci_low", np.nan)],
                [r.get("ci_high", np.nan)],
                style.objective_colour(objectives.get(r["model"])),
            )
        ax.set_yticks(y, sub["label"])
        ax.set_xlabel("cross-validated pseudo-R² (95% CI)")
        ax.set_title(str(p))
    plotting.objective_legend(axes[-1], [objectives.get(m, "other") for m in s["model"]], loc="lower right")
    fig.tight_layout()
    return fig


# ---- learning dynamics -------------------------------------------------------------------


def plot_dynamics_curves(curves: pd.DataFrame, chance: float = 1 / 3, chance_upper: float | None = None):
    """Learning curves of ``accuracy_summary`` tables: mean accuracy per epoch, train
    and test, ±1.96 s.e.m. across runs (95 % CI, normal approximation), one panel
    per agent, with chance and the upper end of the chance band (dashed)."""
    if curves is None or curves.empty:
        return None
    agents = list(dict.fromkeys(curves.sort_values(["agent_type", "agent"])["agent"]))
    fig, axes = plotting.figure(len(agents), width_per=3.0, height=2.6, ncols_max=4)
    for ax, agent in zip(axes, agents):
        sub = curves[curves["agent"] == agent]
        plotting.chance(ax, chance, f"chance ({chance:.3g})")
        if chance_upper is not None:
            ax.axhline(
                chance_upper,
                color=style.CEILING["edge"],
                linestyle="--",
                linewidth=0.8,
                label=f"chance band upper ({chance_upper:.3g})",
            )
        for phase, g in sub.groupby("phase"):
            g = g.sort_values("epoch")
            colour = style.PHASE_COLOURS.get(str(phase), style.OTHER_COLOUR)
            sem = g["sem"].fillna(0).to_numpy() if "sem" in g else np.zeros(len(g))
            ax.plot(g["epoch"], g["mean"], color=colour, linewidth=1.2, label=str(phase))
            plotting.whisker(
                ax, g["epoch"], g["mean"], g["mean"] - 1.96 * sem, g["mean"] + 1.96 * sem, colour, markersize=3
            )
        ax.set_ylim(0, 1.02)
        ax.set_title(str(agent), fontsize=style.BASE_SIZE)
        ax.set_xlabel("epoch")
        ax.set_ylabel("accuracy")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def plot_generalisation_lag(lag: pd.DataFrame):
    """Generalisation lag per agent (mean train − test accuracy over the window;
    Huber et al. 2024, Fig. 3b), humans black, with zero. Agents with no window
    (NaN lag) are listed with an × at 0. The lag is one number per agent (no CI)."""
    if lag is None or lag.empty:
        return None
    import matplotlib.pyplot as plt

    d = lag.sort_values("lag", na_position="first").reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.0, max(2.2, 0.35 * len(d) + 1.0)))
    plotting.zero(ax, horizontal=False)
    colours = {"human": style.OBJECTIVE_COLOURS["human"]}
    for i, r in d.iterrows():
        col = colours.get(
            str(r["agent_type"]), style.PHASE_COLOURS["train"] if r["agent_type"] == "network" else "#009E73"
        )
        if np.isfinite(r["lag"]):
            ax.hlines(i, 0, r["lag"], color=col, linewidth=2.5)
            ax.plot([r["lag"]], [i], "o", color=col, markersize=style.POINT_SIZE)
        else:
            ax.plot([0], [i], "x", color=col)
    ax.set_yticks(range(len(d)), [f"{a} ({t})" for a, t in zip(d["agent"], d["agent_type"])])
    ax.set_xlabel("generalisation lag (train − test accuracy)")
    fig.tight_layout()
    return fig


# ---- writing -------------------------------------------------------------------------------


def python_figures(
    outdir: Path,
    metrics: pd.DataFrame,
    scores: pd.DataFrame | None = None,
    dynamics: dict[str, pd.DataFrame] | None = None,
    tables: dict[str, dict[str, pd.DataFrame]] | None = None,
    scores_anchor: str = "",
    dynamics_anchors: dict[str, str] | None = None,
) -> list[Figure]:
    """Draw every figure the tables allow into ``outdir`` (PNG + PDF); files from an
    earlier report that this one does not draw are removed.

    metrics: the run's metrics rows; scores: the R stage's alignment scores;
    dynamics: {"curves": ..., "lag": ...}; tables: the tables the result families found
    among the run's files (``ResultFamily.tables``), {family name: {table anchor: table}},
    each family's handed to its ``figures`` with the metrics rows.
    """
    figs: list[Figure] = []
    dynamics = dynamics or {}
    dynamics_anchors = dynamics_anchors or {}
    tables = tables or {}
    objectives = style.model_objectives(set(scores["model"])) if scores is not None and len(scores) else {}

    def add(fig, family, name, title, caption, tables):
        if fig is None:
            return
        png, pdf = plotting.save(fig, outdir, name)
        wide = plotting.png_inches(png) > plotting.WIDE_INCHES
        figs.append(Figure(family, name, title, caption, png, pdf, [t for t in tables if t], wide=wide))

    for fam in families():
        for ff in fam.figures(metrics, outdir, tables.get(fam.name, {})):
            wide = plotting.png_inches(ff.png) > plotting.WIDE_INCHES
            figs.append(Figure(fam.name, ff.name, ff.title, ff.caption, ff.png, ff.pdf, list(ff.tables), wide=wide))
    with plotting.draw():
        add(
            plot_choice_models(scores, objectives),
            "choice_models",
            "choice_models_pseudo_r2",
            "Choice models: cross-validated pseudo-R²",
            "Pseudo-R² = 1 − NLL/NLL(chance) of participant-blocked cross-validated choice models, with 95% "
            "participant-bootstrap CIs; dotted: chance (0).",
            [scores_anchor],
        )
        lag = dynamics.get("lag")
        upper = float(lag["chance_upper"].iloc[0]) if lag is not None and len(lag) and "chance_upper" in lag else None
        add(
            plot_dynamics_curves(dynamics.get("curves"), chance_upper=upper),
            "learning",
            "dynamics_curves",
            "Learning curves (train and test accuracy per epoch)",
            "Mean accuracy across runs per epoch (lines join the epoch means) ± 1.96 s.e.m. (95% CI); dotted: "
            "chance (1/3); dashed: upper end of the 95% chance band.",
            [dynamics_anchors.get("curves", "")],
        )
        add(
            plot_generalisation_lag(lag),
            "learning",
            "generalisation_lag",
            "Generalisation lag per agent",
            "Mean train − test accuracy over each agent's window (Huber et al. 2024), drawn as a bar from 0; "
            "one number per agent, no CI; "
            "× = no window (training accuracy never left the chance band).",
            [dynamics_anchors.get("lag", "")],
        )
    keep = {p.name for f in figs for p in (f.png, f.pdf) if p is not None}
    if outdir.is_dir():
        for p in outdir.iterdir():
            if p.suffix in (".png", ".pdf") and p.name not in keep:
                p.unlink()
    return figs


def r_figures(pngs: Iterable[Path], tables: dict[str, str] | None = None) -> list[Figure]:
    """Figures written by the R stage (ggplot2, PNG beside PDF), filed by family."""
    tables = tables or {}
    titles = {
        "learning_curves": "Learning curves of people and learners (R)",
        "alignment_vs_train_size": "Alignment against log10 training-set size (R)",
        "alignment_vs_intrinsic_dim": "Alignment against intrinsic dimensionality (R)",
        "alignment_coefficients": "Alignment-model coefficients (R)",
    }
    captions = {
        "learning_curves": "Per trial bin, mean accuracy of people's choices and of the learner with 95% CI bands "
        "across participants; dotted: chance (0.5).",
        "alignment_vs_train_size": "Pseudo-R² with 95% CIs against log10(training-set size + 1), coloured by "
        "objective; the caption inside the figure says what its lines are, or why "
        "there are none.",
        "alignment_vs_intrinsic_dim": "Pseudo-R² with 95% CIs against intrinsic dimensionality per objective; "
        "points only, no fitted line.",
        "alignment_coefficients": "Fixed effects of the alignment models with 95% intervals; dashed: 0.",
    }
    out = []
    for p in sorted(pngs):
        stem = p.stem
        pdf = p.with_suffix(".pdf")
        wide = plotting.png_inches(p) > plotting.WIDE_INCHES
        own = p.with_suffix(".caption.txt")  # written by R's save_figure(): the figure's lines, or why none
        caption = own.read_text().strip() if own.is_file() else captions.get(stem, "")
        out.append(
            Figure(
                _R_FAMILIES.get(stem, "other"),
                f"r-{stem}",
                titles.get(stem, stem.replace("_", " ") + " (R)"),
                caption,
                p,
                pdf if pdf.is_file() else None,
                [t for t in (tables.get(stem, ""),) if t],
                source="R",
                wide=wide,
            )
        )
    return out
