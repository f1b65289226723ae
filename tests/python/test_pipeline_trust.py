"""Results that cannot go stale or corrupt silently (issue 15, items 1-3).

* keys cover inputs' content: editing model metadata or an [r] input table re-runs
  the R stage and changes the report;
* a damaged output (each table kind, an R output folder) is named in a warning and
  recomputed; an output written for another key is not taken as finished;
* writers never share a temporary file; two runs on one directory compute each
  task once (the second waits for the first); leftovers of killed runs are
  removed; the R child dies with the run, even on SIGKILL.

Synthetic data throughout (digits, planted-signal trials), so nothing is downloaded.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from builders import child_python_env, choice_trials, digits_study

from repalign.config import load_config
from repalign.pipeline import run
from repalign.pipeline.lock import OutputLocked, output_lock
from repalign.pipeline.plan import plan_all
from repalign.store import (
    SCHEMAS,
    ParquetStream,
    check_output,
    clean_leftovers,
    read_table,
    table_info,
    task_context,
    write_table,
)
from repalign.task import StaleOutputWarning, Task, run_local

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
ENV = child_python_env()
HAS_R = (ROOT / ".rlib" / "repalign").is_dir() or "REPALIGN_RLIB" in os.environ
needs_r = pytest.mark.skipif(not HAS_R, reason="R package not installed (make install-rpkg)")


# --- a valid small table of every kind ---------------------------------------------------------
def _table(kind: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 6
    if kind in ("features", "embedding"):
        return pd.DataFrame(
            {"stimulus_id": [f"s{i}" for i in range(n)], "embedding": list(rng.normal(size=(n, 3)).astype(np.float32))}
        )
    cols = {}
    for name, typ in SCHEMAS[kind].columns.items():
        if pa.types.is_string(typ):
            cols[name] = [f"{name}{i % 2}" for i in range(n)]
        elif pa.types.is_integer(typ):
            cols[name] = np.arange(n, dtype=np.int64)
        elif pa.types.is_boolean(typ):
            cols[name] = np.arange(n) % 2 == 0
        else:
            cols[name] = rng.normal(size=n)
    return pd.DataFrame(cols) if cols else pd.DataFrame({"x": rng.normal(size=n)})


def write_kind(kind: str, path: str, seed: int) -> str:
    """Task body (module level): one table of ``kind``."""
    write_table(_table(kind, seed), path, kind, {"producer": "test"})
    return path


@pytest.mark.parametrize("kind", sorted(SCHEMAS))
def test_truncated_table_of_each_kind_is_named_and_recomputed(kind, tmp_path):
    path = tmp_path / f"{kind}.parquet"
    task = Task(f"test:{kind}", "test", (path,), write_kind, (kind, str(path), 1))
    assert run_local([task], progress=False) == {task.key: "done"}
    good = path.read_bytes()
    assert table_info(path)["provenance"]["task"] == task.key  # stamped by Task.run
    path.write_bytes(good[: len(good) // 2])  # truncated: no footer
    assert not task.done()
    with pytest.warns(StaleOutputWarning, match=rf"{path}: unreadable .*recomputing"):
        assert run_local([task], progress=False) == {task.key: "done"}
    assert task.done() and path.read_bytes() == good


def test_dask_worker_body_reports_stale_outputs_to_the_client(tmp_path):
    from repalign.pipeline.executors import _execute

    path = tmp_path / "t.parquet"
    task = Task("test:trials", "test", (path,), write_kind, ("trials", str(path), 1))
    assert _execute(task) == ("done", [])
    assert _execute(task) == ("skipped", [])
    path.write_bytes(path.read_bytes()[:-20])  # footer damaged
    status, stale = _execute(task)
    assert status == "done" and len(stale) == 1 and stale[0].startswith(f"{path}: unreadable")
    assert task.done()


def test_an_output_written_for_another_key_is_not_finished(tmp_path):
    path = tmp_path / "m.parquet"
    with task_context("metrics:old-key"):
        write_table(_table("metrics"), path, "metrics", {})
    task = Task("metrics:new-key", "metrics", (path,), write_kind, ("metrics", str(path), 2))
    assert "written by task 'metrics:old-key'" in check_output(path, task.key)
    with pytest.warns(StaleOutputWarning, match=str(path)):
        assert run_local([task], progress=False)[task.key] == "done"
    assert read_table(path)["value"].tolist() == _table("metrics", 2)["value"].tolist()
    # outside a task nothing is stamped: such a file is never taken as a task's output
    write_table(_table("metrics"), tmp_path / "free.parquet", "metrics", {})
    assert "task" not in table_info(tmp_path / "free.parquet")["provenance"]


def write_folder(out: str, n: int) -> str:
    """Task body: a non-Parquet output in a directory of its own."""
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "figures").mkdir(exist_ok=True)
    (d / "figures" / "a.png").write_bytes(bytes(range(n)))
    (d / "summary.txt").write_text(f"n = {n}\n")
    return out


def test_damaged_non_parquet_output_folder_is_recomputed(tmp_path):
    out = tmp_path / "r" / "k"
    task = Task("r:k", "r", (out / "summary.txt",), write_folder, (str(out), 50))
    run_local([task], progress=False)
    assert task.done()
    (out / "figures" / "a.png").write_bytes(b"broken")  # a file next to the output, damaged
    assert "a.png differs from its directory's manifest" in check_output(out / "summary.txt", task.key)
    with pytest.warns(StaleOutputWarning, match="a.png differs"):
        assert run_local([task], progress=False)[task.key] == "done"
    assert task.done() and (out / "figures" / "a.png").read_bytes() == bytes(range(50))
    other = Task("r:other", "r", (out / "summary.txt",), write_folder, (str(out), 50))
    assert not other.done()  # the manifest names the task that wrote the folder


# --- temporary names, leftovers, locks ---------------------------------------------------------
def test_two_streams_on_one_path_never_mix_rows(tmp_path):
    path = tmp_path / "f.parquet"
    schema = pa.schema([("stimulus_id", pa.string()), ("embedding", pa.list_(pa.float32()))])
    a = ParquetStream(path, schema, kind="features", provenance={"writer": "a"})
    b = ParquetStream(path, schema, kind="features", provenance={"writer": "b"})
    assert a.partial != b.partial and a.partial.parent == tmp_path / ".repalign-tmp"
    assert a.partial.name.startswith("f.parquet.") and (tmp_path / ".repalign-tmp" / ".repalign-owned").is_file()
    for i in range(3):
        a.write(_table("features", seed=i).assign(stimulus_id=lambda d: "a" + d["stimulus_id"]))
        b.write(_table("features", seed=10 + i).assign(stimulus_id=lambda d: "b" + d["stimulus_id"]))
    b.close()
    a.close()  # the last to publish wins, whole
    df = read_table(path, kind="features")
    assert len(df) == 18 and df["stimulus_id"].str.startswith("a").all()
    assert df.attrs["provenance"]["writer"] == "a"
    c = ParquetStream(path, schema, kind="features")
    c.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".repalign-tmp", "f.parquet"]
    assert [p.name for p in (tmp_path / ".repalign-tmp").iterdir()] == [".repalign-owned"]  # no temporary file left


def test_leftovers_of_killed_runs_are_removed(tmp_path):
    from repalign.store import PARTS_MARKER, TMP_DIR, temp_name

    dead = subprocess.Popen(["true"])
    dead.wait()
    # what killed writers leave: temporary files and folders in marked .repalign-tmp folders
    debris = [
        temp_name(tmp_path / "metrics" / "x.parquet").with_name(f"x.parquet.{dead.pid}-abcd1234"),
        temp_name(tmp_path / "r" / "k").with_name(f"k.{dead.pid}-0000ffff"),
    ]
    debris[0].write_bytes(b"half")
    (debris[1] / "figures").mkdir(parents=True)
    keep = [
        tmp_path / "metrics" / "x.parquet",
        tmp_path / "features" / "m" / "a.parquet.parts" / "000000.parquet",
        tmp_path / "metrics" / "y.parquet.partial-123-abcd1234",
    ]  # a name alone marks nothing
    for k in keep:
        k.parent.mkdir(parents=True, exist_ok=True)
        k.write_bytes(b"done")
    (keep[1].parent / PARTS_MARKER).write_text("parts")  # the current plan's: kept by default
    removed = clean_leftovers(tmp_path)
    assert sorted(removed) == sorted(debris)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        "features/m/a.parquet.parts/.repalign-parts",
        "features/m/a.parquet.parts/000000.parquet",
        "metrics/x.parquet",
        "metrics/y.parquet.partial-123-abcd1234",
    ]
    assert not list(tmp_path.rglob(TMP_DIR))


HOLD = """
import sys, time
from repalign.pipeline.lock import output_lock
with output_lock(sys.argv[1], config="holder.toml"):
    print("held", flush=True)
    sys.stdin.read()   # until the test closes our stdin
