"""The ``repalign`` command line. Each stage registers its commands in its own
module under ``repalign.cli``; this module only assembles them."""

from __future__ import annotations

import sys

import typer

from repalign.errors import RepalignError

app = typer.Typer(
    name="repalign",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts name config sections like [[models]] literally
    context_settings={"help_option_names": ["-h", "--help"]},  # sub-commands inherit it (click)
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            v = version("repalign")  # the installed distribution's (the package root is a later stage)
        except PackageNotFoundError:  # a source tree on PYTHONPATH without an install
            v = "unknown (not installed)"
        typer.echo(f"repalign {v}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Measure and explain representational alignment between networks and humans.

    Short flags mean the same in every command: -c config, -o output folder,
    -q quiet, -h help.
    """


# Stage command groups, registered after `app` exists (hence the imports below the
# code: E402 is ignored for this file in pyproject.toml). A missing module is a bug.
from repalign.cli import data as _data
from repalign.cli import dynamics as _dynamics
from repalign.cli import embed as _embed
from repalign.cli import features as _features
from repalign.cli import metrics as _metrics
from repalign.cli import models as _models
from repalign.cli import run as _run
from repalign.cli import simulate as _simulate
from repalign.cli import verify as _verify

app.add_typer(_data.app, name="data")
app.add_typer(_models.app, name="models")
app.command("features")(_features.features)
app.command("dynamics")(_dynamics.dynamics)
app.command("metrics")(_metrics.metrics)
app.command("simulate")(_simulate.simulate)
app.command("embed")(_embed.embed)
app.command("run")(_run.run)
app.command("verify")(_verify.verify)


def passive_openmp() -> bool:
    """Let OpenMP threads sleep, not spin, while they wait (``OMP_WAIT_POLICY=PASSIVE``),
    unless the user chose a policy; only possible before torch (and its OpenMP runtime)
    is loaded. Returns whether the policy is PASSIVE.

    torch's OpenMP threads spin between parallel regions by default. Beside DataLoader
    workers, R children or other jobs on the same cores, that spinning takes the CPU
    the others need: on the 2-core test machine under load the three small nets of the
    decode-once benchmark ran their forward passes in 2.8 CPU s instead of 7.5 per 64
    images and 2.7–3.7× faster in wall time, with the same features bit for bit (the
    same threads split the same work; docs/performance.md, "Decode once")."""
    import os

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return os.environ.get("OMP_WAIT_POLICY", "").upper() == "PASSIVE"


def main() -> None:
    """Entry point: user errors print as one clear line (no traceback) and exit 1:
    every RepalignError, and the OS errors of user paths (a missing file, a
    directory that cannot be created, permission denied)."""
    passive_openmp()
    try:
        app()
    except RepalignError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
    except OSError as exc:  # FileNotFoundError, PermissionError, IsADirectoryError, …
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        typer.secho(f"error: {exc.strerror or exc}{where}", fg="red", err=True)
        sys.exit(1)
