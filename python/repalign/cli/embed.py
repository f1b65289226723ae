"""``repalign embed --config FILE``: train the ``[[embed]]`` SPoSE/VICE embeddings."""

from __future__ import annotations

from pathlib import Path

from repalign.cli._stage import LOCK_TIMEOUT, OUTPUT, QUIET, config_option


def embed(
    config: Path = config_option("[[embed]] entries"),
    output: Path | None = OUTPUT,
    lock_timeout: float | None = LOCK_TIMEOUT,
    quiet: bool = QUIET,
) -> None:
    """Train sparse non-negative embeddings (SPoSE/VICE) from human or simulated
    odd-one-out triplets; evaluate them and match their dimensions with references.

    Each entry writes OUTPUT/embed/<name>-<key>/{embedding,curve,evaluation,matching}.parquet,
    reused when its inputs are unchanged.
    """
    import pandas as pd
    from rich.console import Console
    from rich.table import Table

    from repalign.cli._stage import run_stage
    from repalign.config import load_config
    from repalign.store import read_table, table_info

    cfg = load_config(config, output)
    tasks = run_stage(cfg, "embed", "[[embed]]", quiet, lock_timeout)
    if quiet:
        return
    console = Console()
    for t in tasks:
        if t.stage != "embed":
            continue
        spec = t.kwargs["job"].spec
        emb_path = next(p for p in t.outputs if p.name == "embedding.parquet")
        prov = table_info(emb_path)["provenance"]
        console.print(
            f"[bold]{spec['name']}[/bold]: {spec['method']} ({spec.get('variant', 'default')}), {prov.get('n_dims')} "
            "dimensions, "
            f"{prov.get('epochs')} epochs → {emb_path.parent}"
        )
        ev: pd.DataFrame = read_table(emb_path.with_name("evaluation.parquet"), kind="metrics")
        table = Table("model", "dataset / reference", "metric", "value", "n")
        for r in ev.itertuples():
            table.add_row(r.model, r.dataset, r.metric, f"{r.value:.4f}", str(r.n))
        console.print(table)