"""


def test_a_held_directory_names_its_holder(tmp_path):
    holder = subprocess.Popen(
        [PY, "-c", HOLD, str(tmp_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputLocked, match=rf"in use by another repalign run: pid {holder.pid} on .*holder.toml"):
            with output_lock(tmp_path, timeout=0):
                pass
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    with output_lock(tmp_path, timeout=0) as removed:  # free again once the holder ended
        assert removed == []


# --- the pipeline: concurrent runs, damaged outputs of real stages --------------------------------
STUDY = (
    digits_study(3, name="trust")
    + """
[[representations]]
name = "noise"
source = "random"
dims = 8
stimuli = "digits"

[[metrics]]
metric = "dimensionality"
methods = ["twonn", "pr"]
representations = ["pixels/output@digits", "noise"]

[[learners]]
task = "stimuli-category"
stimuli = "digits"
participants = 3
trials = 20
pca = 4
simulate = { temperature = 0.5, lapse = 0.05, seed = 3 }
"""
)


def _outputs(root: Path) -> dict[str, bytes]:
    """Every task output's bytes (the lock, its note and the report left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.startswith((".repalign.lock", "report.html"))
    }


@pytest.fixture(scope="module")
def single_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("single")
    (d / "study.toml").write_text(STUDY)
    status = run(load_config(d / "study.toml"), progress=False, report=False)
    assert set(status.values()) == {"done"}
    return d, status, _outputs(d / "out")


