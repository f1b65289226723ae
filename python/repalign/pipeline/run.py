"""``repalign run CONFIG``: plan, execute, report."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from rich.console import Console

import repalign.metrics  # noqa: F401  (its modules register the result families)
from repalign.config import Config, load_config
from repalign.errors import ValidationError
from repalign.families import summary_lines
from repalign.pipeline.executors import ExecutorSettings, execute
from repalign.pipeline.lock import output_lock
from repalign.pipeline.ownership import current_parts, foreign_note
from repalign.pipeline.plan import plan_all
from repalign.task import StaleOutputWarning, TaskFailed
from repalign.versions import write_versions

#: the summary's words for each task status, in the order shown
STATUS_WORDS = (
    ("done", "done"),
    ("skipped", "skipped (cached)"),
    ("failed", "failed"),
    ("blocked", "blocked"),
    ("not run", "not run"),
)


def summary_counts(counts: Mapping[str, int]) -> str:
    """``3 done, 2 skipped (cached), 1 failed, 1 blocked``: every status counted on its
    own (a status without tasks left out; "0 tasks" for an empty run)."""
    parts = [f"{counts[k]} {words}" for k, words in STATUS_WORDS if counts.get(k)]
    parts += [f"{n} {k}" for k, n in sorted(counts.items()) if n and k not in dict(STATUS_WORDS)]
    return ", ".join(parts) or "0 tasks"


def run_line(counts: Mapping[str, int], elapsed: float) -> str:
    """The one line saying what a run did: ``finished in 12.3s: 3 done, 2 skipped
    (cached)``, or for a run that recomputed nothing ``all 10 tasks cached: nothing
    recomputed (checked in 0.0s)``, so a cached re-run never reads as a fast one."""
    n = sum(counts.values())
    if n and counts.get("skipped", 0) == n:
        return f"all {n} tasks cached: nothing recomputed (checked in {elapsed:.1f}s)"
    return f"finished in {elapsed:.1f}s: {summary_counts(counts)}"


def run(
    config: Config | str | Path,
    *,
    executor: str | None = None,
    scheduler: str | None = None,
    n_workers: int | None = None,
    report: bool = True,
    progress: bool = True,
    console: Console | None = None,
    lock_timeout: float | None = None,
) -> dict[str, str]:
    """Run every stage of a config; returns the status of each task.

    The run holds the output directory's lock (``repalign.pipeline.lock``): a second
    run on the same directory waits for it (``lock_timeout`` seconds at most; None =
    as long as it takes), then skips what the first one finished. Leftovers of killed
    runs (only repalign's marked temporary folders) are removed first; entries of the
    output folder that repalign did not write are named in a note, never touched.
    Outputs found damaged or stale are named (console, ``StaleOutputWarning``,
    report) and recomputed.

    Raises ``TaskFailed`` (after running every independent task and writing the
    report) when a task failed.
    """
    console = console or Console(stderr=True)
    config = config if isinstance(config, Config) else load_config(config)
    settings = ExecutorSettings.from_config(config, kind=executor, scheduler=scheduler, n_workers=n_workers)
    tasks = plan_all(config)
    try:
        config.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"[run] output: cannot create directory {config.output}: {exc.strerror or exc}") from None
    with output_lock(
        config.output,
        config=str(config.path),
        timeout=lock_timeout,
        say=lambda m: console.print(f"[yellow]{m}[/yellow]"),
        keep_parts=current_parts(tasks),
    ) as removed:
        note = foreign_note(config.output, tasks)
        if note:  # named, never deleted
            console.print(note, markup=False, highlight=False, soft_wrap=True)
        if removed:
            console.print(
                f"removed {len(removed)} leftover(s) of killed runs: "
                + ", ".join(str(p.relative_to(config.output)) for p in removed[:5])
                + (" …" if len(removed) > 5 else "")
            )
        write_versions(config.output)
        return _run_locked(config, tasks, settings, report=report, progress=progress, console=console)


def _run_locked(
    config: Config, tasks, settings: ExecutorSettings, *, report: bool, progress: bool, console: Console
) -> dict[str, str]:
    console.print(f"[bold]{config.name}[/bold]: {len(tasks)} tasks → {config.output} (executor: {settings.kind})")
    started = time.monotonic()
    failure: TaskFailed | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StaleOutputWarning)
        try:
            status = execute(tasks, settings, progress=progress)
        except TaskFailed as exc:
            failure = exc
            given = exc.status or {}
            status = {
                t.key: given.get(t.key) or (("failed: " + exc.failures[t.key]) if t.key in exc.failures else "not run")
                for t in tasks
            }
    stale = []
    for w in caught:  # shown here, in the report, and passed on to the caller's filters (the CLI
        if issubclass(w.category, StaleOutputWarning):  # ignores these: it printed them here)
            stale.append(str(w.message))
            console.print(f"[yellow]warning:[/yellow] {w.message}")
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    elapsed = time.monotonic() - started
    counts = Counter(s.split(":")[0] for s in status.values())
    for line in summary_lines(tasks):  # every registered result family's lines (repalign.families)
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    if report:
        from repalign.pipeline.report import alignment_findings, write_report

        path = write_report(config, status, elapsed, tasks, notes=stale)
        for finding in alignment_findings(config, tasks):
            console.print(f"[bold]finding:[/bold] {finding}")
        console.print(f"report: {path}")
    console.print(run_line(counts, elapsed))
    if failure is not None:
        raise failure
    return status
