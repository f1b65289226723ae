"""The report's figures: one per result family that a run produced (matplotlib), plus
the R stage's ggplot2 figures, all in one style (``repalign.pipeline.style``).

Families (``FAMILIES``, in report order) and what draws them:

==================  =======================================================  ======
family              figure                                                   drawn by
==================  =======================================================  ======
odd_one_out         accuracy per representation (zero-shot and probed),     Python
                    95 % CIs, triplet noise-ceiling band, chance (1/3)
rsa                 RSA per representation, 95 % CIs, noise-ceiling band     Python
                    (lower–upper), zero
cka                 CKA heatmap, representation × reference, rows in the    Python
                    RSA figure's order, self-cells (1) framed on a diagonal
dimensionality      intrinsic dimensionality against an alignment measure,   Python
                    panels in ``ID_ESTIMATORS`` order (+ R's                 / R
                    ``alignment_vs_intrinsic_dim`` when fitted)
choice_models       cross-validated pseudo-R² per representation, 95 %      Python
                    participant-bootstrap CIs, zero (= chance)
alignment_vs_size   pseudo-R² against log10 training-set size by objective   R
                    with the fitted alignment model's lines (none from a
                    saturated or unconverged fit; the caption says why)
learning            learning curves (R: choices; Python: dynamics curves     R /
                    with chance and its band) and generalisation lags        Python
error_consistency   accuracy and κ to humans per agent, human band           Python
==================  =======================================================  ======

Rules every figure keeps (tested in ``tests/python/test_report_figures.py``,
``tests/testthat/test-figures.R`` and, on the rendered report,
``tests/python/test_report_browser.py``): every line and band is named in its caption;
axes name the estimator; no tick labels over each other (long names are turned); the
report shows first the figure of the table its first finding cites.

Every ``plot_*`` function maps tables to a matplotlib ``Figure`` (no files);
``python_figures`` draws what the tables allow and writes PNG + PDF under
``<output>/figures/``; ``r_figures`` files the R stage's PNGs (each beside its PDF)
under their families.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

import repalign.metrics  # noqa: F401  (its modules register the result families metric_family reads)
from repalign.families import anchor, owner
from repalign.metrics.behaviour_tables import classification_columns, classification_wide
from repalign.pipeline import style
from repalign.store import temp_name

FAMILIES: dict[str, str] = {
    "odd_one_out": "Odd-one-out accuracy",
    "rsa": "Representational similarity (RSA)",
    "cka": "CKA between representations",
    "dimensionality": "Intrinsic dimensionality and alignment",
    "choice_models": "Choice models (pseudo-R²)",
    "alignment_vs_size": "Alignment and training-set size",
    "learning": "Learning curves and generalisation lags",
    "error_consistency": "Accuracy and error consistency to humans",
    "other": "Other figures",
}

# R stage figure stems -> family
_R_FAMILIES = {
    "learning_curves": "learning",
    "alignment_vs_train_size": "alignment_vs_size",
    "alignment_vs_intrinsic_dim": "dimensionality",
    "alignment_coefficients": "alignment_vs_size",
    "curves": "learning",
    "lag": "learning",
    "accuracy": "error_consistency",
}


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
    return fam.name if fam is not None else "other"


# ---- helpers ------------------------------------------------------------------------------


def _labels(df: pd.DataFrame) -> pd.Series:
    """Representation label: the model, with the layer where a model has several."""
    layers = df.groupby("model")["layer"].nunique()
    multi = set(layers[layers > 1].index)
    return df.apply(
        lambda r: f"{r['model']} / {r['layer']}" if r["model"] in multi and r["layer"] else str(r["model"]), axis=1
    )


def _whisker(ax, x, y, lo, hi, colour, horizontal: bool = False, **kw):
    """A CI whisker (no caps) from lo to hi and its point (x, y), in the shared style:
    vertical at x, or horizontal at y."""
    lo, hi = np.asarray(lo, float), np.asarray(hi, float)
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.any():
        draw, at = (ax.hlines, y) if horizontal else (ax.vlines, x)
        draw(np.asarray(at)[ok], lo[ok], hi[ok], colors=colour, linewidth=style.CI_LINEWIDTH, alpha=0.85)
    ax.plot(x, y, linestyle="none", color=colour, **({"marker": "o", "markersize": style.POINT_SIZE} | kw))


def _hwhisker(ax, y, x, lo, hi, colour, **kw):
    """A horizontal CI whisker at y (see ``_whisker``)."""
    _whisker(ax, x, y, lo, hi, colour, horizontal=True, **kw)


def _chance(ax, y, label="chance", horizontal=True):
    c = style.CHANCE
    line = ax.axhline if horizontal else ax.axvline
    line(y, color=c["colour"], linestyle=c["linestyle"], linewidth=c["linewidth"], label=label, zorder=1)


def _zero(ax, horizontal=True):
    z = style.ZERO
    (ax.axhline if horizontal else ax.axvline)(
        0, color=z["colour"], linestyle=z["linestyle"], linewidth=z["linewidth"], zorder=0
    )


def _ceiling(ax, low, high, label, horizontal=True):
    c = style.CEILING
    if horizontal:
        ax.axhspan(low, high, color=c["fill"], alpha=c["alpha"], zorder=0, label=label)
        for v in (low, high):
            ax.axhline(v, color=c["edge"], linestyle=c["linestyle"], linewidth=0.8, zorder=0)
    else:
        ax.axvspan(low, high, color=c["fill"], alpha=c["alpha"], zorder=0, label=label)
        for v in (low, high):
            ax.axvline(v, color=c["edge"], linestyle=c["linestyle"], linewidth=0.8, zorder=0)


def _objective_legend(ax, objectives: Iterable[str], **kw):
    from matplotlib.lines import Line2D

    handles = [
        Line2D([], [], marker="o", linestyle="none", color=style.objective_colour(o), label=o)
        for o in sorted(set(objectives))
    ]
    return ax.legend(handles=handles, title="objective", **kw)


def _figure(n_panels: int, width_per: float = 4.2, height: float = 3.6, ncols_max: int = 3):
    import matplotlib.pyplot as plt

    ncols = min(n_panels, ncols_max)
    nrows = int(np.ceil(n_panels / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(width_per * ncols, 5.5), height * nrows), squeeze=False)
    for ax in axes.flat[n_panels:]:
        ax.set_visible(False)
    return fig, list(axes.flat[:n_panels])


# ---- odd-one-out ---------------------------------------------------------------------------

MARKERS = "osD^vP*Xhp<>"
WIDE_INCHES = 8.0  # figures wider than this span the report's width
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
    df["label"] = _labels(df)
    nc = metrics[metrics["metric"].str.startswith("noise_ceiling_")]
    datasets = sorted(df["dataset"].unique())
    variants = sorted(df["metric"].unique(), key=lambda m: (m.startswith("probe_"), m != "probe_zero_shot", m))
    markers = dict(zip(variants, "os^DvP*X"))
    labels = sorted(df["label"].unique(), key=lambda l: -df.loc[df["label"] == l, "value"].max())
    fig, axes = _figure(len(datasets), width_per=max(3.8, 1.1 * len(labels) + 1.5))
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
            _ceiling(ax, lo, hi, lab)
        _chance(ax, 1 / 3, "chance (1/3)")
        sub = df[df["dataset"] == ds]
        width = 0.7 / max(len(variants), 1)
        for j, v in enumerate(variants):
            s = sub[sub["metric"] == v]
            for _, r in s.iterrows():
                x = labels.index(r["label"]) - 0.35 + width * (j + 0.5)
                _whisker(
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
    handles += [
        Line2D([], [], marker="o", linestyle="none", color=style.objective_colour(o), label=f"objective: {o}")
        for o in sorted({objectives.get(m, "other") for m in df["model"]})
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


# ---- RSA ---------------------------------------------------------------------------------

_RSA = re.compile(r"^rsa_([a-z]+)$")


def plot_rsa(metrics: pd.DataFrame, objectives: dict[str, str] | None = None):
    """RSA per representation (``rsa_<method>``) with 95 % CIs, sorted, over the
    noise-ceiling band (``rsa_<method>_ceiling_lower`` to ``_upper``) and zero.
    One panel per method × dataset; None without RSA rows."""
    df = metrics[metrics["metric"].str.match(_RSA)].copy()
    if df.empty:
        return None
    objectives = objectives or style.model_objectives(df["model"].unique())
    df["label"] = _labels(df)
    groups = sorted(df.groupby(["metric", "dataset"]).groups)
    n = df.groupby(["metric", "dataset"]).size().max()
    fig, axes = _figure(len(groups), width_per=6.5, height=max(2.6, 0.38 * n + 1.2), ncols_max=2)
    for ax, (metric, ds) in zip(axes, groups):
        sub = df[(df["metric"] == metric) & (df["dataset"] == ds)].sort_values("value")
        ceil = metrics[
            (metrics["dataset"] == ds) & metrics["metric"].isin([f"{metric}_ceiling_lower", f"{metric}_ceiling_upper"])
        ]
        c = ceil.groupby("metric")["value"].first()
        if len(c) == 2:
            lo, hi = c[f"{metric}_ceiling_lower"], c[f"{metric}_ceiling_upper"]
            _ceiling(ax, lo, hi, f"noise ceiling ({lo:.3f}–{hi:.3f})", horizontal=False)
        _zero(ax, horizontal=False)
        y = np.arange(len(sub))
        for yi, (_, r) in zip(y, sub.iterrows()):
            _hwhisker(
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
    from matplotlib.lines import Line2D

    handles = axes[0].get_legend_handles_labels()[0]
    handles += [
        Line2D([], [], marker="o", linestyle="none", color=style.objective_colour(o), label=f"objective: {o}")
        for o in sorted({objectives.get(m, "other") for m in df["model"]})
    ]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    return fig


# ---- CKA ---------------------------------------------------------------------------------


def _same_representation(model: str, layer: str, reference: str) -> bool:
    """Whether a CKA reference (``model/layer@stimuli`` or ``model@stimuli``) names
    the representation (model, layer) itself."""
    name = str(reference).split("@", 1)[0]
    return name == (f"{model}/{layer}" if layer else str(model)) or (not layer and name.startswith(f"{model}/"))


def plot_cka(metrics: pd.DataFrame, order: Sequence[tuple[str, str]] | None = None):
    """CKA heatmap: rows = representations, columns = references (the ``dataset``
    column of ``cka*`` rows), one panel per CKA variant; values printed in cells.
    Scale 0 (unrelated) to 1 (identical up to rotation and scale). None without rows.

    Rows run top to bottom in ``order`` ((model, layer) pairs: the RSA figure's
    order, most aligned first; rows not in it follow by mean CKA); references that
    are representations of the figure come first, in the rows' order, so the
    self-cells lie on a diagonal. A self-cell is drawn as 1 (CKA of a
    representation with itself, by definition; not computed) with a black frame."""
    df = metrics[metrics["metric"].str.startswith("cka")].copy()
    if df.empty:
        return None
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    df["label"] = _labels(df)
    rank = {tuple(map(str, k)): i for i, k in enumerate(order or [])}
    mean = df.groupby("label")["value"].mean()
    rows = df.drop_duplicates("label")[["label", "model", "layer"]]
    refs = list(dict.fromkeys(df["dataset"].astype(str)))
    # a reference that is one of the ranked representations but has no row of its own
    # (it is not measured against itself) gets one: its self-cell completes the diagonal
    have = set(zip(rows["model"].astype(str), rows["layer"].astype(str)))
    extra = [(m, l) for m, l in rank if (m, l) not in have and any(_same_representation(m, l, r) for r in refs)]
    if extra:
        rows = pd.concat(
            [rows, pd.DataFrame({"model": [m for m, _ in extra], "layer": [l for _, l in extra]})], ignore_index=True
        )
        rows["label"] = _labels(rows)
        df["label"] = (
            rows.set_index(["model", "layer"])["label"].reindex(list(zip(df["model"], df["layer"]))).to_numpy()
        )
    rows = rows.assign(
        rank=[rank.get((str(m), str(l)), len(rank)) for m, l in zip(rows["model"], rows["layer"])],
        mean=rows["label"].map(mean),
    )
    rows = rows.sort_values(["rank", "mean"], ascending=[True, False]).reset_index(drop=True)
    row_of = {
        r: next((i for i, x in rows.iterrows() if _same_representation(x["model"], x["layer"], r)), None) for r in refs
    }
    cols = sorted(refs, key=lambda r: (row_of[r] is None, row_of[r] if row_of[r] is not None else 0, r))
    variants = sorted(df["metric"].unique())
    nrow, ncol = len(rows), len(cols)
    long_cols = ncol > 2 or max(len(c) for c in cols) > 24
    fig, axes = _figure(
        len(variants), width_per=max(4.5, 1.4 * ncol + 3.0), height=max(3.0, 0.45 * nrow + 1.6), ncols_max=2
    )
    for ax, v in zip(axes, variants):
        m = df[df["metric"] == v].pivot_table(index="label", columns="dataset", values="value", aggfunc="first")
        m = m.reindex(index=list(rows["label"]), columns=cols)
        selfs = [(i, cols.index(r)) for r, i in row_of.items() if i is not None]
        for i, j in selfs:
            if not np.isfinite(m.iat[i, j]):
                m.iat[i, j] = 1.0
        im = ax.imshow(m.to_numpy(float), vmin=0, vmax=1, cmap="viridis", aspect="auto")
        ax.set_xticks(
            range(ncol),
            [c.replace("@", "\n@") for c in cols],
            rotation=30 if long_cols else 0,
            ha="right" if long_cols else "center",
        )
        ax.set_yticks(range(nrow), rows["label"])
        ax.grid(False)
        for i in range(nrow):
            for j in range(ncol):
                val = m.iat[i, j]
                if np.isfinite(val):
                    ax.text(
                        j,
                        i,
                        f"{val:.2f}",
                        ha="center",
                        va="center",
                        color="white" if val < 0.6 else "black",
                        fontsize=style.BASE_SIZE - 1,
                    )
        for i, j in selfs:
            ax.add_patch(
                Rectangle(
                    (j - 0.5, i - 0.5),
                    1,
                    1,
                    fill=False,
                    edgecolor="black",
                    linewidth=1.6,
                    label="self (1 by definition)",
                )
            )
        ax.set_title(v.replace("_", " "))
        ax.set_xlabel("reference")
        plt.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="CKA (0–1)")
    fig.tight_layout()
    return fig


def representation_order(metrics: pd.DataFrame, scores: pd.DataFrame | None = None) -> list[tuple[str, str]]:
    """(model, layer) pairs from most to least aligned by the figure's alignment
    measure (``alignment_measure``: RSA first, as the RSA figure shows them top to
    bottom); [] without one."""
    al = alignment_measure(metrics, scores)
    if al is None:
        return []
    d = al[0].assign(layer=al[0]["layer"].fillna("").astype(str)).sort_values("value", ascending=False, kind="stable")
    return list(dict.fromkeys(zip(d["model"].astype(str), d["layer"])))


# ---- intrinsic dimensionality vs alignment -------------------------------------------------


def alignment_measure(
    metrics: pd.DataFrame, scores: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, str, float] | None:
    """The alignment measure to set against dimensionality: RSA, else zero-shot
    odd-one-out on the largest triplet set, else cross-validated pseudo-R² (first
    task). Returns (rows with model, layer, value, ci_low, ci_high; axis label;
    chance level) or None."""
    rsa = metrics[metrics["metric"].str.match(_RSA)]
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
    markers = {m: MARKERS[i % len(MARKERS)] for i, m in enumerate(models)}
    fig, axes = _figure(len(estimators), width_per=4.2, height=3.4, ncols_max=2)
    for ax, est in zip(axes, estimators):
        s = joined[joined["metric"] == est]
        _chance(ax, chance, f"chance ({chance:.3g})")
        for _, r in s.iterrows():
            _whisker(
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


# ---- choice models -----------------------------------------------------------------------


def plot_choice_models(scores: pd.DataFrame, objectives: dict[str, str] | None = None):
    """Cross-validated pseudo-R² per representation (``alignment_scores.csv`` of the
    R stage) with 95 % participant-bootstrap CIs, one panel per task (or task kind);
    0 = no better than choosing at chance. None without rows."""
    if scores is None or scores.empty:
        return None
    s = scores.copy()
    s["layer"] = s["layer"].fillna("").astype(str) if "layer" in s else ""
    s["label"] = _labels(s)
    panel_cols = [c for c in ("task_kind", "task") if c in s and s[c].nunique() > 1] or [
        c for c in ("task_kind", "task") if c in s
    ][:1]
    s["panel"] = s[panel_cols].astype(str).agg(" / ".join, axis=1) if panel_cols else "all"
    objectives = objectives or style.model_objectives(s["model"].unique())
    panels = sorted(s["panel"].unique())
    n = s.groupby("panel").size().max()
    fig, axes = _figure(len(panels), width_per=6.0, height=max(2.4, 0.38 * n + 1.2), ncols_max=2)
    for ax, p in zip(axes, panels):
        sub = s[s["panel"] == p].sort_values("pseudo_r2")
        _zero(ax, horizontal=False)
        c = style.CHANCE
        ax.axvline(0, color=c["colour"], linestyle=c["linestyle"], linewidth=c["linewidth"], label="chance (0)")
        y = np.arange(len(sub))
        for yi, (_, r) in zip(y, sub.iterrows()):
            _hwhisker(
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
    _objective_legend(axes[-1], [objectives.get(m, "other") for m in s["model"]], loc="lower right")
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
    fig, axes = _figure(len(agents), width_per=3.0, height=2.6, ncols_max=4)
    for ax, agent in zip(axes, agents):
        sub = curves[curves["agent"] == agent]
        _chance(ax, chance, f"chance ({chance:.3g})")
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
            _whisker(ax, g["epoch"], g["mean"], g["mean"] - 1.96 * sem, g["mean"] + 1.96 * sem, colour, markersize=3)
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
    _zero(ax, horizontal=False)
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


# ---- classification: accuracy and error consistency --------------------------------------


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
                _ceiling(ax, hl, hh, "humans", horizontal=False)
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
                _hwhisker(
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


# ---- writing -------------------------------------------------------------------------------


def save(fig, outdir: Path, name: str) -> tuple[Path, Path]:
    """Write ``<outdir>/<name>.png`` and ``.pdf`` atomically; close the figure."""
    import matplotlib.pyplot as plt

    outdir.mkdir(parents=True, exist_ok=True)
    paths = (outdir / f"{name}.png", outdir / f"{name}.pdf")
    try:
        for p in paths:
            tmp = temp_name(p)
            fig.savefig(tmp, format=p.suffix[1:], facecolor="white")
            os.replace(tmp, p)
    finally:
        plt.close(fig)
    return paths


def _png_inches(path: Path) -> float:
    """Width of a PNG in inches (its pixel width over its dpi, default ``style.DPI``)."""
    from PIL import Image

    with Image.open(path) as im:
        dpi = im.info.get("dpi", (style.DPI,))[0] or style.DPI
        return im.width / float(dpi)


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
    among the run's files (``ResultFamily.tables``), {family name: {table anchor: table}}
    (the ``error_consistency`` family's are drawn by ``plot_error_consistency``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figs: list[Figure] = []
    dynamics = dynamics or {}
    dynamics_anchors = dynamics_anchors or {}
    has_metrics = metrics is not None and len(metrics) > 0
    m = (
        metrics
        if has_metrics
        else pd.DataFrame(columns=["model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n"])
    )
    m = m.assign(layer=m["layer"].fillna("").astype(str))
    objectives = style.model_objectives(
        set(m["model"]) | (set(scores["model"]) if scores is not None and len(scores) else set())
    )

    def add(fig, family, name, title, caption, tables):
        if fig is None:
            return
        png, pdf = save(fig, outdir, name)
        wide = _png_inches(png) > WIDE_INCHES
        figs.append(Figure(family, name, title, caption, png, pdf, [t for t in tables if t], wide=wide))

    from matplotlib.patches import Rectangle

    with plt.rc_context(style.rc_params()):
        add(
            plot_odd_one_out(m, objectives),
            "odd_one_out",
            "odd_one_out",
            "Odd-one-out accuracy per representation",
            "Zero-shot and probed accuracy with 95% CIs; grey band: triplet noise ceiling (leave-one-out to majority "
            "estimate); dotted: chance (1/3). Colour: training objective.",
            [anchor("metrics", "odd_one_out")],
        )
        add(
            plot_rsa(m, objectives),
            "rsa",
            "rsa",
            "RSA per representation",
            "Correlation of model and human RDMs with 95% CIs; grey band: noise ceiling (lower–upper); light line: 0.",
            [anchor("metrics", "rsa")],
        )
        order = representation_order(m, scores)
        cka_fig = plot_cka(m, order)
        framed = cka_fig is not None and any(
            isinstance(p, Rectangle) and not p.get_fill() for ax in cka_fig.axes for p in ax.patches
        )
        add(
            cka_fig,
            "cka",
            "cka",
            "CKA between representations",
            "CKA of each representation with each reference (0 = unrelated, 1 = identical up to rotation and "
            "isotropic scaling); rows "
            + (
                "in the RSA figure's order (most aligned first)"
                if m["metric"].str.match(_RSA).any()
                else "from most to least aligned"
                if order
                else "by mean CKA"
            )
            + ("; black frame: a representation against itself (1 by definition, not computed)" if framed else "")
            + ".",
            [anchor("metrics", "cka")],
        )
        add(
            plot_dimensionality(m, scores, objectives),
            "dimensionality",
            "dimensionality_vs_alignment",
            "Intrinsic dimensionality against alignment",
            "Each representation's intrinsic dimensionality (one panel per estimator, named on its x axis) against "
            "its alignment (95% CI); dotted: chance level of the alignment measure; points only, no fitted line.",
            [
                anchor("metrics", "dimensionality"),
                scores_anchor
                if not has_metrics or alignment_measure(m) is None
                else anchor("metrics", "rsa" if m["metric"].str.match(_RSA).any() else "odd_one_out"),
            ],
        )
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
        for i, (anc, table) in enumerate(sorted((tables or {}).get("error_consistency", {}).items())):
            add(
                plot_error_consistency(table),
                "error_consistency",
                f"error_consistency_{i}" if i else "error_consistency",
                "Accuracy and error consistency to humans",
                "Per agent, accuracy and error consistency (Cohen's κ of trial-wise correctness) to humans with CIs; "
                "grey band: the humans' own value (CI); dotted: κ = 0 / chance.",
                [anc],
            )
    keep = {p.name for f in figs for p in (f.png, f.pdf)}
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
        wide = _png_inches(p) > WIDE_INCHES
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
