"""Parquet tables shared by Python and R: schemas, provenance, atomic writes.

Every table repalign writes is a Parquet file with

* a documented schema per table *kind* (``SCHEMAS``; see ``docs/tables.md``): the
  required columns and their Arrow types; extra columns are allowed;
* key/value metadata ``repalign.kind``, ``repalign.schema_version`` and
  ``repalign.provenance`` (JSON: what produced it — package versions, config,
  inputs' hashes, cache key);
* atomic writes: data go to ``<name>.partial-<pid>`` in the same directory, which is
  renamed over the target only when complete, so a reader never sees half a file.

``ParquetStream`` writes row groups one at a time (bounded memory) with the same
guarantees; it leaves the partial file in place on error so that a caller that
knows how to resume can continue from its last complete row group.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from repalign.errors import SchemaError

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class TableSchema:
    kind: str
    columns: Mapping[str, pa.DataType]  # required columns
    doc: str


SCHEMAS: dict[str, TableSchema] = {
    "features": TableSchema(
        "features",
        {"stimulus_id": pa.string(), "embedding": pa.list_(pa.float32())},
        "One row per stimulus: its id and the float32 feature vector of one model layer.",
    ),
    "metrics": TableSchema(
        "metrics",
        {
            "model": pa.string(),
            "layer": pa.string(),
            "dataset": pa.string(),
            "metric": pa.string(),
            "value": pa.float64(),
            "ci_low": pa.float64(),
            "ci_high": pa.float64(),
            "n": pa.int64(),
        },
        "One row per (model, layer, dataset, metric): value with CI bounds (NaN if none) and n.",
    ),
    "trials": TableSchema(
        "trials",
        {
            "task": pa.string(),
            "participant": pa.string(),
            "trial": pa.int64(),
            "model": pa.string(),
            "layer": pa.string(),
            "value": pa.float64(),
        },
        "Learner trials: one row per (task, participant, trial, model, layer); "
        "value = learner's value or probability; task-specific columns follow.",
    ),
    "dynamics": TableSchema(
        "dynamics",
        {
            "agent": pa.string(),
            "run": pa.int64(),
            "epoch": pa.int64(),
            "phase": pa.string(),
            "image_name": pa.string(),
            "correct": pa.bool_(),
        },
        "Learning-dynamics trials of humans, networks or simulated learners.",
    ),
    "models": TableSchema(
        "models",
        {"name": pa.string(), "family": pa.string(), "objective": pa.string()},
        "Model metadata: one row per model.",
    ),
    "embedding": TableSchema(
        "embedding",
        {"stimulus_id": pa.string(), "embedding": pa.list_(pa.float32())},
        "A learned embedding (SPoSE/VICE): one row per stimulus.",
    ),
    "generic": TableSchema("generic", {}, "Any table; no required columns."),
}


def _compatible(actual: pa.DataType, wanted: pa.DataType) -> bool:
    if actual.equals(wanted):
        return True
    if pa.types.is_string(wanted) and (pa.types.is_large_string(actual) or pa.types.is_dictionary(actual)):
        return True
    if pa.types.is_integer(wanted) and pa.types.is_integer(actual):
        return True
    if pa.types.is_floating(wanted) and (pa.types.is_floating(actual) or pa.types.is_integer(actual)):
        return True
    if pa.types.is_list(wanted) and (pa.types.is_list(actual) or pa.types.is_large_list(actual) or pa.types.is_fixed_size_list(actual)):
        return _compatible(actual.value_type, wanted.value_type)
    if pa.types.is_string(wanted) and pa.types.is_null(actual):
        return True
    return False


def validate(table: pa.Table, kind: str, *, where: str = "table") -> pa.Table:
    """Check that ``table`` has the required columns of ``kind``; cast them to the
    documented types. Raises SchemaError naming the column."""
    if kind not in SCHEMAS:
        raise SchemaError(f"unknown table kind {kind!r}; known: {', '.join(SCHEMAS)}")
    schema = SCHEMAS[kind]
    missing = [c for c in schema.columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"{where} ({kind}): missing column(s) {missing}; required: {list(schema.columns)}")
    for name, wanted in schema.columns.items():
        i = table.column_names.index(name)
        col = table.column(i)
        if not _compatible(col.type, wanted):
            raise SchemaError(f"{where} ({kind}): column {name!r} has type {col.type}, expected {wanted}")
        if not col.type.equals(wanted):
            table = table.set_column(i, name, col.cast(wanted))
    return table


def _metadata(kind: str, provenance: Mapping[str, Any] | None) -> dict[bytes, bytes]:
    return {
        b"repalign.kind": kind.encode(),
        b"repalign.schema_version": SCHEMA_VERSION.encode(),
        b"repalign.provenance": json.dumps(dict(provenance or {}), sort_keys=True, default=str).encode(),
    }


def _to_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def write_table(
    data: pd.DataFrame | pa.Table,
    path: str | os.PathLike,
    kind: str = "generic",
    provenance: Mapping[str, Any] | None = None,
    *,
    row_group_size: int | None = None,
) -> Path:
    """Validate and atomically write one table. Returns the final path."""
    path = Path(path)
    table = validate(_to_arrow(data), kind, where=str(path))
    meta = dict(table.schema.metadata or {})
    meta.update(_metadata(kind, provenance))
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.partial-{os.getpid()}")
    try:
        pq.write_table(table, tmp, row_group_size=row_group_size)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_table(path: str | os.PathLike, kind: str | None = None) -> pd.DataFrame:
    """Read a repalign table into pandas; ``df.attrs`` holds kind and provenance.

    With ``kind``, the file must be of that kind and pass its schema.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no table at {path}")
    table = pq.read_table(path)
    info = table_info(path, schema=table.schema)
    if kind is not None:
        if info["kind"] not in (kind, None):
            raise SchemaError(f"{path}: table kind is {info['kind']!r}, expected {kind!r}")
        table = validate(table, kind, where=str(path))
    df = table.to_pandas()
    df.attrs.update(info)
    return df


