"""Parquet table conventions: schemas, provenance metadata, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from repalign.errors import SchemaError
from repalign.store import ParquetStream, read_table, table_info, write_table


def _metrics():
    return pd.DataFrame(
        {
            "model": ["a"],
            "layer": ["l"],
            "dataset": ["d"],
            "metric": ["m"],
            "value": [0.5],
            "ci_low": [np.nan],
            "ci_high": [np.nan],
            "n": [3],
        }
    )


def test_roundtrip_keeps_values_and_provenance(tmp_path):
    p = write_table(_metrics(), tmp_path / "m.parquet", "metrics", {"config": "x", "hash": 1})
    df = read_table(p, kind="metrics")
    assert df.value.tolist() == [0.5]
    assert df.attrs["kind"] == "metrics" and df.attrs["provenance"] == {"config": "x", "hash": 1}
    assert table_info(p)["schema_version"] == "1"


def test_missing_column_is_named_and_nothing_written(tmp_path):
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['ci_low'"):
        write_table(_metrics().drop(columns=["ci_low"]), tmp_path / "m.parquet", "metrics")
    assert list(tmp_path.iterdir()) == []


def test_wrong_type_is_named(tmp_path):
    bad = _metrics().assign(value=["high"])
    with pytest.raises(SchemaError, match="column 'value' has type (large_)?string"):
        write_table(bad, tmp_path / "m.parquet", "metrics")


def test_stream_writes_row_groups_and_publishes_on_close(tmp_path):
    schema = pa.schema([("stimulus_id", pa.string()), ("embedding", pa.list_(pa.float32()))])
    target = tmp_path / "f.parquet"
    with ParquetStream(target, schema, "features", {"k": "v"}) as w:
        for i in range(3):
            w.write(pd.DataFrame({"stimulus_id": [f"s{i}a", f"s{i}b"], "embedding": [[1.0, 2.0], [3.0, float(i)]]}))
            assert not target.exists()  # only the temporary file while writing
    import pyarrow.parquet as pq

    assert pq.ParquetFile(target).num_row_groups == 3
    df = read_table(target, kind="features")
    assert len(df) == 6 and df.attrs["provenance"] == {"k": "v"}


def test_stream_error_leaves_no_final_file(tmp_path):
    schema = pa.schema([("stimulus_id", pa.string()), ("embedding", pa.list_(pa.float32()))])
    target = tmp_path / "f.parquet"
    with pytest.raises(RuntimeError):
        with ParquetStream(target, schema, "features") as w:
            w.write(pd.DataFrame({"stimulus_id": ["a"], "embedding": [[1.0]]}))
            raise RuntimeError("killed")
    assert not target.exists()  # nothing published, nothing left but repalign's marked, empty temporary folder
    assert [p.relative_to(tmp_path) for p in tmp_path.rglob("*")] == [
        Path(".repalign-tmp"),
        Path(".repalign-tmp/.repalign-owned"),
    ]
