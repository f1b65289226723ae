"""The odd-one-out result family: zero-shot odd-one-out accuracy (``odd_one_out_<similarity>``),
the triplet noise ceiling (``noise_ceiling_*``) and linear probing (``probe_*``) rows of the
metrics table, registered with ``repalign.families``: their report table and figure group
(drawn by ``repalign.metrics.odd_one_out_figures``) and their findings."""

from __future__ import annotations

import pandas as pd

from repalign.families import ResultFamily, register
from repalign.metrics import odd_one_out_figures


def owns(metric: str) -> bool:
    """Whether a metrics-table row (by its ``metric`` name) belongs to the odd-one-out family."""
    return metric.startswith(("odd_one_out", "noise_ceiling", "probe_"))


def _ceiling(m: pd.DataFrame) -> str:
    """The noise-ceiling clause of a finding ("; the noise ceiling is …": the majority
    estimate with its CI, and the leave-one-out estimate when present), or "" without a
    majority noise ceiling."""
    nc = m[m["metric"].str.startswith("noise_ceiling_")].set_index("metric")
    if "noise_ceiling_majority" not in nc.index:
        return ""
    r = nc.loc["noise_ceiling_majority"]
    text = f"; the noise ceiling is {r['value']:.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}]"
    if "noise_ceiling_loo" in nc.index:
        text += f" (majority; leave-one-out {nc.loc['noise_ceiling_loo', 'value']:.3f})"
    return text


def findings(metrics: pd.DataFrame) -> list[str]:
    """The best zero-shot odd-one-out accuracy per triplet set and similarity (the others
    after it) against chance (1/3) and the noise ceiling; then what linear probing
    changed per model (``probe_zero_shot`` → the first probed variant). [] without rows."""
    if metrics is None or metrics.empty:
        return []
    m = metrics
    ceiling = _ceiling(m)
    out = []
    ooo = m[m["metric"].str.match(r"^odd_one_out_[a-z]+$")]
    for (ds, metric), d in ooo.groupby(["dataset", "metric"], sort=True):
        d = d.sort_values("value", ascending=False)
        best = d.iloc[0]
        rest = ", ".join(f"{r['model']} {r['value']:.3f}" for _, r in d.iloc[1:].iterrows())
        out.append(
            f"Odd-one-out ({metric.removeprefix('odd_one_out_')}, zero-shot) on {ds} triplets: {best['model']} "
            f"is best at {best['value']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}]"
            + (f", then {rest}" if rest else "")
            + f"; chance is 0.333{ceiling}."
        )
    parts = []
    for (model, _ds), d in m[m["metric"].str.startswith("probe_")].groupby(["model", "dataset"], sort=True):
        v = d.set_index("metric")["value"]
        probed = [k for k in v.index if k != "probe_zero_shot"]
        if "probe_zero_shot" in v and probed:
            parts.append(f"{model} {v['probe_zero_shot']:.3f} → {v[probed[0]]:.3f}")
    if parts:
        out.append("Linear probing on held-out objects (zero-shot → probed): " + "; ".join(parts) + ".")
    return out


ODD_ONE_OUT = register(
    ResultFamily(
        name="odd_one_out",
        title="Odd-one-out accuracy",
        task_prefix="metrics:odd_one_out:",
        findings=findings,
        metrics=owns,
        figures=odd_one_out_figures.figures,
    )
)
