"""``repalign run CONFIG``: the whole study, every stage, one progress display."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from repalign.cli._stage import LOCK_TIMEOUT
from repalign.task import TaskFailed


def run(
    config: Path = typer.Argument(..., exists=True, dir_okay=False, help="Study config (TOML)."),
    executor: str = typer.Option(None, help="local | dask | slurm (default: the config's [executor] kind, else local)."),
    scheduler: str = typer.Option(None, help="Address of an existing Dask scheduler (implies dask)."),
    workers: int = typer.Option(None, help="Workers of the LocalCluster (dask executor)."),
    no_report: bool = typer.Option(False, "--no-report", help="Skip the HTML report."),
    lock_timeout: Optional[float] = LOCK_TIMEOUT,
) -> None:
    """Run a study config: stimuli → features → metrics → learners → R models → report.

    Stages whose outputs are current are skipped; a killed run resumes where it stopped.
    """
    import warnings

    from repalign.pipeline import run as run_pipeline
    from repalign.task import StaleOutputWarning

    # the run prints each stale output once itself; Python's default filter would print it again
    warnings.simplefilter("ignore", StaleOutputWarning)
    try:
        run_pipeline(config, executor=executor or ("dask" if scheduler else None), scheduler=scheduler,
                     n_workers=workers, report=not no_report, lock_timeout=lock_timeout)
    except TaskFailed as exc:
        typer.secho(str(exc), fg="red", err=True)
        raise typer.Exit(1)
