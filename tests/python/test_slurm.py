"""The slurm executor on a real SLURM cluster (``make slurm-up``; run by ``make test-slurm``).

A reduced real-data study — features of a shipped image set, odd-one-out, intrinsic
dimensionality and a category learner — runs through dask-jobqueue's SLURMCluster with
two worker jobs and must give byte-identical outputs to the local executor; a worker job
``scancel``-ed mid-run still yields every output exactly once; a job that runs past its
walltime is reported as such, its task retried, then reported failed with the reason.
Skipped, with the reason, when no SLURM controller answers.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from builders import digits_study
from rich.console import Console

from repalign.children import child_env
from repalign.config import load_config
from repalign.pipeline import ExecutorSettings, run_dask
from repalign.pipeline.executors import slurm_cluster
from repalign.pipeline.plan import plan_all
from repalign.task import Task, TaskFailed, run_local

pytestmark = [pytest.mark.slurm, pytest.mark.data, pytest.mark.slow]


def _controller_answers() -> str | None:
    """None when `sinfo` reaches a controller with an idle partition, else why not."""
    if shutil.which("sinfo") is None:
        return "no SLURM client (sinfo) on PATH: run `make slurm-up`"
    try:
        proc = subprocess.run(
            ["sinfo", "-h", "-o", "%P %T"], capture_output=True, text=True, timeout=20, env=child_env()
        )
    except subprocess.TimeoutExpired:
        return "sinfo timed out: no SLURM controller answers (make slurm-up)"
    if proc.returncode != 0:
        return f"no SLURM controller answers (make slurm-up): {proc.stderr.strip().splitlines()[-1:]}"
    return None


@pytest.fixture(scope="module", autouse=True)
def slurm_cluster_up():
    reason = _controller_answers()
    if reason:
        pytest.skip(reason)
    yield
    # no job of these tests may outlive them (COMPLETING is SLURM's clean-up of an ended job)
    deadline = time.monotonic() + 60
    while (left := _our_jobs()) and time.monotonic() < deadline:
        time.sleep(1)
    assert not left, f"orphan SLURM jobs after the tests: {left}"


def _our_jobs() -> list[str]:
    out = subprocess.run(["squeue", "-h", "-o", "%i %j %T"], capture_output=True, text=True, env=child_env()).stdout
    return [line for line in out.splitlines() if "dask-worker" in line]


CONFIG = (
    digits_study(4, output="out-local", models=("pixels", "random:efficientnet_lite0"))
    + """
[[representations]]
name = "spose"
source = "spose49"

[[metrics]]
metric = "odd_one_out"
dataset = "noise_ceiling"
n_boot = 100
representations = ["spose"]

[[metrics]]
metric = "dimensionality"
methods = ["twonn", "pr"]
representations = ["spose", "pixels/output@digits", "random:efficientnet_lite0/penultimate@digits"]

