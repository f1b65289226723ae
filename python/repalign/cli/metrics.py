"""``repalign metrics --config FILE``: compute the ``[[metrics]]`` section."""

from __future__ import annotations

from pathlib import Path

import typer

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET, config_option


def metrics(
    config: Path = config_option("[[metrics]]"),
    output: Path | None = OUTPUT,
    out: Path = typer.Option(None, "--table", "--out", help="Also write all rows to this one metrics table (Parquet)."),
    lock_timeout: float | None = LOCK_TIMEOUT,
    quiet: bool = QUIET,
) -> None:
    """Compute alignment metrics (odd-one-out, probing, RSA, CKA, dimensionality, separation).

    Representations are resolved (and extracted if needed) by the features stage;
    each (metric, representation) result is a metrics table under OUTPUT/metrics/,
    reused when its inputs are unchanged.
    """
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from repalign.cli._stage import run_stage
    from repalign.config import load_config
    from repalign.store import read_table, table_info, write_table

    cfg = load_config(config, output)
    tasks = run_stage(cfg, "metrics", "[[metrics]]", quiet, lock_timeout)
    # (a classification task also writes a ``decisions`` table)
    frames = [
        read_table(p, kind="metrics")
        for t in tasks
        if t.stage == "metrics"
        for p in t.outputs
        if table_info(p)["kind"] == "metrics"
    ]
    df = pd.concat(frames, ignore_index=True)
    if out is not None:
        write_table(df, out, kind="metrics", provenance={"producer": "repalign metrics", "config": str(cfg.path)})
    if not quiet:
        table = Table(*(c for c in ("model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n")))
        for r in df.itertuples():
            table.add_row(
                r.model, r.layer, r.dataset, r.metric, f"{r.value:.4f}", f"{r.ci_low:.4f}", f"{r.ci_high:.4f}", str(r.n)
            )
        Console().print(table)  # fitted to the terminal (rich wraps cells, never cuts names)
