"""Shared body of the per-stage commands (features, metrics, simulate, embed,
dynamics): hold the output folder's lock like ``repalign run``, plan the stage as
``repalign run`` plans it (``repalign.pipeline.plan.plan_stage``: the config validated
once, the representations resolved once, the feature-extraction tasks it depends on
added), run them in-process."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer

from repalign.config import Config
from repalign.task import Task, TaskFailed, run_local

#: the ``--lock-timeout`` option of every command that writes into an output folder
LOCK_TIMEOUT = typer.Option(
    None,
    "--lock-timeout",
    min=0,
    help="Seconds to wait while another repalign command holds the output folder "
    "(default: wait until it ends; 0: fail at once, naming the holder).",
)

#: one meaning per short flag in every command: -c config, -o output folder, -q quiet
#: (``--no-progress`` is a hidden alias of ``--quiet``; ``-h`` is help, set on the app)
OUTPUT = typer.Option(None, "--output", "-o", help="Output directory (overrides the config's [run] output).")
QUIET = typer.Option(False, "--quiet", "-q", help="No progress bar or summary tables.")


def config_option(what: str, required: bool = True):
    """The ``-c/--config`` option, ``what`` naming the sections the command reads."""
    return typer.Option(
        ... if required else None,
        "--config",
        "-c",
        exists=True,
        dir_okay=False,
        help=f"Study config (TOML){' with ' + what if what else ''}.",
    )


@contextlib.contextmanager
def stage_lock(cfg: Config, timeout: float | None = None) -> Iterator[None]:
    """Hold ``cfg.output``'s lock (``repalign.pipeline.lock.output_lock``, as ``repalign
    run`` does): a command on a folder another command holds says who holds it and
    waits (``timeout`` seconds at most), so no task is computed twice side by side."""
    from repalign.errors import ValidationError
    from repalign.pipeline.lock import output_lock

    try:
        cfg.output.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValidationError(f"[run] output: cannot create directory {cfg.output}: {exc.strerror or exc}") from None
    with output_lock(
        cfg.output, config=str(cfg.path), timeout=timeout, say=lambda m: typer.secho(m, fg="yellow", err=True)
    ) as removed:
        if removed:
            typer.echo(f"removed {len(removed)} leftover(s) of killed runs", err=True)
        yield


def run_stage(
    cfg: Config,
    stage: str,
    section: str,
    quiet: bool,
    lock_timeout: float | None = None,
) -> list[Task]:
    """Run the tasks of the stage named ``stage`` (``repalign.stages.STAGES``; and the
    extractions they need) under the output folder's lock; exit 1 with the failures
    listed if any task failed, or when the config has no ``section``."""
    from repalign.pipeline.plan import plan_stage

    tasks = plan_stage(cfg, stage, with_inputs=True)
    if not tasks:
        typer.secho(f"no {section} entries in the config", fg="yellow", err=True)
        raise typer.Exit(1)
    with stage_lock(cfg, lock_timeout):
        try:
            run_local(tasks, progress=not quiet)
        except TaskFailed as exc:
            typer.secho(str(exc), fg="red", err=True)
            raise typer.Exit(1) from None
    return tasks
