"""The same real-data config through the local executor and a 2-process Dask
LocalCluster (loopback): byte-identical outputs, also when a worker is killed."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from builders import digits_study

from repalign.children import clean_environ
from repalign.config import load_config
from repalign.pipeline import ExecutorSettings, run, run_dask
from repalign.pipeline.plan import plan_all

pytestmark = [pytest.mark.data, pytest.mark.slow]

CONFIG = (
    digits_study(3, output="out-local")
    + """
[[representations]]
name = "spose"
source = "spose49"

[[representations]]
name = "noise1"
source = "random"
dims = 49
seed = 1

[[representations]]
name = "noise2"
source = "random"
dims = 49
seed = 2

[[metrics]]
metric = "odd_one_out"
dataset = "noise_ceiling"
n_boot = 200

[[metrics]]
metric = "noise_ceiling"
dataset = "noise_ceiling"

[[metrics]]
metric = "dimensionality"
methods = ["twonn", "pr"]
representations = ["spose", "noise1", "noise2", "pixels/output@digits"]
"""
)


def _files(root: Path) -> dict[str, bytes]:
    """Every output file's bytes (the run lock and its holder note, the marker of repalign's
    temporary folders, which stay when tasks run without a run's lock, and the run's versions.json,
    which `run` writes and bare executors do not, left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.name.startswith((".repalign.lock", ".repalign-owned"))
        and str(p.relative_to(root)) != "versions.json"
    }


@pytest.fixture(scope="module")
def local_run(real_data, tmp_path_factory):  # real_data first: skip (or fail) before any download
    d = tmp_path_factory.mktemp("dask")
    cfg = d / "study.toml"
    cfg.write_text(CONFIG)
    status = run(load_config(cfg), report=False, progress=False)
    assert set(status.values()) == {"done"}
    return cfg, _files(d / "out-local")


def test_dask_local_cluster_gives_identical_outputs(local_run, tmp_path):
    cfg, expected = local_run
    # pixels extraction (inside a Dask worker process), 3 odd-one-out, 4 dimensionality, the noise ceiling
    assert sum(k.startswith("metrics/") for k in expected) == 8
    assert sum(k.startswith("features/") for k in expected) == 1
    status = run(load_config(cfg, output=tmp_path / "out"), executor="dask", n_workers=2, report=False, progress=False)
    assert set(status.values()) == {"done"}
    assert _files(tmp_path / "out") == expected
    # a second run finds every task done and redoes nothing
    again = run(load_config(cfg, output=tmp_path / "out"), executor="dask", n_workers=2, report=False, progress=False)
    assert set(again.values()) == {"skipped"}


def test_killed_worker_run_completes_identically(local_run, tmp_path):
    from dask.distributed import Client, LocalCluster

    cfg, expected = local_run
    out = tmp_path / "out"
    tasks = plan_all(load_config(cfg, output=out))
    with clean_environ():  # its worker processes start with a child's clean environment
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        )
    result: dict = {}
    try:
        with Client(cluster) as probe:
            pids = probe.run(os.getpid)

        def go():
            try:
                result["status"] = run_dask(
                    tasks, ExecutorSettings(kind="dask", retries=2), cluster=cluster, progress=False
                )
            except Exception as exc:  # surfaced by the assertion below
                result["error"] = exc

        thread = threading.Thread(target=go)
        thread.start()
        deadline = time.monotonic() + 120
        while not any(out.rglob("*.parquet")) and time.monotonic() < deadline:
            time.sleep(0.05)
        finished_before_kill = len(list(out.rglob("*.parquet")))
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # one worker dies mid-run
        thread.join(timeout=300)
    finally:
        cluster.close()
    assert "error" not in result, result.get("error")
    assert finished_before_kill < len(expected)
    assert _files(out) == expected  # every output exactly once, no partial files, same bytes
