"""The dimensionality family's figure: intrinsic dimensionality against an alignment
measure per representation; registered as ``DIMENSIONALITY.figures``
(``repalign.metrics.dimensionality_family``).

The figure reads several families: the alignment measure is RSA, else zero-shot
odd-one-out (both metrics rows), else the R stage's cross-validated pseudo-R²
(``alignment_scores.csv``, which the family finds among the run's files with
``find_scores``: ``ResultFamily.tables``, so the report hands it to ``figures`` under the
R table's anchor). ``alignment_measure`` and ``representation_order`` serve the CKA
figure as well (``repalign.metrics.cka_figures``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

import repalign.plotting as plotting
import repalign.style as style
from repalign.families import FamilyFigure, FamilyTable, anchor, files_under
from repalign.metrics.rsa_figures import RSA_METRIC

SCORES = "alignment_scores"  # the R stage's table of cross-validated pseudo-R² (alignment_scores.csv)


def find_scores(roots: Sequence[Path]) -> list[FamilyTable]:
    """The R stage's ``alignment_scores.csv`` among the run's files (in an R output folder,
    ``<output>/r/<key>/`` with its ``summary.txt``), anchored as the report's R tables are
    (``anchor("r", ...)``); the report shows them among its R tables and keeps their anchor."""
    found = [
        p
        for p in files_under(roots, f"{SCORES}.csv")
        if p.parent.parent.name == "r" and (p.parent / "summary.txt").is_file()
    ]
    return [
        FamilyTable(anchor("r", SCORES if len(found) == 1 else f"{SCORES}-{i}"), SCORES, pd.read_csv(p), p)
        for i, p in enumerate(found)
    ]


def first_scores(tables: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame | None, str]:
    """The first alignment-scores table the family was handed and its anchor (None, "" without)."""
    return next(((t, a) for a, t in tables.items()), (None, ""))


def alignment_measure(
    metrics: pd.DataFrame, scores: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str, float] | None:
    """The alignment measure to set against dimensionality: RSA, else zero-shot
    odd-one-out on the largest triplet set, else cross-validated pseudo-R² (first
    task). Returns (rows with model, layer, value, ci_low, ci_high; axis label;
    chance level) or None."""
    rsa = metrics[metrics["metric"].str.match(RSA_METRIC)]
    if len(rsa):
        m = sorted(rsa["metric"].unique())[0]
        d = rsa[rsa["metric"] == m]
        d = d[d["dataset"] == sorted(d["dataset"].unique())[0]]
        return d, f"RSA ({m.removeprefix('rsa_')})", 0.0
    ooo = metrics[metrics["metric"].str.match(r"^odd_one_out_[a-z]+$")]
    if len(ooo):
        ds = ooo.groupby("dataset")["n"].max().idxmax()
        m = sorted(ooo["metric"].unique())[0]
        d = ooo[(ooo["dataset"] == ds) & (ooo["metric"] == m)]
        return d, f"odd-one-out accuracy ({ds})", 1 / 3
    if scores is not None and len(scores):
        s = scores.copy()
        keys = [c for c in ("task", "task_kind") if c in s]
        if keys:
            first = s[keys].astype(str).agg("/".join, axis=1)
            s = s[first == sorted(first.unique())[0]]
        d = s.rename(columns={"pseudo_r2": "value"})
        return d, "cross-validated pseudo-R²", 0.0
    return None


def representation_order(metrics: pd.DataFrame, scores: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """(model, layer) pairs from most to least aligned by the figure's alignment
    measure (``alignment_measure``: RSA first, as the RSA figure shows them top to
    bottom); [] without one."""
    al = alignment_measure(metrics, scores)
    if al is None:
        return []
    d = al[0].assign(layer=al[0]["layer"].fillna("").astype(str)).sort_values("value", ascending=False, kind="stable")
    return list(dict.fromkeys(zip(d["model"].astype(str), d["layer"])))


#: intrinsic-dimensionality estimators: panel order (the nonlinear, local estimators
#: the R stage uses by default first, the global linear one last) and axis names
ID_ESTIMATORS = {"twonn": "TwoNN", "mle": "MLE", "gride": "GRIDE", "pca": "PCA", "pr": "participation ratio"}


def id_label(metric: str) -> str:
    """Axis name of a dimensionality metric: ``dimensionality_twonn`` ->
    ``intrinsic dimensionality (TwoNN)``."""
    est = str(metric).removeprefix("dimensionality_")
    return f"intrinsic dimensionality ({ID_ESTIMATORS.get(est, est)})"


def estimator_order(metrics: Iterable[str]) -> list[str]:
    """Dimensionality metrics in ``ID_ESTIMATORS`` order (others after, sorted)."""
    keys = list(ID_ESTIMATORS)
    est = lambda m: str(m).removeprefix("dimensionality_")  # noqa: E731
    return sorted(set(metrics), key=lambda m: (keys.index(est(m)) if est(m) in keys else len(keys), str(m)))


def plot_dimensionality(
    metrics: pd.DataFrame, scores: pd.DataFrame | None = None, objectives: dict[str, str] | None = None
):
    """Intrinsic dimensionality (x, one panel per estimator) against an alignment
    measure (y, 95 % CI whiskers; ``alignment_measure``) per representation, with
    the measure's chance level. None without both."""
    dims = metrics[metrics["metric"].str.startswith("dimensionality_")]
    al = alignment_measure(metrics, scores)
    if dims.empty or al is None:
        return None
    al_rows, ylabel, chance = al
    al_rows = al_rows.assign(layer=al_rows["layer"].fillna("").astype(str))
    joined = dims.merge(
        al_rows[["model", "layer", "value", "ci_low", "ci_high"]], on=["model", "layer"], suffixes=("_id", "")
    )
    if joined.empty:  # e.g. an embedding's layer is named differently in the two tables: match on model
        joined = dims.merge(
            al_rows[["model", "value", "ci_low", "ci_high"]].drop_duplicates("model"), on="model", suffixes=("_id", "")
        )
    if joined.empty:
        return None
    objectives = objectives or style.model_objectives(joined["model"].unique())
    estimators = estimator_order(joined["metric"].unique())
    models = sorted(joined["model"].unique())
    markers = {m: plotting.MARKERS[i % len(plotting.MARKERS)] for i, m in enumerate(models)}
    fig, axes = plotting.figure(len(estimators), width_per=4.2, height=3.4, ncols_max=2)
    for ax, est in zip(axes, estimators):
        s = joined[joined["metric"] == est]
        plotting.chance(ax, chance, f"chance ({chance:.3g})")
        for _, r in s.iterrows():
            plotting.whisker(
                ax,
                [r["value_id"]],
                [r["value"]],
                [r["ci_low"]],
                [r["ci_high"]],
                style.objective_colour(objectives.get(r["model"])),
                marker=markers[r["model"]],
            )
        ax.set_xlabel(id_label(est))
        ax.set_ylabel(f"{ylabel} (95% CI)")
        ax.margins(x=0.15)
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(nbins=6))  # "5.0 7.5 10.0 … 25.0" crowds a 4-inch axis
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [],
            [],
            marker=markers[m],
            linestyle="none",
            color=style.objective_colour(objectives.get(m)),
            label=f"{m} ({objectives.get(m, 'other')})",
        )
        for m in models
    ]
    handles += axes[0].get_legend_handles_labels()[0]
    fig.legend(handles=handles, title="representation (objective)", loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """``ResultFamily.figures`` of the dimensionality family: ``dimensionality_vs_alignment.png``
    (+ PDF) in ``out_dir``; ``tables``: the R stage's alignment scores (``find_scores``)."""
    m = plotting.metrics_rows(metrics)
    scores, scores_anchor = first_scores(tables)
    with plotting.draw():
        fig = plot_dimensionality(m, scores)
        if fig is None:
            return []
        png, pdf = plotting.save(fig, out_dir, "dimensionality_vs_alignment")
    if len(m) == 0 or alignment_measure(m) is None:
        cited = scores_anchor
    else:
        cited = anchor("metrics", "rsa" if m["metric"].str.match(RSA_METRIC).any() else "odd_one_out")
    return [
        FamilyFigure(
            "dimensionality_vs_alignment",
            "Intrinsic dimensionality against alignment",
            "Each representation's intrinsic dimensionality (one panel per estimator, named on its x axis) against "
            "its alignment (95% CI); dotted: chance level of the alignment measure; points only, no fitted line.",
            png,
            pdf,
            tuple(t for t in (anchor("metrics", "dimensionality"), cited) if t),
        )
    ]
