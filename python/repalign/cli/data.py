"""``repalign data``: list, fetch and verify the registered datasets."""

from __future__ import annotations

from collections import Counter

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from repalign.datasets import registry as reg

app = typer.Typer(help="The data registry: list, fetch and verify datasets.", no_args_is_help=True)
console = Console()


@app.command("list")
def list_() -> None:
    """Datasets with their number of files, size, source repository and licence."""
    table = Table("dataset", "files", "MiB", "repository @ commit", "licence", "local")
    root = reg.data_dir()
    for name in reg.dataset_names():
        fs = reg.files(name)
        present = sum(reg.local_path(f).is_file() for f in fs)
        repos = sorted({f"{f.repo}@{f.commit[:7]}" for f in fs})
        table.add_row(
            name,
            str(len(fs)),
            f"{sum(f.size for f in fs) / 2**20:.1f}",
            ", ".join(repos),
            fs[0].licence,
            f"{present}/{len(fs)}",
        )
    console.print(table)
    where = f"REPALIGN_DATA_DIR={root}" if root else f"download cache {reg.local_path(reg.registry()[0]).parents[1]}"
    console.print(f"source: {where}")


@app.command()
def fetch(names: list[str] = typer.Argument(None, help="Dataset names (default: all).")) -> None:
    """Download (or locate in REPALIGN_DATA_DIR) and hash-check datasets."""
    names = names or reg.dataset_names()
    todo = [f for n in names for f in reg.files(n)]
    with Progress(console=console) as progress:
        task = progress.add_task("fetching", total=len(todo))
        for f in todo:
            reg.fetch(f.dataset, f.path)
            progress.advance(task)
    console.print(f"[green]{len(todo)} files OK[/green] ({', '.join(names)})")


@app.command()
def verify(names: list[str] = typer.Argument(None, help="Dataset names (default: all).")) -> None:
    """Hash-check every registered file; exit 1 if any is missing or corrupted."""
    counts: Counter[str] = Counter()
    bad = []
    for st in reg.verify(names or None):
        counts[(st.file.dataset, st.status)] += 1
        if st.status != "ok":
            bad.append(st)
    table = Table("dataset", "ok", "missing", "hash mismatch")
    for name in names or reg.dataset_names():
        table.add_row(
            name, str(counts[(name, "ok")]), str(counts[(name, "missing")]), str(counts[(name, "hash mismatch")])
        )
    console.print(table)
    for st in bad[:20]:
        console.print(f"[red]{st.status}[/red] {st.file.dataset}:{st.file.path} ({st.path})")
    total = sum(counts.values())
    if bad:
        console.print(f"[red]{len(bad)} of {total} files not OK[/red]")
        raise typer.Exit(1)
    console.print(f"[green]all {total} registered files OK[/green]")