def table_info(path: str | os.PathLike, schema: pa.Schema | None = None) -> dict[str, Any]:
    """Kind, schema version and provenance of a table, without reading its rows."""
    schema = schema if schema is not None else pq.read_schema(path)
    meta = schema.metadata or {}
    prov = meta.get(b"repalign.provenance")
    return {
        "kind": meta.get(b"repalign.kind", b"").decode() or None,
        "schema_version": meta.get(b"repalign.schema_version", b"").decode() or None,
        "provenance": json.loads(prov) if prov else {},
    }


class ParquetStream:
    """Write a table row group by row group to ``<path>.partial``; ``close()``
    renames it into place. Memory is bounded by one row group.

    >>> with ParquetStream(path, schema, kind="features", provenance={...}) as w:
    ...     for batch in batches:
    ...         w.write(batch)          # pa.Table or DataFrame, one row group
    """

    def __init__(self, path: str | os.PathLike, schema: pa.Schema, kind: str = "generic",
                 provenance: Mapping[str, Any] | None = None, *, partial: str | os.PathLike | None = None):
        self.path = Path(path)
        self.kind = kind
        empty = validate(schema.empty_table(), kind, where=str(self.path))
        meta = dict(empty.schema.metadata or {})
        meta.update(_metadata(kind, provenance))
        self.schema = empty.schema.with_metadata(meta)
        self.partial = Path(partial) if partial is not None else self.path.with_name(self.path.name + ".partial")
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        self._writer = pq.ParquetWriter(self.partial, self.schema)
        self.rows = 0

    def write(self, batch: pd.DataFrame | pa.Table) -> None:
        table = validate(_to_arrow(batch), self.kind, where=str(self.path)).select(self.schema.names)
        table = table.cast(self.schema)
        self._writer.write_table(table, row_group_size=max(len(table), 1))
        self.rows += len(table)

    def close(self) -> Path:
        self._writer.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close without publishing; the partial file stays for a resume."""
        self._writer.close()

    def __enter__(self) -> "ParquetStream":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
