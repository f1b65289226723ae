"""``repalign run --dry-run``: the task plan of a config, per stage, with each
task's state (cached or to run). Plans only: writes nothing, takes no lock."""

from __future__ import annotations

from collections import Counter

from rich.console import Console

from repalign.config import Config
from repalign.pipeline.plan import plan_all
from repalign.task import Task


def task_state(task: Task) -> str:
    """``cached`` (every output present and carrying the task's key), ``stale``
    (an output present but unusable: it will be recomputed) or ``to run``."""
    if task.done():
        return "cached"
    return "stale" if task.stale_outputs() else "to run"


def plan_states(config: Config) -> list[tuple[Task, str]]:
    """(task, state) for every task ``repalign run`` would run, in run order."""
    return [(t, task_state(t)) for t in plan_all(config)]


def print_plan(config: Config, console: Console | None = None) -> Counter:
    """Print the plan, one block per stage (in order of first task) and one line per
    task; returns the count of each state."""
    console = console or Console()
    states = plan_states(config)
    counts = Counter(s for _, s in states)
    summary = ", ".join(f"{counts[k]} {k}" for k in ("cached", "stale", "to run") if counts[k]) or "nothing to do"
    console.print(
        f"[bold]{config.name}[/bold]: {len(states)} tasks → {config.output} (dry run: {summary}; nothing written)",
        soft_wrap=True,
    )
    stages = list(dict.fromkeys(t.stage for t, _ in states))
    for stage in stages:
        rows = [(t, s) for t, s in states if t.stage == stage]
        n = Counter(s for _, s in rows)
        console.print(f"[bold]{stage}[/bold] ({', '.join(f'{v} {k}' for k, v in n.items())})")
        for t, s in rows:
            colour = {"cached": "green", "stale": "yellow"}.get(s, "cyan")
            console.print(f"  [{colour}]{s:<7}[/{colour}] {t.label or t.key}", highlight=False, soft_wrap=True)
    return counts
