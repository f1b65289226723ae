"""Cost of bit-rot protection on a features table (issue 29): writing with page
checksums vs without, and checking a finished output before reuse — the footer
only (what reuse read before) vs every page against its CRC-32
(``repalign.store.verify_parquet``), page cache warm.

Prints the ratios: write with/without checksums (target ≤ 1.1), and the
verification's time per GB read. Run: .venv/bin/python bench/verify.py [--rows 20000 --dims 1280]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from repalign.store import _VERIFIED, verify_parquet, write_table


def _table(rows: int, dims: int) -> pa.Table:
    values = np.random.default_rng(0).normal(size=(rows, dims)).astype(np.float32)
    offsets = pa.array(np.arange(0, rows * dims + 1, dims, dtype=np.int32))
    emb = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))
    return pa.table({"stimulus_id": [f"s{i}" for i in range(rows)], "embedding": emb})


def _best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--dims", type=int, default=1280)
    a = ap.parse_args()
    table = _table(a.rows, a.dims)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.parquet"
        plain = _best(lambda: pq.write_table(table, Path(d) / "plain.parquet"))
        ours = _best(lambda: write_table(table, path, "features", {}))
        size = path.stat().st_size / 1e9
        footer = _best(lambda: pq.ParquetFile(path).metadata)

        def verify():
            _VERIFIED.clear()  # no in-process memo: every page is read
            assert verify_parquet(path) is None

        full = _best(verify)
    print(f"table: {a.rows} x {a.dims} float32, {size:.3f} GB")
    print(f"write with checksums / without: {ours / plain:.2f}  ({ours:.2f} s vs {plain:.2f} s)")
    print(f"reuse check, every page / footer only: {full / footer:.0f}x  ({full:.3f} s vs {footer * 1e3:.2f} ms)")
    print(f"verification: {full / size:.2f} s per GB")


if __name__ == "__main__":
    main()
