"""The shape-bias result family: console lines, figures, report section and finding
of ``[[metrics]] metric = "shape_bias"`` (``repalign.metrics.shape_bias``),
registered with ``repalign.families``.

Figures: (1) the published layout of Geirhos et al. (2019, Figure 4; redrawn, not
copied): one row per shape category, the fraction of shape decisions on a 0–1 axis
(texture decisions = 1 − that, on the top axis), one marker per agent, the people's
mean (filled) and range (grey band) per category, and each agent's overall shape
bias as a vertical line; (2) a summary: each agent's shape bias with its bootstrap
CI, the people's range as a band.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from repalign.families import FamilyFigure, ResultFamily, register, table_html
from repalign.metrics.behaviour import HUMANS

_SHOWN = (HUMANS, "network", "model", "human")


def _rows(metrics: pd.DataFrame, metric: str) -> pd.DataFrame:
    if metrics is None or metrics.empty or "agent_type" not in metrics.columns:
        return pd.DataFrame()
    return metrics[(metrics["metric"] == metric) & metrics["agent_type"].isin(_SHOWN)]


def summary_lines(table: pd.DataFrame) -> list[str]:
    """``shape_bias <agent> <value> [<lo>, <hi>]``, one per agent (each person, the people
    pooled as ``humans``, every network and model), in the table's order."""
    t = _rows(table, "shape_bias")
    return [
        f"shape_bias {r['model']} {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]" for _, r in t.iterrows()
    ]


def _summary_frame(metrics: pd.DataFrame) -> pd.DataFrame:
    sb = _rows(metrics, "shape_bias")
    if sb.empty:
        return sb
    cue = _rows(metrics, "cue_decided").set_index(["dataset", "model"])["value"]
    out = sb.assign(cue_decided=[cue.get((d, m), np.nan) for d, m in zip(sb["dataset"], sb["model"])])
    return out


def report_section(metrics: pd.DataFrame, roots: Sequence[Path] = ()) -> str:
    """HTML: the people's pooled value and range, and a table of every agent's shape bias
    (CI), its share of cue-decided trials; "" without shape-bias rows."""
    sb = _summary_frame(metrics)
    if sb.empty:
        return ""
    out = [
        "<h2>Shape bias (cue-conflict images)</h2>",
        "<p>Shape bias = shape decisions / (shape + texture decisions) over the cue-conflict trials "
        "(Geirhos et al. 2019); <i>cue decided</i>: share of those trials decided by either cue; "
        "95% percentile-bootstrap CIs over images; <i>humans</i>: the mean over the people.</p>",
    ]
    out += [f"<div class='finding'>{html.escape(f)}</div>" for f in findings(metrics)]
    tab = sb[sb["agent_type"] != "human"].sort_values(["dataset", "value"], ascending=[True, False])
    out.append(
        table_html(
            pd.DataFrame(
                {
                    "dataset": tab["dataset"],
                    "agent": tab["model"],
                    "type": tab["agent_type"],
                    "shape bias": tab["value"],
                    "CI": [f"[{lo:.3f}, {hi:.3f}]" for lo, hi in zip(tab["ci_low"], tab["ci_high"])],
                    "cue decided": tab["cue_decided"],
                    "decided trials": tab["n"],
                }
            )
        )
    )
    return "\n".join(out)


def findings(metrics: pd.DataFrame) -> list[str]:
    """Per dataset: the people's shape bias (CI, range) and the network or model closest to it."""
    sb = _rows(metrics, "shape_bias")
    out: list[str] = []
    if sb.empty:
        return out
    for ds, g in sb.groupby("dataset", sort=True):
        h = g[g["agent_type"] == HUMANS]
        rng = _rows(metrics, "shape_bias_min"), _rows(metrics, "shape_bias_max")
        lo, hi = (r[r["dataset"] == ds]["value"] for r in rng)
        cand = g[g["agent_type"].isin(["network", "model"])].sort_values("value", ascending=False)
        if h.empty or cand.empty:
            continue
        p, b = h.iloc[0], cand.iloc[0]
        text = (
            f"Shape bias on {ds}: people {p['value']:.3f} [{p['ci_low']:.3f}, {p['ci_high']:.3f}]"
            + (f" (range {lo.iloc[0]:.3f}–{hi.iloc[0]:.3f})" if len(lo) and len(hi) else "")
            + f"; the most shape-biased network or model is {b['model']} at {b['value']:.3f} "
            f"[{b['ci_low']:.3f}, {b['ci_high']:.3f}]"
        )
        worst = cand.iloc[-1]
        out.append(text + f", the least {worst['model']} at {worst['value']:.3f}.")
    return out


def _save(fig, out_dir: Path, name: str) -> tuple[Path, Path]:
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = (out_dir / f"{name}.png", out_dir / f"{name}.pdf")
    try:
        for p in paths:
            tmp = p.with_name(f".{p.name}.partial-{os.getpid()}")
            fig.savefig(tmp, format=p.suffix[1:], facecolor="white", dpi=150)
            os.replace(tmp, p)
    finally:
        plt.close(fig)
    return paths


def _agents(sb: pd.DataFrame) -> list[str]:
    """Networks and models, most shape-biased first."""
    g = sb[sb["agent_type"].isin(["network", "model"])].sort_values("value", ascending=False)
    return list(dict.fromkeys(g["model"]))


