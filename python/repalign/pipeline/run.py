"""``repalign run CONFIG``: plan, execute, report."""

from __future__ import annotations

import time
import warnings
from collections import Counter
from pathlib import Path

from rich.console import Console

import repalign.metrics  # noqa: F401  (its modules register the result families)
from repalign.config import Config, load_config
from repalign.errors import ValidationError
from repalign.families import summary_lines
from repalign.pipeline.executors import ExecutorSettings, execute
from repalign.pipeline.lock import output_lock
from repalign.pipeline.plan import plan_all
from repalign.task import StaleOutputWarning, TaskFailed


def run(config: Config | str | Path, *, executor: str | None = None, scheduler: str | None = None,
        n_workers: int | None = None, report: bool = True, progress: bool = True,
        console: Console | None = None, lock_timeout: float | None = None) -> dict[str, str]:
    """Run every stage of a config; returns the status of each task.

    The run holds the output directory's lock (``repalign.pipeline.lock``): a second
    run on the same directory waits for it (``lock_timeout`` seconds at most; None =
    as long as it takes), then skips what the first one finished. Leftovers of killed
    runs are removed first. Outputs found damaged or stale are named (console,
    ``StaleOutputWarning``, report) and recomputed.

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
    with output_lock(config.output, config=str(config.path), timeout=lock_timeout,
                     say=lambda m: console.print(f"[yellow]{m}[/yellow]")) as removed:
        if removed:
            console.print(f"removed {len(removed)} leftover(s) of killed runs: "
                          + ", ".join(str(p.relative_to(config.output)) for p in removed[:5])
                          + (" …" if len(removed) > 5 else ""))
        return _run_locked(config, tasks, settings, report=report, progress=progress, console=console)


def _run_locked(config: Config, tasks, settings: ExecutorSettings, *, report: bool, progress: bool,
                console: Console) -> dict[str, str]:
    console.print(f"[bold]{config.name}[/bold]: {len(tasks)} tasks → {config.output} (executor: {settings.kind})")
    started = time.monotonic()
    failure: TaskFailed | None = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", StaleOutputWarning)
        try:
            status = execute(tasks, settings, progress=progress)
        except TaskFailed as exc:
            failure = exc
            status = {t.key: ("failed: " + exc.failures[t.key]) if t.key in exc.failures else "done/blocked"
                      for t in tasks}
    stale = []
    for w in caught:  # shown here, in the report, and passed on to the caller's filters
        if issubclass(w.category, StaleOutputWarning):
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
    console.print(
        f"finished in {elapsed:.1f}s: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )
    if failure is not None:
        raise failure
    return status
