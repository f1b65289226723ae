"""``repalign simulate --config FILE``: run the ``[[learners]]`` section."""

from __future__ import annotations

from pathlib import Path

import typer

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET, config_option


def simulate(
    config: Path = config_option("[[learners]]"),
    output: Path | None = OUTPUT,
    out: Path = typer.Option(
        None, "--table", "--out", help="Also write all trials to this one trials table (Parquet)."
    ),
    lock_timeout: float | None = LOCK_TIMEOUT,
    quiet: bool = QUIET,
) -> None:
    """Simulate trial-by-trial learners (category, reward, multiclass) on human tasks.

    Each ([[learners]] entry, representation) becomes a trials table under
    OUTPUT/learners/, reused when its inputs are unchanged. Representations are
    resolved (and extracted if needed) by the features stage.
    """
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from repalign.cli._stage import run_stage
    from repalign.config import load_config
    from repalign.store import read_table, write_table

    cfg = load_config(config, output)
    tasks = run_stage(cfg, "learners", "[[learners]]", quiet, lock_timeout)
    frames = [read_table(p, kind="trials") for t in tasks if t.stage == "learners" for p in t.outputs]
    df = pd.concat(frames, ignore_index=True)
    if out is not None:
        write_table(df, out, kind="trials", provenance={"producer": "repalign simulate", "config": str(cfg.path)})
    if not quiet:
        table = Table("task", "model", "layer", "participants", "trials", "mean value")
        for (kind, model, layer), g in df.groupby(["task_kind", "model", "layer"], sort=False):
            table.add_row(kind, model, layer, str(g["participant"].nunique()), str(len(g)), f"{g['value'].mean():.4f}")
        Console().print(table)
