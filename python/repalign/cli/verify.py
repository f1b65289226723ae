"""``repalign verify OUTPUT``: check a run folder's outputs for damage."""

from __future__ import annotations

from pathlib import Path

import typer


def verify(
    output: Path = typer.Argument(..., help="A run's output folder (the config's `output`)."),
) -> None:
    """Check every Parquet table (page checksums) and every sealed folder (sizes and
    sha256 of its manifest) under OUTPUT; print one line per damaged file.

    Exit status 0 when nothing is damaged, 1 otherwise. Changes nothing: the next
    `repalign run` recomputes what is damaged.
    """
    from repalign.errors import ValidationError
    from repalign.pipeline.verify import verify_output

    if not output.is_dir():
        raise ValidationError(f"verify: {output} is not a folder" + ("" if output.exists() else " (it does not exist)"))
    rep = verify_output(output)
    for line in rep.damaged:
        typer.echo(f"damaged: {line}")
    for line in rep.unverifiable:
        typer.echo(f"unverified: {line}")
    summary = (
        f"checked {rep.parquet} Parquet file(s) and {rep.manifests} sealed folder(s) under {output}: "
        f"{len(rep.damaged)} damaged"
    )
    if rep.unverifiable:
        summary += f", {len(rep.unverifiable)} without checksums (re-run to rewrite them with checksums)"
    typer.echo(summary)
    if not rep.clean:
        raise typer.Exit(1)