def plot_categories(metrics: pd.DataFrame, dataset: str):
    """The published layout (see module doc) for one dataset; None without per-category rows."""
    import matplotlib.pyplot as plt

    m = metrics[metrics["dataset"] == dataset]
    cat = _rows(m, "shape_bias_category")
    sb = _rows(m, "shape_bias")
    if cat.empty:
        return None
    cats = sorted(cat["other"].unique())
    y = {c: i for i, c in enumerate(cats)}
    agents = _agents(sb)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(cats) + 2.2))
    people = cat[cat["agent_type"] == "human"]
    if len(people):
        band = people.groupby("other")["value"].agg(["min", "max"]).reindex(cats)
        ax.barh(
            range(len(cats)),
            band["max"] - band["min"],
            left=band["min"],
            height=0.7,
            color="0.85",
            label="people (range)",
            zorder=1,
        )
    cmap = plt.get_cmap("tab20")
    markers = "osD^v<>ph*"
    for k, a in enumerate(agents):
        r = cat[cat["model"] == a]
        col = cmap(k % 20)
        ax.plot(
            r["value"],
            [y[c] for c in r["other"]],
            markers[k % len(markers)],
            ms=5,
            color=col,
            alpha=0.85,
            label=a,
            zorder=3,
        )
        v = sb[sb["model"] == a]["value"]
        if len(v):
            ax.axvline(float(v.iloc[0]), color=col, lw=1, alpha=0.6, zorder=2)
    h = cat[cat["agent_type"] == HUMANS]
    if len(h):
        ax.plot(
            h["value"],
            [y[c] for c in h["other"]],
            "o",
            ms=8,
            color="crimson",
            mec="black",
            label="people (mean)",
            zorder=4,
        )
        v = sb[sb["agent_type"] == HUMANS]["value"]
        if len(v):
            ax.axvline(float(v.iloc[0]), color="crimson", lw=2, zorder=2)
    ax.set_yticks(range(len(cats)), cats)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("fraction of 'shape' decisions")
    top = ax.secondary_xaxis("top", functions=(lambda x: 1 - x, lambda x: 1 - x))
    top.set_xlabel("fraction of 'texture' decisions")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.set_title(f"Shape bias per category ({dataset})", fontsize=10)
    fig.tight_layout()
    return fig


def plot_summary(metrics: pd.DataFrame, dataset: str):
    """Each agent's shape bias with its CI (people pooled first, then the networks and
    models by value); grey band: the people's range. None without rows."""
    import matplotlib.pyplot as plt

    sb = _rows(metrics[metrics["dataset"] == dataset], "shape_bias")
    if sb.empty:
        return None
    order = list(sb[sb["agent_type"] == HUMANS]["model"]) + _agents(sb)
    t = sb.set_index("model").loc[order]
    fig, ax = plt.subplots(figsize=(6.5, 0.25 * len(order) + 1.4))
    people = sb[sb["agent_type"] == "human"]["value"]
    if len(people):
        ax.axvspan(people.min(), people.max(), color="0.85", label="people (range)")
    colours = ["crimson" if k == HUMANS else ("tab:blue" if k == "network" else "tab:orange") for k in t["agent_type"]]
    yy = np.arange(len(order))
    ax.errorbar(
        t["value"],
        yy,
        xerr=[t["value"] - t["ci_low"], t["ci_high"] - t["value"]],
        fmt="none",
        ecolor="0.3",
        elinewidth=1,
        capsize=2,
    )
    ax.scatter(t["value"], yy, c=colours, zorder=3, s=22)
    ax.axvline(0.5, color="0.5", ls=":", lw=1)
    ax.set_yticks(yy, order, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("shape bias (95% CI over images)")
    ax.set_title(f"Shape bias per agent ({dataset}); red: people, blue: raw-data networks, orange: models", fontsize=8)
    fig.tight_layout()
    return fig


def figures(metrics: pd.DataFrame, out_dir: Path, tables: dict[str, pd.DataFrame]) -> list[FamilyFigure]:
    """Both figures per dataset with shape-bias rows, as PNG + PDF in ``out_dir`` (from the
    metrics rows alone: the family finds no ``tables``)."""
    sb = _rows(metrics, "shape_bias")
    if sb.empty:
        return []
    import matplotlib

    matplotlib.use("Agg")
    out = []
    for i, ds in enumerate(sorted(sb["dataset"].unique())):
        sfx = f"_{i}" if i else ""
        for name, fn, title, caption in (
            (
                f"shape_bias_categories{sfx}",
                plot_categories,
                f"Shape bias per category ({ds})",
                "Per shape category, the fraction of shape decisions among shape-or-texture decisions on the "
                "cue-conflict "
                "trials: a marker per network or model, red: the people's mean, grey: their range; vertical lines: "
                "each "
                "agent's overall shape bias (layout of Geirhos et al. 2019, Figure 4).",
            ),
            (
                f"shape_bias_summary{sfx}",
                plot_summary,
                f"Shape bias per agent ({ds})",
                "Shape bias with 95% percentile-bootstrap CIs over images; grey band: the range of the individual "
                "people; "
                "dotted: 0.5 (no preference).",
            ),
        ):
            fig = fn(metrics, ds)
            if fig is None:
                continue
            png, pdf = _save(fig, out_dir, name)
            out.append(FamilyFigure(name, title, caption, png, pdf))
    return out


SHAPE_BIAS = register(
    ResultFamily(
        name="shape_bias",
        title="Shape bias on cue-conflict images",
        task_prefix="metrics:shape_bias:",
        summary_lines=summary_lines,
        figures=figures,
        report_section=report_section,
        findings=findings,
    )
)
