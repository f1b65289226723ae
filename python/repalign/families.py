"""Result families: what the pipeline prints, draws and reports for one kind of result.

A metric whose results need more than the generic metrics table (its own console
lines, figures, report section or findings) registers a ``ResultFamily`` here, in
its own module, and ``repalign.metrics`` imports that module (the registration).
``repalign.pipeline.run`` and ``repalign.pipeline.report`` loop over ``families()``
and never name a family: adding one touches its own module(s), the config schema,
docs and tests only (docs/architecture.md, "Where a new metric family goes").

This module sits in the lowest layers (it imports nothing of repalign), so any
stage may register a family without importing the pipeline.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd


@dataclass(frozen=True)
class FamilyFigure:
    """A figure a family drew: PNG (embedded in the report) and PDF files, a title,
    a caption, and the anchors of the report tables it was drawn from."""

    name: str
    title: str
    caption: str
    png: Path
    pdf: Path | None = None
    tables: tuple[str, ...] = ()


@dataclass(frozen=True)
class FamilyTable:
    """A table a family found among the run's output files: the report shows it (collapsible,
    under ``anchor``, titled ``title``) unless the report already shows the file it was read
    from (then it keeps that table's anchor), and the figures drawn from it cite it."""

    anchor: str
    title: str
    frame: pd.DataFrame
    path: Path


def _nothing(*_args: Any, **_kw: Any) -> list:
    return []


@dataclass(frozen=True)
class ResultFamily:
    """One family of results.

    name: short id (figures are filed under it); title: heading in the report;
    task_prefix: the task keys of the family start with it (e.g.
    ``"metrics:classification:"``); table: the family's table is its tasks'
    output number ``table`` (a Parquet file; read with pandas).

    summary_lines(table) -> console lines printed after a run, per task table;
    figures(metrics, out_dir, tables) -> ``FamilyFigure``s drawn from the run's metrics rows
    (every metrics table of the run concatenated) and the family's own ``tables``
    ({report anchor: table}, what ``tables`` found) into ``out_dir``;
    report_section(metrics, roots) -> HTML of the family's report section ("" = none;
    roots: the run's output files and folders, for files such as R figures);
    findings(metrics) -> plain-language findings (report and findings.json), in the
    report's order; their numbers link to the family's metrics table when it has one;
    metrics(name) -> whether a row of the metrics table, by its ``metric`` name, is
    the family's (None: none is): such rows form the report table ``anchor("metrics",
    name)`` and the figure group ``name`` (``repalign.pipeline.figures.metric_family``),
    checked in registration order, the first family that claims a name owns it;
    read(path) -> what summary_lines gets (default: the Parquet table as pandas);
    tables(roots) -> ``FamilyTable``s found among the run's output files and folders
    (e.g. tables written by the R stage), shown in the report's tables under the heading
    ``tables_title`` and handed to its ``figures`` (by table anchor; e.g. tables written by
    another stage that a figure reads). The report's figure groups are the families in
    registration order, titled ``title`` (``repalign.pipeline.figures.figure_groups``); a
    family draws in its own module with the style of ``repalign.style`` and the helpers of
    ``repalign.plotting``.
    """

    name: str
    title: str
    task_prefix: str
    summary_lines: Callable[[pd.DataFrame], list[str]] = _nothing
    figures: Callable[[pd.DataFrame, Path, dict[str, pd.DataFrame]], list[FamilyFigure]] = _nothing
    report_section: Callable[[pd.DataFrame, Sequence[Path]], str] = field(default=lambda *_: "")
    findings: Callable[[pd.DataFrame], list[str]] = _nothing
    table: int = 0
    read: Callable[[Path], Any] = pd.read_parquet  # how summary_lines gets its table from the output file
    metrics: Callable[[str], bool] | None = None
    tables: Callable[[Sequence[Path]], list[FamilyTable]] = _nothing
    tables_title: str = ""

    def matches(self, task: Any) -> bool:
        """Whether a pipeline task (anything with a ``key``) belongs to this family."""
        return str(getattr(task, "key", "")).startswith(self.task_prefix)


_REGISTRY: dict[str, ResultFamily] = {}


def register(family: ResultFamily) -> ResultFamily:
    """Add (or replace, on re-import) a family; returns it. The order of first
    registration is the order of the report."""
    if not isinstance(family, ResultFamily):
        raise TypeError(f"register: expected a ResultFamily, got {type(family).__name__}")
    _REGISTRY[family.name] = family
    return family


def families() -> tuple[ResultFamily, ...]:
    """The registered families, in registration order."""
    return tuple(_REGISTRY.values())


def owner(metric: str) -> ResultFamily | None:
    """The family that owns a metrics-table row by its ``metric`` name (the first
    registered whose ``metrics`` says so), or None."""
    return next((f for f in families() if f.metrics is not None and f.metrics(metric)), None)


def anchor(*parts: str) -> str:
    """HTML id of a report table: ``tab-`` and the parts, lower-case, [a-z0-9_-] only
    (a family's metrics table is ``anchor("metrics", family.name)``)."""
    return "tab-" + "-".join(re.sub(r"[^a-z0-9_]+", "_", str(p).lower()).strip("_") for p in parts)


def docs_table() -> str:
    """The Markdown table of the registered families (name, report title, task-key
    prefix), by name, that docs/architecture.md shows; a test keeps the page equal to it."""
    rows = ["| family | report section | tasks (key prefix) |", "|---|---|---|"]
    rows += [f"| `{f.name}` | {f.title} | `{f.task_prefix}` |" for f in sorted(families(), key=lambda f: f.name)]
    return "\n".join(rows)


def summary_lines(tasks: Sequence[Any]) -> list[str]:
    """Every family's console lines for the finished tasks of a run (tasks whose
    table exists), in task order."""
    lines: list[str] = []
    for t in tasks:
        for fam in families():
            if fam.matches(t):
                path = Path(t.outputs[fam.table])
                if path.is_file():
                    lines += fam.summary_lines(fam.read(path))
    return lines


def table_html(df: pd.DataFrame, max_rows: int = 200) -> str:
    """An HTML table of the report's style (the first ``max_rows`` rows, numbers to 4 digits)."""
    note = ""
    if len(df) > max_rows:
        note = f"<p>first {max_rows} of {len(df)} rows</p>"
        df = df.head(max_rows)
    return note + df.to_html(index=False, float_format=lambda v: f"{v:.4g}", border=0, escape=True)


def files_under(roots: Sequence[Path], pattern: str) -> list[Path]:
    """Files matching ``pattern`` among ``roots`` (files) and below them (folders), sorted."""
    out: set[Path] = set()
    for r in map(Path, roots):
        if r.is_file() and r.match(pattern):
            out.add(r)
        elif r.is_dir():
            out.update(r.rglob(pattern))
    return sorted(out)
