"""One self-contained HTML report per run: what was run (config, versions, data
hashes), task outcomes, the metrics table, R model tables, figures, findings and
warnings (shown, never hidden)."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

from repalign.config import Config
from repalign.store import table_info

PACKAGES = ("repalign", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "torch", "torchvision",
            "open_clip_torch", "timm", "dask", "distributed", "rpy2")

_CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:13px;margin:.5em 0} td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left} pre{background:#f7f7f7;padding:.8em;overflow:auto}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:.5em 1em} .fail{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}
.finding{background:#e8f4fd;border-left:4px solid #0a6ebd;padding:.5em 1em;font-size:15px}
img{max-width:100%;border:1px solid #ddd;margin:.5em 0}
"""


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pass
    try:
        r = subprocess.run(["Rscript", "-e", "cat(R.version.string)"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            out["R"] = r.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        pass
    return out


def _data_hashes() -> list[dict]:
    """One combined sha256 per dataset whose files are present locally."""
    from repalign.datasets import registry as reg

    rows = []
    for name in reg.dataset_names():
        fs = reg.files(name)
        present = [f for f in fs if reg.local_path(f).is_file()]
        if not present:
            continue
        h = hashlib.sha256("".join(f.sha256 for f in present).encode()).hexdigest()[:16]
        rows.append({"dataset": name, "files": f"{len(present)}/{len(fs)}", "registry sha256 (combined)": h,
                     "source": f"{fs[0].repo}@{fs[0].commit[:7]}"})
    return rows


def _table_html(df: pd.DataFrame, max_rows: int = 200) -> str:
    if len(df) > max_rows:
        note = f"<p>first {max_rows} of {len(df)} rows</p>"
        df = df.head(max_rows)
    else:
        note = ""
    return note + df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, escape=True)


def _roots(config: Config, tasks) -> list[Path]:
    """Where this run's outputs live: each current task's output file or directory,
    so that leftovers of earlier versions of the config are not reported."""
    if tasks is None:
        return [config.output]
    roots = []
    for t in tasks:
        for p in t.outputs:
            p = Path(p)
            roots.append(p.parent if t.stage in ("r", "embed", "dynamics") else p)
    return sorted(set(roots))


def _files(roots: list[Path], pattern: str) -> list[Path]:
    out = set()
    for r in roots:
        if r.is_file() and r.match(pattern):
            out.add(r)
        elif r.is_dir():
            out.update(r.rglob(pattern))
    return sorted(out)


def collect_metrics(roots: list[Path] | Path) -> pd.DataFrame:
    roots = [roots] if isinstance(roots, Path) else roots
    frames = []
    for p in _files(roots, "*.parquet"):
        try:
            if table_info(p)["kind"] == "metrics":
                frames.append(pd.read_parquet(p))
        except Exception:  # a non-repalign parquet file: not part of the report
            continue
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def alignment_findings(config: Config, tasks=None) -> list[str]:
    """Plain-language findings from the R stage's alignment scores: the most aligned
    model (with its margin) and, for model-recovery studies (a [[learners]] entry
    with ``generating``), whether the generating model was recovered."""
    out = config.output
    found = [p for p in _files(_roots(config, tasks), "alignment_scores.csv") if (out / "r") in p.parents]
    if not found:
        return []
    scores = pd.concat([pd.read_csv(p) for p in found], ignore_index=True)
    findings = []
    generating = {}
    for entry in config.section("learners") or []:
        if entry.get("generating"):
            generating[entry.get("stimuli", entry["task"])] = entry["generating"]
    refs = {}
    if generating:
        from repalign.representations import resolve_representations

        refs = resolve_representations(config)
    for task, df in scores.groupby("task", sort=True):
        df = df.sort_values("pseudo_r2", ascending=False)
        best = df.iloc[0]
        label = f"{best['model']} ({best['layer']})"
        if len(df) > 1:
            second = df.iloc[1]
            margin = best["pseudo_r2"] - second["pseudo_r2"]
            text = (f"Task {task}: the most aligned model is {label} with cross-validated pseudo-R² "
                    f"{best['pseudo_r2']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}], ahead of "
                    f"{second['model']} ({second['layer']}) at {second['pseudo_r2']:.3f} (margin {margin:.3f}).")
        else:
            text = f"Task {task}: one model scored, {label}, pseudo-R² {best['pseudo_r2']:.3f}."
        findings.append(text)
    for name in generating.values():
        ref = refs.get(name)
        if ref is None:
            continue
        gen_model, gen_layer = ref.model, ref.layer
        top = scores.sort_values("pseudo_r2", ascending=False).iloc[0]
        recovered = (str(top["model"]), str(top["layer"])) == (gen_model, gen_layer)
        findings.append(
            f"The simulated participants' choices were generated from {gen_model} ({gen_layer}); "
            + ("the choice models recovered it as the most aligned model." if recovered
               else f"the choice models did NOT recover it: {top['model']} ({top['layer']}) came out most aligned.")
        )
    return findings


def classification_section(metrics: pd.DataFrame, roots: list[Path]) -> str:
    """HTML of the classification behaviour section ("" without classification rows): the κ table
    (accuracy and mean κ to the people per dataset and agent, bootstrap CIs over images), the
    agent closest to the people per dataset with its CI against the people's own κ, and the
    R figure ``classification_accuracy_kappa.png`` when the R stage drew it."""
    from repalign.metrics.behaviour import closest_to_humans

    if metrics.empty or "agent_type" not in metrics.columns:
        return ""
    t = metrics[metrics["agent_type"].isin(["humans", "network", "model"])
                & metrics["metric"].isin(["accuracy", "kappa_to_humans"])]
    if t.empty:
        return ""
    wide = t.pivot_table(index=["dataset", "model", "agent_type"], columns="metric",
                         values=["value", "ci_low", "ci_high"], aggfunc="first")
    rows = []
    for (ds, agent, kind), r in wide.iterrows():
        rows.append({"dataset": ds, "agent": agent, "type": kind, "accuracy": r[("value", "accuracy")],
                     "accuracy CI": f"[{r[('ci_low', 'accuracy')]:.3f}, {r[('ci_high', 'accuracy')]:.3f}]",
                     "κ to humans": r[("value", "kappa_to_humans")],
                     "κ CI": f"[{r[('ci_low', 'kappa_to_humans')]:.3f}, {r[('ci_high', 'kappa_to_humans')]:.3f}]"})
    table = pd.DataFrame(rows).sort_values(["dataset", "κ to humans"], ascending=[True, False])
    out = ["<h2>Classification behaviour</h2>",
           "<p>Accuracy and error consistency (Cohen's κ of trial-wise correctness, mean over the people; "
           "for <i>humans</i>: mean over pairs of different people, the ceiling); 95% bootstrap CIs over images.</p>"]
    for c in closest_to_humans(metrics):
        out.append(f"<div class='finding'>{html.escape(c['dataset'])}: the model closest to humans is "
                   f"<b>{html.escape(str(c['agent']))}</b> with κ = {c['kappa']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}] "
                   f"(people among themselves: {c['ceiling']:.3f} [{c['ceiling_low']:.3f}, {c['ceiling_high']:.3f}]).</div>")
    out.append(_table_html(table))
    for p in _files(roots, "classification_accuracy_kappa.png"):
        b64 = base64.b64encode(p.read_bytes()).decode()
        out.append(f"<img alt='accuracy and kappa per agent' src='data:image/png;base64,{b64}'>")
    return "\n".join(out)


def write_report(config: Config, status: dict[str, str], elapsed: float, tasks=None) -> Path:
    """Write ``<output>/report.html``; with ``tasks``, only their outputs are reported."""
    out = config.output
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>repalign: {html.escape(config.name)}</title>"
             f"<style>{_CSS}</style></head><body><h1>repalign report: {html.escape(config.name)}</h1>"]
    failed = {k: v for k, v in status.items() if v.startswith("failed")}
    parts.append(f"<p>{len(status)} tasks in {elapsed:.1f} s; output directory <code>{html.escape(str(out))}</code></p>")
    if failed:
        items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in failed.items())
        parts.append(f"<div class='fail'><b>{len(failed)} task(s) failed</b><ul>{items}</ul></div>")

    roots = _roots(config, tasks)
    findings = alignment_findings(config, tasks)
    if findings:
        parts.append("<h2>Findings</h2>")
        for f in findings:
            parts.append(f"<div class='finding'>{html.escape(f)}</div>")
        (out / "findings.json").write_text(json.dumps(findings, indent=1))

    warnings = []
    for p in _files(roots, "warnings*.txt") + _files(roots, "*diagnostics*.csv"):
        if p.suffix == ".txt":
            warnings += [ln for ln in p.read_text().splitlines() if ln.strip()]
        else:
            df = pd.read_csv(p)
            cols = [c for c in df.columns if c.lower() in ("warning", "warnings", "message", "messages")]
            for c in cols:
                warnings += [f"{p.name}: {w}" for w in df[c].dropna().astype(str) if w and w != "NA"]
    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings[:200])
        parts.append(f"<h2>Warnings</h2><div class='warn'><ul>{items}</ul></div>")

    metrics = collect_metrics(roots)
    parts.append(classification_section(metrics, roots))
    if len(metrics):
        parts.append("<h2>Metrics</h2>" + _table_html(metrics))

    csvs = [p for p in _files(roots, "*.csv") if (out / "r") in p.parents]
    if csvs:
        parts.append("<h2>Model tables (R)</h2>")
        for p in csvs:
            parts.append(f"<h3>{html.escape(p.stem)}</h3>" + _table_html(pd.read_csv(p), max_rows=60))
    pngs = _files(roots, "*.png")
    if pngs:
        parts.append("<h2>Figures</h2>")
        for p in pngs:
            b64 = base64.b64encode(p.read_bytes()).decode()
            parts.append(f"<h3>{html.escape(p.stem)}</h3><img alt='{html.escape(p.stem)}' src='data:image/png;base64,{b64}'>")

    parts.append("<h2>What was run</h2><h3>Config</h3><pre>" + html.escape(config.path.read_text()) + "</pre>")
    parts.append("<h3>Versions</h3>" + _table_html(pd.DataFrame([_versions()]).T.reset_index().set_axis(["package", "version"], axis=1)))
    hashes = _data_hashes()
    if hashes:
        parts.append("<h3>Data</h3>" + _table_html(pd.DataFrame(hashes)))
    st = pd.DataFrame(sorted(status.items()), columns=["task", "status"])
    parts.append("<h3>Tasks</h3>" + _table_html(st, max_rows=500))
    parts.append("</body></html>")
    path = out / "report.html"
    tmp = path.with_suffix(".html.partial")
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path