[[learners]]
task = "stimuli-category"
stimuli = "digits"
participants = 4
trials = 40
C = 1.0
pca = 10
representations = ["pixels/output@digits", "random:efficientnet_lite0/penultimate@digits"]
"""
)


def _settings(tmp: Path, **extra) -> ExecutorSettings:
    slurm = {
        "queue": "debug",
        "cores": 1,
        "processes": 1,
        "memory": "3GB",
        "walltime": "00:15:00",
        "max_jobs": 2,
        "python": sys.executable,
        "local_directory": str(tmp / "dask-local"),
        "log_directory": str(tmp / "slurm-logs"),
        "scheduler_host": "127.0.0.1",
    }
    slurm.update(extra.pop("slurm", {}))
    return ExecutorSettings(kind="slurm", retries=extra.pop("retries", 2), slurm=slurm, **extra)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _jobs_started(text: str) -> int:
    m = re.search(r"SLURM jobs started: (\d+)", text)
    assert m, text[-2000:]
    return int(m.group(1))


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("slurm-study")
    cfg = d / "study.toml"
    cfg.write_text(CONFIG)
    t0 = time.monotonic()
    status = run_local(plan_all(load_config(cfg)), progress=False)
    wall = time.monotonic() - t0
    assert set(status.values()) == {"done"}
    files = _files(d / "out-local")
    assert sum(k.startswith("features/") for k in files) == 2
    assert sum(k.startswith("metrics/") for k in files) == 4
    assert sum(k.startswith("learners/") for k in files) >= 1
    return cfg, files, wall


def test_slurm_study_gives_identical_outputs(local_run, tmp_path, capsys):
    cfg, expected, local_wall = local_run
    out = tmp_path / "out"
    log = io.StringIO()
    t0 = time.monotonic()
    status = run_dask(
        plan_all(load_config(cfg, output=out)),
        _settings(tmp_path),
        console=Console(file=log, width=200),
        progress=False,
    )
    slurm_wall = time.monotonic() - t0
    assert set(status.values()) == {"done"}
    assert _files(out) == expected
    n_jobs = _jobs_started(log.getvalue())
    assert 1 <= n_jobs <= 2 + 2  # max_jobs = 2, at most a replacement each
    with capsys.disabled():
        print(
            f"\nslurm study: local {local_wall:.1f}s, slurm (max_jobs=2) {slurm_wall:.1f}s, "
            f"ratio {slurm_wall / local_wall:.2f}, SLURM jobs started {n_jobs}"
        )


def test_scancel_of_a_worker_job_midrun(local_run, tmp_path):
    cfg, expected, _ = local_run
    out = tmp_path / "out"
    tasks = plan_all(load_config(cfg, output=out))
    log = io.StringIO()
    result: dict = {}
    settings = _settings(tmp_path)
    cluster = slurm_cluster(settings)  # in the main thread: dask-jobqueue installs signal handlers

    def go():
        try:
            result["status"] = run_dask(
                tasks, settings, cluster=cluster, console=Console(file=log, width=200), progress=False
            )
        except Exception as exc:  # surfaced by the assertions below
            result["error"] = exc

    thread = threading.Thread(target=go)
    thread.start()
    deadline = time.monotonic() + 300
    cancelled = None
    while time.monotonic() < deadline and thread.is_alive():
        running = [line.split()[0] for line in _our_jobs() if line.endswith("RUNNING")]
        if running and any(out.rglob("*.parquet")):
            cancelled = running[0]
            subprocess.run(["scancel", cancelled], check=True, env=child_env())
            break
        time.sleep(0.2)
    thread.join(timeout=600)
    cluster.close()
    assert cancelled is not None, (
        f"no worker job was running while outputs were being written: {result} {log.getvalue()[-1500:]}"
    )
    assert "error" not in result, result.get("error")
    assert _files(out) == expected  # every output exactly once, no partial files, same bytes
    assert f"SLURM job {cancelled} ended: CANCELLED" in log.getvalue()


def test_walltime_exceeded_is_retried_then_reported(tmp_path):
    # a task that needs 10 minutes on workers whose jobs get 1 minute (SLURM's smallest limit)
    task = Task("sleeper", "test", (tmp_path / "never.txt",), time.sleep, (600,), label="sleep 600 s")
    log = io.StringIO()
    settings = _settings(tmp_path, retries=1, slurm={"walltime": "00:01:00", "max_jobs": 1})
    with pytest.raises(TaskFailed) as info:
        run_dask([task], settings, console=Console(file=log, width=300), progress=False)
    reason = info.value.failures["sleeper"]
    assert "SLURM walltime exceeded" in reason and "00:01:00" in reason, reason
    text = log.getvalue()
    assert text.count("exceeded its walltime (00:01:00)") == 2, text  # first try, then the retry
    assert _jobs_started(text) == 2
    assert not (tmp_path / "never.txt").exists()
