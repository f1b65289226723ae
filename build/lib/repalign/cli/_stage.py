"""Shared body of the per-stage commands (metrics, simulate, embed): plan the
stage, add the feature-extraction tasks it depends on, run them in-process."""

from __future__ import annotations

from typing import Callable

import typer

from repalign.config import Config
from repalign.task import Task, TaskFailed, run_local


def run_stage(cfg: Config, planner: Callable[[Config], list[Task]], section: str, quiet: bool) -> list[Task]:
    """Run one stage's tasks (and the extractions they need); exit 1 with the
    failures listed if any task failed, or when the config has no such section."""
    tasks = planner(cfg)
    if not tasks:
        typer.secho(f"no {section} entries in the config", fg="yellow", err=True)
        raise typer.Exit(1)
    if any(t.deps for t in tasks):  # representations that must be extracted first
        from repalign.features import plan_features

        tasks = list(plan_features(cfg)) + tasks
    try:
        run_local(tasks, progress=not quiet)
    except TaskFailed as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1)
    return tasks
