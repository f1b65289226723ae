"""``repalign features --config FILE``: extract every representation a config needs."""

from __future__ import annotations

from pathlib import Path

import typer

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET, config_option, stage_lock


def features(
    config: Path = config_option("[[stimuli]], [[models]] or [[representations]]"),
    output: Path | None = OUTPUT,
    dry_run: bool = typer.Option(False, "--dry-run", help="List the tasks and representations, run nothing."),
    skip_bad: bool = typer.Option(False, "--skip-bad", help="Leave unreadable images out (ids recorded in the files)."),
    lock_timeout: float | None = LOCK_TIMEOUT,
    quiet: bool = QUIET,
) -> None:
    """Run the feature-extraction tasks of a config ([[stimuli]], [[models]], [[representations]])."""
    from dataclasses import replace

    from repalign.config import load_config
    from repalign.features.plan import fed_readers
    from repalign.pipeline.plan import resolve_config
    from repalign.task import run_local

    cfg = load_config(config, output)
    # validated and resolved once, as `repalign run` does: the features stage's tasks are the resolution's
    resolved = resolve_config(cfg)
    tasks = list(resolved.tasks)
    if skip_bad:
        tasks = [replace(t, kwargs=dict(t.kwargs, skip_bad=True)) if "skip_bad" in t.kwargs else t for t in tasks]
    refs = resolved.reps
    if dry_run:
        for t in tasks:
            typer.echo(f"{'done ' if t.done() else 'todo '} {t.label}  ->  {', '.join(str(p) for p in t.outputs)}")
        for name, r in refs.items():
            typer.echo(f"repr  {name}  ({r.kind}{', ' + str(r.path) if r.path else ''})")
        return
    with stage_lock(cfg, lock_timeout):
        status = run_local(tasks, progress=not quiet)
    # a reader fed by its decode task is then found done: it was run by this run, not before it
    fed = len(fed_readers(tasks, status))
    done = sum(v == "done" for v in status.values()) + fed
    typer.echo(
        f"features: {done} task(s) run{f' ({fed} fed by its decode task)' if fed else ''}, "
        f"{len(status) - done} already done; "
        f"{len(refs)} representation(s) under {cfg.output / 'features'}"
    )