RUN = """
import json, sys
from repalign.pipeline import run
status = run(sys.argv[1], progress=False, report=False)
print("STATUS " + json.dumps(status), flush=True)
"""


@pytest.mark.slow
def test_two_concurrent_runs_compute_each_task_once(single_run, tmp_path):
    _, single_status, expected = single_run
    (tmp_path / "study.toml").write_text(STUDY)
    out = tmp_path / "out"
    # a third process holds the directory until both runs are waiting for it, then both race
    holder = subprocess.Popen(
        [PY, "-c", HOLD, str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert holder.stdout.readline().strip() == "held"
    logs = [tmp_path / f"run{i}.err" for i in range(2)]
    procs = [
        subprocess.Popen(
            [PY, "-c", RUN, str(tmp_path / "study.toml")],
            stdout=subprocess.PIPE,
            stderr=log.open("w"),
            text=True,
            env=ENV,
        )
        for log in logs
    ]

    def said(log):
        return " ".join(log.read_text().split())

    try:
        assert _wait_until(lambda: all("waiting for it to finish" in said(log) for log in logs), limit=600)
        assert all(f"in use by another repalign run (pid {holder.pid} on" in said(log) for log in logs)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    statuses = []
    for p, log in zip(procs, logs):
        stdout, _ = p.communicate(timeout=900)
        assert p.returncode == 0, log.read_text()
        statuses.append(json.loads(stdout.split("STATUS ", 1)[1]))
    assert set(statuses[0]) == set(statuses[1]) == set(single_status)
    for key in single_status:  # computed by exactly one of the two runs, skipped by the other
        assert sorted((statuses[0][key], statuses[1][key])) == ["done", "skipped"], key
    assert _outputs(out) == expected  # byte-identical to a single run


@pytest.mark.slow
def test_damaged_pipeline_tables_are_named_and_recomputed(single_run, tmp_path):
    import shutil

    src, single_status, expected = single_run
    shutil.copytree(src / "out", tmp_path / "out")  # keys are content-based: a copy is current
    (tmp_path / "study.toml").write_text(STUDY)
    cfg = load_config(tmp_path / "study.toml")
    assert all(t.done() for t in plan_all(cfg))
    damaged = {}
    for stage, kind in (("features", "features"), ("metrics", "metrics"), ("learners", "trials")):
        path = sorted((tmp_path / "out" / stage).rglob("*.parquet"))[0]
        assert table_info(path)["kind"] == kind
        path.write_bytes(path.read_bytes()[:100])
        damaged[stage] = path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = run(cfg, progress=False, report=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, StaleOutputWarning)]
    for path in damaged.values():
        assert any(m.startswith(f"{path}: unreadable") for m in messages), (path, messages)
    assert len(messages) == 3
    assert sum(v == "done" for v in status.values()) >= 3
    assert _outputs(tmp_path / "out") == expected


# --- the R child dies with its parent -----------------------------------------------------------
CHILD = """
import sys
from repalign.rlib import run_child
# a child that forks a grandchild into its process group, both sleeping
run_child(["sh", "-c", "sleep 600 & echo $! > " + sys.argv[1] + "; exec sleep 600"])
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")  # a zombie is dead


def _wait_until(cond, limit: float = 60.0) -> bool:
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def _children_of(pid: int) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int((p / "stat").read_text().split(")")[-1].split()[1]) == pid:
                    out.append(int(p.name))
            except (OSError, ValueError, IndexError):
                continue
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_child_process_group_dies_when_the_parent_is_killed(tmp_path):
    grandchild_file = tmp_path / "grandchild.pid"
    parent = subprocess.Popen([PY, "-c", CHILD, str(grandchild_file)], env=ENV)
    assert _wait_until(lambda: grandchild_file.is_file() and grandchild_file.read_text().strip())
    children = [c for c in _children_of(parent.pid) if "sleep" in Path(f"/proc/{c}/cmdline").read_bytes().decode()]
    grandchild = int(grandchild_file.read_text())
    assert len(children) == 1 and _alive(children[0]) and _alive(grandchild)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _wait_until(lambda: not _alive(children[0]) and not _alive(grandchild))


# --- the R stage ---------------------------------------------------------------------------------
R_STUDY = """
[run]
name = "r-trust"
output = "out"
seed = 1

[r]
input = "tables"
models = "models.csv"
levels = ["model"]
n_boot = 20
k = 3
"""

MODELS = {"good": 1.5, "fair": 0.8, "weak": 0.4, "poor": 0.1, "none": 0.0}


def _r_trials(seed: int = 0) -> pd.DataFrame:
    """Five learners on one task, 8 people x 30 trials; choices follow 'good' most."""
    rng = np.random.default_rng(seed)
    base, signal_, choice = choice_trials(rng, 8, 30, slope=2)
    frames = [
        base.assign(model=m, value=w * signal_ + (1 - w / 1.5) * rng.normal(size=len(base)), choice=choice)
        for m, w in MODELS.items()
    ]
    return pd.concat(frames, ignore_index=True)


def _r_study(d: Path) -> Path:
    (d / "tables").mkdir(parents=True)
    write_table(_r_trials(), d / "tables" / "trials.parquet", "trials", {"producer": "test"})
    (d / "models.csv").write_text(
        textwrap.dedent("""\
        name,family,objective,train_size
        good,A,supervised,1000000
        fair,A,supervised,100000
        weak,B,self-supervised,10000
        poor,B,self-supervised,1000
        none,A,random-init,0
        """)
    )
    (d / "study.toml").write_text(R_STUDY)
    return d / "study.toml"


def _r_key(status: dict) -> str:
    (key,) = [k for k in status if k.startswith("r:")]
    return key


@needs_r
@pytest.mark.slow
def test_r_stage_reruns_when_model_metadata_or_input_tables_change(tmp_path):
    cfg_path = _r_study(tmp_path)
    first = run(load_config(cfg_path), progress=False)
    assert list(first.values()) == ["done"]
    report1 = (tmp_path / "out" / "report.html").read_text()
    assert "alignment_coefficients" in report1
    assert list(run(load_config(cfg_path), progress=False, report=False).values()) == ["skipped"]
    # edit the metadata: same file name, new train sizes
    text = (tmp_path / "models.csv").read_text()
    (tmp_path / "models.csv").write_text(text.replace("100000,", "5,").replace("1000000", "70"))
    second = run(load_config(cfg_path), progress=False)
    assert list(second.values()) == ["done"] and _r_key(second) != _r_key(first)
    report2 = (tmp_path / "out" / "report.html").read_text()

    def coef(k):
        return pd.read_csv(tmp_path / "out" / "r" / k.removeprefix("r:") / "alignment_coefficients.csv")

    c1, c2 = coef(_r_key(first)), coef(_r_key(second))
    assert not np.allclose(c1["estimate"], c2["estimate"])  # the metadata reached the model ...

    def table(html):
        return html.split("alignment_coefficients", 1)[1].split("</table>", 1)[0]

    assert table(report1) != table(report2)  # ... and the report
    # a table added under [r] input: the stage runs again
    write_table(_r_trials(seed=5).assign(task="t2"), tmp_path / "tables" / "more.parquet", "trials", {})
    third = run(load_config(cfg_path), progress=False, report=False)
    assert list(third.values()) == ["done"] and _r_key(third) not in (_r_key(first), _r_key(second))


def _rscripts(marker: str) -> list[int]:
    """Pids of live R processes whose command line mentions ``marker``."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if "fit_models.R" in cmd and marker in cmd and _alive(int(p.name)):
                out.append(int(p.name))
    return out


@needs_r
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc")
def test_sigkill_during_the_r_stage_leaves_no_debris_and_no_orphan(tmp_path):
    cfg_path = _r_study(tmp_path)
    out = tmp_path / "out"
    parent = subprocess.Popen(
        [PY, "-c", RUN, str(cfg_path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV
    )
    assert _wait_until(lambda: _rscripts(str(out)), limit=300), "Rscript never started"
    orphans = _rscripts(str(out))
    assert list(out.glob("r/.repalign-tmp/*-*"))  # the R stage's temporary folder exists while it runs
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _wait_until(lambda: not _rscripts(str(out))), f"orphan Rscript(s) {orphans} still running"
    again = run(load_config(cfg_path), progress=False, report=False)
    assert list(again.values()) == ["done"]
    debris = [p for p in out.rglob("*") if ".repalign-tmp" in p.parts]
    assert debris == []
    assert (out / "r" / _r_key(again).removeprefix("r:") / "alignment_scores.csv").is_file()


# --- REPALIGN_OFFLINE ------------------------------------------------------------------------------
def test_offline_forbids_downloads_naming_the_dataset(tmp_path, monkeypatch):
    from repalign.datasets import registry as reg
    from repalign.errors import DatasetNotFoundError

    monkeypatch.delenv("REPALIGN_DATA_DIR", raising=False)
    monkeypatch.setenv("REPALIGN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPALIGN_OFFLINE", "1")

    def no_network(*_a, **_k):
        raise AssertionError("a download was attempted")

    monkeypatch.setattr(reg, "_download", no_network)
    f = reg.files("learning-dynamics")[0]
    for download in (None, True):
        with pytest.raises(
            DatasetNotFoundError,
            match=rf"dataset 'learning-dynamics': file '{f.path}' .*downloads are "
            r"forbidden \(REPALIGN_OFFLINE=1\)",
        ):
            reg.fetch(f.dataset, f.path, download=download)
    monkeypatch.setenv("REPALIGN_OFFLINE", "0")
    with pytest.raises(AssertionError, match="a download was attempted"):  # the switch is what stopped it
        reg.fetch(f.dataset, f.path)


# --- the report: model recovery judged on the generating entry's own tasks -------------------------
RECOVERY = (
    digits_study(1, seed=None)
    + """
[[representations]]
name = "noise"
source = "random"
dims = 4
stimuli = "digits"

[[learners]]
task = "stimuli-category"
stimuli = "digits"
participants = 2
generating = "pixels/output@digits"
simulate = { seed = 1 }

[r]
levels = []
"""
)


def test_recovery_finding_uses_the_generating_entrys_tasks(tmp_path):
    from repalign.learners.plan import learner_names
    from repalign.pipeline.report import alignment_findings

    (tmp_path / "study.toml").write_text(RECOVERY)
    cfg = load_config(tmp_path / "study.toml")
    tasks = plan_all(cfg)
    learners = [t for t in tasks if t.stage == "learners"]
    for t in learners:  # the entry's trial tables: its two participants' tasks
        model, layer = learner_names(t.kwargs["ref"])
        path = t.kwargs["path"]
        write_table(
            pd.DataFrame(
                {
                    "task": ["p1", "p2"],
                    "participant": ["p1", "p2"],
                    "trial": [1, 1],
                    "model": model,
                    "layer": layer,
                    "value": [0.1, 0.2],
                }
            ),
            path,
            "trials",
            {},
        )
    (r_task,) = [t for t in tasks if t.stage == "r"]
    r_task.outputs[0].parent.mkdir(parents=True)
    # on the entry's tasks pixels (the generating model) is best; on another task of the run,
    # the noise representation scores far higher
    pd.DataFrame(
        {
            "model": ["pixels", "random", "pixels", "random", "pixels", "random"],
            "layer": ["output", "gaussian"] * 3,
            "task": ["p1", "p1", "p2", "p2", "other", "other"],
            "pseudo_r2": [0.30, 0.10, 0.25, 0.05, 0.01, 0.90],
            "ci_low": 0.0,
            "ci_high": 1.0,
        }
    ).to_csv(r_task.outputs[0].parent / "alignment_scores.csv", index=False)
    findings = alignment_findings(cfg, tasks)
    (recovery,) = [f for f in findings if "generated from" in f]
    assert recovery == (
        "The simulated participants' choices were generated from pixels (output); "
        "the choice models recovered it as the most aligned model."
    )
    assert any(f.startswith("Task other: the most aligned model is random (gaussian)") for f in findings)
