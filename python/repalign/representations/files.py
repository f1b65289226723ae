"""Representations the user brings as files: ``.npy``, ``.parquet`` or ``.csv``.

Layouts (one row per stimulus, values float64 after reading):

* ``.npy``: a 2-D numeric array (n_stimuli, n_dims); ids from ``ids_file``.
* ``.csv``: one ids column (``ids``, default ``stimulus_id``) and numeric columns, one per
  dimension; or only numeric columns with the ids in ``ids_file``.
* ``.parquet``: as ``.csv``, or a list column ``embedding`` (the layout of repalign's own
  features files, ``stimulus_id`` + ``embedding``).

``ids_file``: a text file with one id per line (row i of the values ↔ line i).

Every check runs when the run is planned, before any work, and fails with one line
naming the file, the column and the ids: a file that is empty, not readable in its
format (garbage Parquet, an empty or truncated ``.npy``) or not UTF-8 text (a ``.csv``,
an ids file), an ``embedding`` column that does not hold numbers, missing ids (an empty id cell, or ids a
stimulus set needs that the file lacks), duplicated ids, NaN/inf values, and shape
mismatches (rows vs ids, ragged rows, not 2-D, non-numeric columns).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from repalign.datasets import Embedding
from repalign.errors import ValidationError

SUFFIXES = (".npy", ".parquet", ".csv")
DEFAULT_IDS_COLUMN = "stimulus_id"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _show(items: Sequence, n: int = 5) -> str:
    items = list(items)
    more = f" … ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(map(repr, items[:n])) + more


def _text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``; one line naming it if it is something else."""
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{what}{path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None


def _read_ids_file(path: Path) -> list[str]:
    if not path.is_file():
        raise ValidationError(f"ids file not found: {path}")
    lines = _text(path, "ids file ").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()  # trailing blank lines are not ids
    return [line.strip() for line in lines]


def _table(path: Path, ids_column: str | None):
    """(pandas DataFrame of the scalar columns, rows of the list column ``embedding`` or None)
    of a .csv/.parquet file; the ids column is read as text."""
    import pandas as pd

    if path.stat().st_size == 0:
        raise ValidationError(f"{path} is empty")
    if path.suffix == ".csv":
        import io

        text = _text(path, "")  # pandas would stop at the first undecodable byte with a traceback
        try:
            return pd.read_csv(io.StringIO(text), dtype={ids_column: str} if ids_column else None), None
        except pd.errors.EmptyDataError:
            raise ValidationError(f"{path} is empty (no header line)") from None
        except (pd.errors.ParserError, ValueError) as exc:
            raise ValidationError(f"{path} is not a readable CSV file ({str(exc).strip().splitlines()[0]})") from None
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise ValidationError(f"{path} is not a readable Parquet file ({str(exc).strip().splitlines()[0]})") from None
    lists = None
    if "embedding" in table.column_names:
        t = table.schema.field("embedding").type
        if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
            lists = table.column("embedding").combine_chunks()
            table = table.drop(["embedding"])
    df = table.to_pandas()
    if ids_column and ids_column in df.columns:
        df[ids_column] = df[ids_column].astype(object).where(df[ids_column].notna(), None)
    return df, lists


def _check_ids(ids: list, where: str) -> tuple[str, ...]:
    missing = [
        i for i, s in enumerate(ids) if s is None or (isinstance(s, float) and np.isnan(s)) or str(s).strip() == ""
    ]
    if missing:
        raise ValidationError(f"{where}: {len(missing)} row(s) without an id (rows {_show([m + 1 for m in missing])})")
    ids = [str(s) for s in ids]
    seen: dict[str, int] = {}
    dups: dict[str, list[int]] = {}
    for row, s in enumerate(ids, start=1):
        if s in seen:
            dups.setdefault(s, [seen[s]]).append(row)
        else:
            seen[s] = row
    if dups:
        shown = "; ".join(f"{k!r} (rows {', '.join(map(str, v))})" for k, v in list(dups.items())[:5])
        raise ValidationError(f"{where}: {len(dups)} duplicated id(s): {shown}")
    return tuple(ids)


def read_file(
    path: str | Path, ids: str | None = None, ids_file: str | Path | None = None, name: str | None = None
) -> tuple[Embedding, str]:
    """Read and check a user's representation file → (Embedding, content key).

    ids: the ids column (.csv/.parquet; default ``stimulus_id`` unless ``ids_file``);
    ids_file: one id per line (required for .npy). The content key (32 hex digits)
    hashes the file's bytes and the ids' source (column name or the ids file's bytes),
    never the path."""
    path = Path(path)
    name = name or path.stem
    if path.suffix not in SUFFIXES:
        raise ValidationError(f"representation {name!r}: {path} is not a {', '.join(SUFFIXES)} file")
    if not path.is_file():
        raise ValidationError(f"representation {name!r}: file not found: {path}")
    if ids is not None and ids_file is not None:
        raise ValidationError(
            f"representation {name!r}: give either ids (a column of {path.name}) or ids_file, not both"
        )
    if path.suffix == ".npy" and ids_file is None:
        raise ValidationError(
            f"representation {name!r}: {path} is a .npy array; name its ids with ids_file "
            "(a text file, one id per line)"
        )
    id_list: list | None = None
    id_source = f"column:{ids or DEFAULT_IDS_COLUMN}"
    if ids_file is not None:
        ids_file = Path(ids_file)
        try:
            id_list = _read_ids_file(ids_file)
        except ValidationError as exc:
            raise ValidationError(f"representation {name!r}: {exc}") from None
        id_source = f"file:{_sha256(ids_file)}"
        ids_where = f"ids file {ids_file}"

    if path.suffix == ".npy":
        try:
            values = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise ValidationError(f"representation {name!r}: {path} is not a numeric array ({exc})") from None
        except (EOFError, OSError) as exc:  # empty or truncated
            what = "empty" if path.stat().st_size == 0 else str(exc) or type(exc).__name__
            raise ValidationError(f"representation {name!r}: {path} is not a .npy array ({what})") from None
        if values.ndim != 2:
            raise ValidationError(
                f"representation {name!r}: {path} holds an array of shape {values.shape}; "
                "expected 2-D (n_stimuli, n_dims)"
            )
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
            raise ValidationError(f"representation {name!r}: {path} holds {values.dtype} values, expected real numbers")
        columns = [f"column {j}" for j in range(values.shape[1])]
    else:
        try:
            df, lists = _table(path, None if id_list is not None else (ids or DEFAULT_IDS_COLUMN))
        except ValidationError as exc:
            raise ValidationError(f"representation {name!r}: {exc}") from None
        if id_list is None:
            col = ids or DEFAULT_IDS_COLUMN
            if col not in df.columns:
                raise ValidationError(
                    f"representation {name!r}: {path} has no ids column {col!r}; columns: "
                    f'{_show(list(map(str, df.columns)), 8)} (set ids = "<column>" or ids_file)'
                )
            id_list = df[col].astype(object).where(df[col].notna(), None).tolist()
            ids_where = f"{path} column {col!r}"
            df = df.drop(columns=[col])
        if lists is not None:
            if len(df.columns):
                raise ValidationError(
                    f"representation {name!r}: {path} has an 'embedding' list column and other "
                    f"column(s) {_show(list(map(str, df.columns)))}; keep only the ids and 'embedding'"
                )
            import pyarrow.compute as pc

            # null lists count as 0 values; null entries become NaN (both reported below)
            lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False)
            d = int(lengths[0]) if len(lengths) else 0
            bad = np.flatnonzero(lengths != d)
            if len(bad):
                row = int(bad[0])
                who = id_list[row] if row < len(id_list) else f"row {row + 1}"
                raise ValidationError(
                    f"representation {name!r}: {path} column 'embedding': the row of id {who!r} has "
                    f"{lengths[row]} values, expected {d} (as the first row)"
                )
            import pyarrow as pa

            items = lists.flatten()
            if not (
                pa.types.is_integer(items.type) or pa.types.is_floating(items.type) or pa.types.is_null(items.type)
            ):
                raise ValidationError(
                    f"representation {name!r}: {path} column 'embedding' holds {items.type} values, expected numbers"
                )
            flat = pc.cast(items, "float64").to_numpy(zero_copy_only=False)
            values = np.asarray(flat, dtype=np.float64).reshape(len(lengths), d)
            columns = [f"embedding[{j}]" for j in range(d)]
        else:
            from pandas.api.types import is_bool_dtype, is_numeric_dtype

            nonnum = [str(c) for c in df.columns if not is_numeric_dtype(df[c]) or is_bool_dtype(df[c])]
            if nonnum:
                raise ValidationError(
                    f"representation {name!r}: {path} column(s) {_show(nonnum)} are not numeric; "
                    "every column but the ids must be one dimension of the representation"
                )
            if not len(df.columns):
                raise ValidationError(f"representation {name!r}: {path} has no value columns besides the ids")
            values = df.to_numpy(dtype=np.float64, na_value=np.nan)
            columns = [str(c) for c in df.columns]
    if values.shape[0] == 0:
        raise ValidationError(f"representation {name!r}: {path} has no rows")
    if values.shape[0] != len(id_list):
        raise ValidationError(
            f"representation {name!r}: {path} has {values.shape[0]} rows but {ids_where} has {len(id_list)} ids"
        )
    id_tuple = _check_ids(id_list, f"representation {name!r}: {ids_where}")
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        rows, cols = np.nonzero(~finite)
        bad_cols = list(dict.fromkeys(columns[c] for c in cols))
        bad_ids = list(dict.fromkeys(id_tuple[r] for r in rows))
        raise ValidationError(
            f"representation {name!r}: {path} has NaN/inf values in {_show(bad_cols, 3)} for id(s) {_show(bad_ids)}"
        )
    content = hashlib.sha256(f"{_sha256(path)}\0{id_source}".encode()).hexdigest()[:32]
    meta = {"model": name, "path": str(path), "source": "file", "ids": id_source}
    return Embedding(id_tuple, values, name, meta), content


def check_covers(emb: Embedding, wanted: Sequence[str], set_name: str, where: str) -> None:
    """Error naming the ids of stimulus set ``set_name`` that the file lacks."""
    have = set(emb.ids)
    lacking = [i for i in wanted if i not in have]
    if lacking:
        raise ValidationError(f"{where}: lacks {len(lacking)} id(s) of stimulus set {set_name!r}: {_show(lacking)}")
