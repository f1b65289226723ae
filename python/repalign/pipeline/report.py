"""One self-contained HTML report per run, figure first: the findings (every number
linked to the table it comes from), the figures of every result family the run
produced (``repalign.pipeline.figures``; embedded as base64 PNG, and written as PNG
+ PDF under ``<output>/figures/``), warnings (shown, never hidden), then the tables,
collapsible, and what was run (config, versions, data hashes, task outcomes).
No external resource: the file opens offline."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from pathlib import Path

import pandas as pd

import repalign.metrics  # noqa: F401  (its modules register the result families)
from repalign.config import Config
from repalign.families import families
from repalign.pipeline import figures as figs
from repalign.store import table_info, temp_name

PACKAGES = (
    "repalign",
    "numpy",
    "scipy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "torch",
    "torchvision",
    "open_clip_torch",
    "timm",
    "dask",
    "distributed",
    "rpy2",
)

_CSS = """
body{font-family:"DejaVu Sans",system-ui,sans-serif;max-width:1280px;margin:1.5em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #444;font-size:1.6em} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
p,li,code,.finding{overflow-wrap:anywhere}
nav{font-size:14px} nav a{margin-right:1em}
table{border-collapse:collapse;font-size:13px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f0f0f0} td:first-child,th:first-child{text-align:left} pre{background:#f7f7f7;padding:.8em;overflow:auto}
.scroll{overflow-x:auto;max-width:100%}
.warn{background:#fff4e0;border-left:4px solid #e69500;padding:.5em 1em}
.fail{background:#fde8e8;border-left:4px solid #c00;padding:.5em 1em}
.finding{background:#e8f4fd;border-left:4px solid #0a6ebd;padding:.5em 1em;margin:.4em 0;font-size:15px}
.finding a{color:#064b85;font-weight:600}
.overview{columns:2;font-size:14px} .overview li{break-inside:avoid}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr));grid-auto-flow:dense;gap:1em}
figure{margin:0;border:1px solid #ddd;padding:.5em;background:#fff;min-width:0}
figure.wide{grid-column:1/-1}
figure img{max-width:100%;height:auto;display:block;margin:0 auto;cursor:zoom-in}
figcaption{font-size:13px;color:#444} figcaption b{color:#222}
details{margin:.4em 0;border:1px solid #e4e4e4;padding:.3em .6em} summary{cursor:pointer;font-weight:600}
details:target,figure:target{outline:3px solid #0a6ebd}
"""

# Tiny inline script (no network): a link to a table opens its <details>; a click on
# a figure toggles it between the grid cell and the full width.
_JS = """
function openTarget(){var h=location.hash.slice(1);if(!h)return;var e=document.getElementById(h);
if(e&&e.tagName==='DETAILS'){e.open=true;e.scrollIntoView();}}
window.addEventListener('hashchange',openTarget);window.addEventListener('DOMContentLoaded',openTarget);
document.addEventListener('click',function(ev){var f=ev.target.closest&&ev.target.closest('figure img');
if(f){f.parentElement.classList.toggle('wide');}});
"""


def _versions() -> dict[str, str]:
    """The "Versions" table: what computed the run (``repalign.versions``), shortened to
    repalign, Python, torch (CUDA), the packages in ``PACKAGES``, the lock status and R."""
    from repalign.versions import environment_versions

    env = environment_versions()
    out = {
        "repalign": f"{env['repalign']['version']} (git {env['repalign']['git_revision'] or 'unknown'})",
        "python": env["python"],
    }
    for p in PACKAGES:
        if p in env["packages"] and p != "repalign":
            out[p] = env["packages"][p]
    if env["torch"].get("version"):
        out["torch"] = f"{env['torch']['version']} (CUDA {env['torch'].get('cuda') or 'none'})"
    diffs = env["lock"]["differences"]
    out["lock"] = (
        "not a source checkout"
        if diffs is None
        else "matches requirements/lock.txt"
        if not diffs
        else f"{len(diffs)} difference(s) from requirements/lock.txt: " + "; ".join(diffs[:5])
    )
    for name, version in env["r"].items():
        out[name if name == "R" else f"R {name}"] = version
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
        rows.append(
            {
                "dataset": name,
                "files": f"{len(present)}/{len(fs)}",
                "registry sha256 (combined)": h,
                "source": f"{fs[0].repo}@{fs[0].commit[:7]}",
            }
        )
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
    with ``generating``, read from the run's learner ``tasks``), whether the
    generating model was recovered."""
    out = config.output
    found = [p for p in _files(_roots(config, tasks), "alignment_scores.csv") if (out / "r") in p.parents]
    if not found:
        return []
    scores = pd.concat([pd.read_csv(p) for p in found], ignore_index=True)
    findings = []
    # model recovery: the learner tasks of an entry with `generating` (their typed entries say so)
    learners = [t for t in tasks or () if t.stage == "learners" and "job" in t.kwargs]
    generating = list(dict.fromkeys(t.kwargs["job"].generating for t in learners if t.kwargs["job"].generating))
    refs = {t.kwargs["ref"].name: t.kwargs["ref"] for t in learners}
    for task, df in scores.groupby("task", sort=True):
        df = df.sort_values("pseudo_r2", ascending=False)
        best = df.iloc[0]
        label = f"{best['model']} ({best['layer']})"
        if len(df) > 1:
            second = df.iloc[1]
            margin = best["pseudo_r2"] - second["pseudo_r2"]
            text = (
                f"Task {task}: the most aligned model is {label} with cross-validated pseudo-R² "
                f"{best['pseudo_r2']:.3f} [{best['ci_low']:.3f}, {best['ci_high']:.3f}], ahead of "
                f"{second['model']} ({second['layer']}) at {second['pseudo_r2']:.3f} (margin {margin:.3f})."
            )
        else:
            text = f"Task {task}: one model scored, {label}, pseudo-R² {best['pseudo_r2']:.3f}."
        findings.append(text)
    for name in generating:
        ref = refs.get(name)
        if ref is None:
            continue
        gen_model, gen_layer = ref.model, ref.layer
        rows = _entry_scores(scores, name, learners)
        if rows.empty:
            continue
        # the entry's (model, layer) groups, ranked by pseudo-R² (mean over the entry's tasks)
        mean = rows.groupby(["model", "layer"], sort=True)["pseudo_r2"].mean().sort_values(ascending=False)
        top_model, top_layer = map(str, mean.index[0])
        recovered = (top_model, top_layer) == (gen_model, gen_layer)
        findings.append(
            f"The simulated participants' choices were generated from {gen_model} ({gen_layer}); "
            + (
                "the choice models recovered it as the most aligned model."
                if recovered
                else f"the choice models did NOT recover it: {top_model} ({top_layer}) came out most aligned."
            )
        )
    return findings


def _entry_scores(scores: pd.DataFrame, generating: str, tasks) -> pd.DataFrame:
    """The score rows of the [[learners]] entry whose choices come from ``generating``:
    its (model, layer) groups on its own tasks (or "pooled" scores)."""
    import pyarrow.parquet as pq

    from repalign.learners.plan import learner_names

    pairs, ids = set(), set()
    for t in tasks:
        if t.kwargs["job"].generating != generating:
            continue
        pairs.add(learner_names(t.kwargs["ref"]))
        path = t.kwargs["path"]
        if Path(path).is_file():
            ids.update(map(str, pq.read_table(path, columns=["task"]).column("task").unique().to_pylist()))
    keep = [
        (str(m), str(l)) in pairs and (str(k) in ids or str(k) == "pooled")
        for m, l, k in zip(scores["model"], scores["layer"], scores["task"])
    ]
    return scores[keep]


def metric_findings(metrics: pd.DataFrame) -> list[tuple[str, str | None]]:
    """Plain-language findings of every registered result family (``ResultFamily.findings``),
    in registration order, each with the anchor of the table its numbers come from: the
    family's metrics table when it owns metrics-table rows (``ResultFamily.metrics``), else None."""
    if metrics is None or metrics.empty:
        metrics = pd.DataFrame()
    return [
        (text, figs.anchor("metrics", fam.name) if fam.metrics is not None else None)
        for fam in families()
        for text in fam.findings(metrics)
    ]


_NUMBER = re.compile(r"(?<![\w.])(-?\d+\.\d+%?|\d+%)")


def _linked(text: str, target: str | None) -> str:
    """Escape a finding and link each number in it to the table it comes from."""
    esc = html.escape(text)
    if not target:
        return esc
    return _NUMBER.sub(lambda mt: f"<a href='#{target}'>{mt.group(0)}</a>", esc)


def _outputs(config: Config, tasks, name: str) -> list[Path]:
    """Existing task outputs called ``name`` (all such files under the output
    directory when ``tasks`` is None)."""
    if tasks is None:
        return sorted(config.output.rglob(name))
    return sorted({Path(p) for t in tasks for p in t.outputs if Path(p).name == name and Path(p).is_file()})


def _details(anchor_id: str, title: str, body: str, n: int | None = None) -> str:
    rows = f" ({n} rows)" if n is not None else ""
    return (
        f"<details id='{anchor_id}'><summary>{html.escape(title)}{rows}</summary>"
        f"<div class='scroll'>{body}</div></details>"
    )


def _figure_html(f: figs.Figure, out: Path, table_titles: dict[str, str], headline: bool = False) -> str:
    b64 = base64.b64encode(f.png.read_bytes()).decode()
    rel = lambda p: html.escape(str(p.relative_to(out)) if out in p.parents else str(p))  # noqa: E731
    files = rel(f.png) + (f" · {rel(f.pdf)}" if f.pdf else "")
    data = ", ".join(f"<a href='#{t}'>{html.escape(table_titles.get(t, 'table'))}</a>" for t in f.tables)
    cls = " ".join(c for c, on in (("wide", f.wide), ("headline", headline)) if on)
    wide = f" class='{cls}'" if cls else ""
    return (
        f"<figure id='fig-{html.escape(f.name)}'{wide}><img alt='{html.escape(f.title)}' "
        f"src='data:image/png;base64,{b64}'><figcaption><b>{html.escape(f.title)}.</b> {html.escape(f.caption)} "
        f"{('Data: ' + data + '. ') if data else ''}Files: <code>{files}</code> ({f.source})</figcaption></figure>"
    )


def headline_first(
    figures: list[figs.Figure], findings: list[tuple[str, str | None]], family_titles: dict[str, str]
) -> tuple[list[figs.Figure], figs.Figure | None]:
    """The figures in report order with the headline figure first: the first figure
    drawn chiefly from (its first table is) the table the first finding cites (e.g. the choice models' pseudo-R²
    for a model-recovery study, the RSA figure for an RSA study), then the rest of
    its family, then the other families in ``family_titles`` order (Python figures
    before R ones). Returns (figures, the headline figure or None)."""
    order = list(family_titles)
    key = lambda f: (order.index(f.family) if f.family in order else len(order), f.source != "python", f.name)  # noqa: E731
    figures = sorted(figures, key=key)
    cited = next((a for _, a in findings if a), None)
    # a figure drawn chiefly from that table (its first), else any that uses it (e.g. as one axis)
    headline = next((f for f in figures if cited and f.tables[:1] == [cited]), None) or next(
        (f for f in figures if cited and cited in f.tables), None
    )
    if headline is None:
        return figures, None
    rest = [f for f in figures if f is not headline]
    return [headline] + [f for f in rest if f.family == headline.family] + [
        f for f in rest if f.family != headline.family
    ], headline


def run_header(status: dict[str, str], elapsed: float) -> str:
    """The report's first line: how many tasks, how many of them were computed and
    how many came from the cache (``10 tasks, all cached (nothing recomputed), in
    0.0 s`` for a fully cached re-run)."""
    kinds = pd.Series([str(v).split(":", 1)[0].strip() for v in status.values()], dtype=object).value_counts()
    n, cached = len(status), int(kinds.get("skipped", 0))
    words = {"done": "computed", "skipped": "cached", "failed": "failed", "blocked": "blocked", "not run": "not run"}
    if n and cached == n:
        what = f"all {n} cached (nothing recomputed)"
    else:
        what = ", ".join(f"{c} {words.get(k, k)}" for k, c in kinds.items() if c)
    return f"{n} task{'s' if n != 1 else ''}" + (f": {what}" if n else "") + f"; {elapsed:.1f} s"


def diagnostic_warnings(path: Path) -> list[str]:
    """The warnings of a diagnostics CSV (R's ``choice_model_diagnostics.csv`` …), one
    per row with a message, each naming what it is about: the row's ``group`` (R's
    "model=…, layer=…, task=…") or its model / layer / task / dataset columns, e.g.
    ``choice_model_diagnostics.csv (model=pixels, layer=output, task=t1): fold 2:
    boundary (singular) fit``."""
    df = pd.read_csv(path)
    cols = [c for c in df.columns if c.lower() in ("warning", "warnings", "message", "messages")]
    who = [c for c in ("group", "model", "layer", "task", "dataset", "agent", "level", "term") if c in df.columns]
    out = []
    for c in cols:
        for _, row in df[df[c].notna()].iterrows():
            w = str(row[c])
            if not w or w == "NA":
                continue
            about = ", ".join(
                str(row[k]) if k == "group" else f"{k}={row[k]}"
                for k in who
                if pd.notna(row[k]) and str(row[k]) not in ("", "NA")
            )
            out.append(f"{path.name}" + (f" ({about})" if about else "") + f": {w}")
    return out


def write_report(config: Config, status: dict[str, str], elapsed: float, tasks=None, notes=()) -> Path:
    """Write ``<output>/report.html`` (and the figures under ``<output>/figures/``);
    with ``tasks``, only their outputs are reported; ``notes``: warnings of the run
    itself (e.g. stale outputs that were recomputed)."""
    out = config.output
    roots = _roots(config, tasks)
    failed = {k: v for k, v in status.items() if v.startswith("failed")}

    # ---- tables, each with an anchor --------------------------------------------------
    metrics = collect_metrics(roots)
    metric_tables = []
    if len(metrics):
        fam = metrics["metric"].map(figs.metric_family)
        for family, title in figs.figure_groups().items():  # rows of no family: the "other" group's table
            d = metrics[fam == family]
            if len(d):
                metric_tables.append((figs.anchor("metrics", family), f"metrics: {title}", d))
    r_dirs = sorted({p.parent for p in _files(roots, "summary.txt") if (out / "r") in p.parents})
    r_tables = []
    for i, d in enumerate(r_dirs):
        for p in sorted(d.glob("*.csv")):
            key = p.stem if len(r_dirs) == 1 else f"{p.stem}-{i}"
            r_tables.append((figs.anchor("r", key), p.stem, pd.read_csv(p), p))
    r_anchor = {t[1]: t[0] for t in r_tables}
    scores = next((t[2] for t in r_tables if t[1] == "alignment_scores"), None)
    dyn = {}
    dyn_tables = []
    for name in ("lag", "efficiency", "curves", "objects"):
        paths = _outputs(config, tasks, f"{name}.parquet")
        if paths:
            df = pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)
            dyn[name] = df
            dyn_tables.append((figs.anchor("dynamics", name), f"learning dynamics: {name}", df))
    known = {str(t[3]): t[0] for t in r_tables}
    # each family's tables found among the run's files; one the report already shows
    # (e.g. written by the R stage) keeps that table's anchor and is not shown twice
    family_tables = {fam.name: {known.get(str(t.path), t.anchor): t for t in fam.tables(roots)} for fam in families()}

    # ---- figures ------------------------------------------------------------------------
    figures = figs.python_figures(
        out / "figures",
        metrics,
        scores,
        dyn,
        {name: {a: t.frame for a, t in found.items()} for name, found in family_tables.items() if found},
        scores_anchor=r_anchor.get("alignment_scores", ""),
        dynamics_anchors={k: figs.anchor("dynamics", k) for k in dyn},
    )
    r_pngs = [p for p in _files(roots, "*.png") if (out / "r") in p.parents or p.parent.name.startswith("glmm")]
    figures += figs.r_figures(
        r_pngs,
        {
            "learning_curves": r_anchor.get("cv_choices", ""),
            "alignment_vs_train_size": r_anchor.get("alignment_data", ""),
            "alignment_vs_intrinsic_dim": r_anchor.get("alignment_data", ""),
            "alignment_coefficients": r_anchor.get("alignment_coefficients", ""),
        },
    )

    # ---- findings -------------------------------------------------------------------------
    findings = [(f, r_anchor.get("alignment_scores")) for f in alignment_findings(config, tasks)]
    findings += metric_findings(metrics)
    if dyn.get("lag") is not None and len(dyn["lag"]):
        lag = dyn["lag"].dropna(subset=["lag"]).sort_values("lag", ascending=False)
        if len(lag):
            text = (
                "Generalisation lag (train − test accuracy): "
                + "; ".join(f"{r['agent']} {r['lag']:.3f}" for _, r in lag.iterrows())
                + "."
            )
            findings.append((text, figs.anchor("dynamics", "lag")))
    family_titles = figs.figure_groups()
    figures, headline = headline_first(figures, findings, family_titles)
    if headline is not None:  # its family leads the overview as well
        family_titles = {headline.family: family_titles.get(headline.family, headline.family)} | family_titles
    if findings:
        tmp = temp_name(out / "findings.json")
        tmp.write_text(json.dumps([f for f, _ in findings], indent=1))
        tmp.replace(out / "findings.json")

    warnings = list(notes)
    for p in _files(roots, "warnings*.txt") + _files(roots, "*diagnostics*.csv"):
        if p.suffix == ".txt":
            warnings += [ln for ln in p.read_text().splitlines() if ln.strip()]
        else:
            warnings += diagnostic_warnings(p)

    # ---- the page ---------------------------------------------------------------------------
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>repalign: {html.escape(config.name)}</title><style>{_CSS}</style><script>{_JS}</script></head>"
        f"<body><h1>repalign report: {html.escape(config.name)}</h1>"
    ]
    parts.append(
        f"<p>{html.escape(run_header(status, elapsed))}; output directory <code>{html.escape(str(out))}</code></p>"
    )
    parts.append(
        "<nav><a href='#findings'>Findings</a><a href='#figures'>Figures</a>"
        + ("<a href='#warnings'>Warnings</a>" if warnings else "")
        + "<a href='#tables'>Tables</a><a href='#run'>What was run</a></nav>"
    )
    if failed:
        items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>" for k, v in failed.items())
        parts.append(f"<div class='fail'><b>{len(failed)} task(s) failed</b><ul>{items}</ul></div>")
    parts.append("<h2 id='findings'>Findings</h2>")
    if findings:
        parts += [f"<div class='finding'>{_linked(f, a)}</div>" for f, a in findings]
    else:
        parts.append("<p>No findings: this run produced no scored results.</p>")

    if figures:
        parts.append("<h2 id='figures'>Figures</h2><ul class='overview'>")
        for family, title in family_titles.items():
            fs = [f for f in figures if f.family == family]
            if fs:
                links = ", ".join(f"<a href='#fig-{html.escape(f.name)}'>{html.escape(f.title)}</a>" for f in fs)
                parts.append(f"<li><b>{html.escape(title)}</b> ({len(fs)}): {links}</li>")
        parts.append(
            "</ul><p style='font-size:13px'>Click a figure to widen it; PNG and PDF files lie beside the "
            "tables under the output directory.</p><div class='grid'>"
        )
        titles = {a: t for a, t, _ in metric_tables + dyn_tables} | {a: t for a, t, _, _ in r_tables}
        titles |= {a: t.title for found in family_tables.values() for a, t in found.items()}
        parts += [_figure_html(f, out, titles, headline=f is headline) for f in figures]
        parts.append("</div>")
    else:
        parts.append("<h2 id='figures'>Figures</h2><p>No figures: this run produced no tables to draw.</p>")

    parts += [sec for fam in families() if (sec := fam.report_section(metrics, roots))]

    if warnings:
        items = "".join(f"<li>{html.escape(w)}</li>" for w in warnings[:200])
        parts.append(f"<h2 id='warnings'>Warnings</h2><div class='warn'><ul>{items}</ul></div>")

    parts.append("<div id='tables'></div>")
    if metric_tables:
        parts.append("<h2>Metrics</h2>")
        parts += [_details(a, t, _table_html(d), len(d)) for a, t, d in metric_tables]
    if r_tables:
        parts.append("<h2>Model tables (R)</h2>")
        parts += [_details(a, t, _table_html(d, max_rows=60), len(d)) for a, t, d, _ in r_tables]
    if dyn_tables:
        parts.append("<h2>Learning dynamics tables</h2>")
        parts += [_details(a, t, _table_html(d), len(d)) for a, t, d in dyn_tables]
    for fam in families():
        extra = sorted(
            ((a, t) for a, t in family_tables[fam.name].items() if str(t.path) not in known), key=lambda x: x[0]
        )
        if extra:
            parts.append(f"<h2>{html.escape(fam.tables_title or fam.title + ' tables')}</h2>")
            parts += [_details(a, t.title, _table_html(t.frame), len(t.frame)) for a, t in extra]

    parts.append("<h2 id='run'>What was run</h2>")
    parts.append(_details("run-config", "Config", "<pre>" + html.escape(config.path.read_text()) + "</pre>"))
    versions = pd.DataFrame([_versions()]).T.reset_index().set_axis(["package", "version"], axis=1)
    parts.append(_details("run-versions", "Versions", _table_html(versions)))
    hashes = _data_hashes()
    if hashes:
        parts.append(_details("run-data", "Data", _table_html(pd.DataFrame(hashes))))
    st = pd.DataFrame(sorted(status.items()), columns=["task", "status"])
    parts.append(_details("run-tasks", "Tasks", _table_html(st, max_rows=500), len(st)))
    parts.append("</body></html>")
    path = out / "report.html"
    tmp = temp_name(path)
    tmp.write_text("\n".join(parts))
    tmp.replace(path)
    return path
