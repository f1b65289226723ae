"""Local executor vs a 2-worker Dask LocalCluster on the same config.

Prints wall time of each (fresh output directories, so every task runs), the
scheduling overhead per task (Dask running no-op tasks of the same count), and the
ratio. Usage: ``python bench/scale.py [CONFIG]`` (default: the offline demo).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

from repalign.config import load_config
from repalign.pipeline import run


def _noop(i: int) -> int:
    return i


def main() -> None:
    cfg_path = Path(sys.argv[1] if len(sys.argv) > 1 else "analysis/configs/demo.toml")
    work = Path(tempfile.mkdtemp(prefix="repalign-scale-"))
    try:
        timings = {}
        counts = {}
        for executor in ("local", "dask"):
            out = work / executor
            t0 = time.perf_counter()
            status = run(
                load_config(cfg_path, output=out), executor=executor, n_workers=2, report=False, progress=False
            )
            timings[executor] = time.perf_counter() - t0
            counts[executor] = len(status)
        n = counts["local"]
        from dask.distributed import Client, LocalCluster

        with (
            LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster,
            Client(cluster) as client,
        ):
            t0 = time.perf_counter()
            client.gather([client.submit(_noop, i, pure=False) for i in range(n)])
            overhead = (time.perf_counter() - t0) / max(n, 1)
        print(f"config: {cfg_path} ({n} tasks)")
        print(f"local executor:            {timings['local']:8.1f} s")
        print(f"dask LocalCluster (2 wk):  {timings['dask']:8.1f} s   (incl. cluster start-up)")
        print(f"ratio local/dask:          {timings['local'] / timings['dask']:8.2f}")
        print(f"scheduling overhead/task:  {overhead * 1e3:8.2f} ms (no-op tasks on the same cluster size)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
