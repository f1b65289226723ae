"""Tables fitted to the terminal: keep the most important columns whole and leave
out the least important ones that do not fit (saying which), rather than cutting
every cell to "…"."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

#: characters a column costs besides its text (padding on both sides, one rule)
_COLUMN_COST = 3


def fitted_table(
    header: Sequence[str], rows: Sequence[Sequence[str]], width: int, *, title: str | None = None
) -> tuple[Table, list[str]]:
    """A rich table of ``rows`` under ``header`` (columns in order of importance) with
    the trailing columns left out while the natural widths exceed ``width``
    characters; returns (table, names of the columns left out). The first column is
    always kept (folded onto more lines if even it is wider than ``width``)."""
    natural = [max([len(h)] + [len(str(r[i])) for r in rows]) + _COLUMN_COST for i, h in enumerate(header)]
    keep = len(header)
    while keep > 1 and sum(natural[:keep]) + 1 > width:
        keep -= 1
    table = Table(*header[:keep], title=title, box=box.SIMPLE_HEAD)
    table.columns[0].overflow = "fold"
    for c in table.columns[1:]:
        c.no_wrap = True
    for r in rows:
        table.add_row(*(str(v) for v in r[:keep]))
    return table, list(header[keep:])


def print_fitted(
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    title: str | None = None,
    console: Console | None = None,
    more: str = "",
) -> None:
    """Print ``fitted_table`` at the console's width and name what was left out
    (``more``: where the full table is, e.g. "--csv FILE writes every column")."""
    console = console or Console()
    table, dropped = fitted_table(header, rows, console.width, title=title)
    console.print(table)
    if dropped:
        console.print(
            f"(left out to fit {console.width} columns: {', '.join(dropped)}" + (f"; {more}" if more else "") + ")",
            highlight=False,
        )
