"""``repalign run CONFIG``: plan, execute, report."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from rich.console import Console

from repalign.config import Config, load_config
from repalign.pipeline.executors import ExecutorSettings, execute
from repalign.pipeline.plan import plan_all
from repalign.task import TaskFailed


def run(config: Config | str | Path, *, executor: str | None = None, scheduler: str | None = None,
        n_workers: int | None = None, report: bool = True, progress: bool = True,
        console: Console | None = None) -> dict[str, str]:
    """Run every stage of a config; returns the status of each task.

    Raises ``TaskFailed`` (after running every independent task and writing the
    report) when a task failed.
    """
    console = console or Console(stderr=True)
    config = config if isinstance(config, Config) else load_config(config)
    settings = ExecutorSettings.from_config(config, kind=executor, scheduler=scheduler, n_workers=n_workers)
    tasks = plan_all(config)
    config.output.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]{config.name}[/bold]: {len(tasks)} tasks → {config.output} (executor: {settings.kind})")
    started = time.monotonic()
    failure: TaskFailed | None = None
    try:
        status = execute(tasks, settings, progress=progress)
    except TaskFailed as exc:
        failure = exc
        status = {t.key: ("failed: " + exc.failures[t.key]) if t.key in exc.failures else "done/blocked" for t in tasks}
    elapsed = time.monotonic() - started
    counts = Counter(s.split(":")[0] for s in status.values())
    if report:
        from repalign.pipeline.report import alignment_findings, write_report

        path = write_report(config, status, elapsed, tasks)
        for finding in alignment_findings(config, tasks):
            console.print(f"[bold]finding:[/bold] {finding}")
        console.print(f"report: {path}")
    console.print(
        f"finished in {elapsed:.1f}s: " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    )
    if failure is not None:
        raise failure
    return status
