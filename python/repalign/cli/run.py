"""``repalign run CONFIG``: the whole study, every stage, one progress display."""

from __future__ import annotations

from pathlib import Path

import typer

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET
from repalign.task import TaskFailed


def run(
    config_arg: Path | None = typer.Argument(
        None, metavar="[CONFIG]", exists=True, dir_okay=False, help="Study config (TOML); or give it as -c/--config."
    ),
    config_opt: Path | None = typer.Option(
        None, "--config", "-c", exists=True, dir_okay=False, help="Study config (TOML), as the other commands take it."
    ),
    output: Path | None = OUTPUT,
    dry_run: bool = typer.Option(
        False,
        "--dry-run",
        help="Print the task plan (per stage, each task: cached or to run) and exit; writes nothing, takes no lock.",
    ),
    executor: str = typer.Option(
        None, help="local | dask | slurm (default: the config's [executor] kind, else local)."
    ),
    scheduler: str = typer.Option(None, help="Address of an existing Dask scheduler (implies dask)."),
    workers: int = typer.Option(None, help="Workers of the LocalCluster (dask executor)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    quiet: bool = QUIET,
    lock_timeout: float | None = LOCK_TIMEOUT,
) -> None:
    """Run a study config: stimuli → features → metrics → learners → R models → report.

    Stages whose outputs are current are skipped; a killed run resumes where it stopped.
    """
    import warnings

    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline import run as run_pipeline
    from repalign.task import StaleOutputWarning

    if config_arg is not None and config_opt is not None and config_arg.resolve() != config_opt.resolve():
        raise ValidationError(f"run: two configs given ({config_arg} and --config {config_opt}); give one")
    path = config_arg or config_opt
    if path is None:
        raise ValidationError("run: no config given; `repalign run CONFIG` or `repalign run -c CONFIG`")
    cfg = load_config(path, output)
    if dry_run:
        from repalign.pipeline.dry_run import print_plan

        print_plan(cfg)
        return
    # the run prints each stale output once itself; Python's default filter would print it again
    warnings.simplefilter("ignore", StaleOutputWarning)
    try:
        run_pipeline(
            cfg,
            executor=executor or ("dask" if scheduler else None),
            scheduler=scheduler,
            n_workers=workers,
            report=not no_report,
            lock_timeout=lock_timeout,
            progress=not quiet,
        )
    except TaskFailed as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1) from None
