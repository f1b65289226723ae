"""Issue #29 part 2: every stage command takes the output folder's lock like
``repalign run``; the run's summary counts done, skipped (cached), failed and
blocked tasks separately; each stale-output warning is printed once; a negative
``retries`` can never make an executor run nothing and report success.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from builders import child_python_env
from test_value_ranges import STUDY, run_cli

from repalign.store import write_table
from repalign.task import Task, TaskFailed, run_local

ROOT = Path(__file__).resolve().parents[2]
ENV = child_python_env()

HOLD = """
import sys, time
from repalign.pipeline.lock import output_lock
with output_lock(sys.argv[1], config="holder.toml"):
    print("held", flush=True)
    sys.stdin.read() if sys.argv[2] == "stdin" else time.sleep(float(sys.argv[2]))
"""


def _holder(out: Path, how: str = "stdin") -> subprocess.Popen:
    p = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out), how], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=ENV
    )
    assert p.stdout.readline().strip() == "held"
    return p


# (command, its arguments): each would write under out/ if it ran
COMMANDS = [
    ("features", ["features", "--config", "{cfg}"]),
    ("metrics", ["metrics", "--config", "{cfg}", "--quiet"]),
    ("simulate", ["simulate", "--config", "{cfg}", "--quiet"]),
    ("run", ["run", "{cfg}", "--no-report"]),
]


@pytest.mark.parametrize("args", [c[1] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
def test_stage_command_on_a_held_folder_names_the_holder(tmp_path, monkeypatch, capsys, args):
    """A second command with ``--lock-timeout 0`` on a held folder: one line naming
    the holder (pid, config), exit 1, nothing computed."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(STUDY)
    out = tmp_path / "out"
    holder = _holder(out)
    try:
        code, text = run_cli([a.format(cfg=cfg) for a in args] + ["--lock-timeout", "0"], monkeypatch, capsys)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert "Traceback" not in text, text
    assert code == 1, text
    assert re.fullmatch(
        rf"error: {re.escape(str(out))} is in use by another repalign run: pid {holder.pid} on \S+ "
        r"\(config holder\.toml, started .*\)",
        text.strip(),
    ), text
    assert sorted(p.name for p in out.iterdir()) == [".repalign.lock", ".repalign.lock.json"]


def test_features_waits_for_the_holder_then_runs(tmp_path, monkeypatch, capsys):
    """Without a timeout, ``repalign features`` says who holds the folder, waits for
    it to end, then extracts."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(STUDY)
    out = tmp_path / "out"
    holder = _holder(out, "3")
    started = time.monotonic()
    code, text = run_cli(["features", "--config", str(cfg)], monkeypatch, capsys)
    waited = time.monotonic() - started
    assert holder.wait(timeout=60) == 0
    assert code == 0, text
    assert (
        f"{out} is in use by another repalign run (pid {holder.pid}" in text.replace("\n", " ").replace("  ", " ")
        or "waiting for it to finish" in text
    ), text
    assert waited > 1.0  # it did wait (the holder held ~3 s after we started)
    assert list((out / "features").rglob("*.parquet"))


# --- the summary -----------------------------------------------------------------------------------
def write_one(path: str) -> None:
    """Task body: one small table."""
    write_table(pd.DataFrame({"x": [1.0, 2.0]}), path, "generic", {"producer": "test"})


def fail() -> None:
    raise RuntimeError("planted failure")


def _tasks(d: Path) -> list[Task]:
    """cached (done before), bad (fails), after_bad (needs bad: blocked), fresh (runs)."""
    return [
        Task("cached", "test", (d / "cached.parquet",), write_one, (str(d / "cached.parquet"),)),
        Task("bad", "test", (d / "bad.parquet",), fail),
        Task("after_bad", "test", (d / "after.parquet",), write_one, (str(d / "after.parquet"),), deps=("bad",)),
        Task("fresh", "test", (d / "fresh.parquet",), write_one, (str(d / "fresh.parquet"),)),
    ]


def test_failure_carries_every_status(tmp_path):
    tasks = _tasks(tmp_path)
    run_local(tasks[:1], progress=False)
    with pytest.raises(TaskFailed) as info:
        run_local(tasks, progress=False)
    st = info.value.status
    assert st["cached"] == "skipped" and st["after_bad"] == "blocked" and st["fresh"] == "done"
    assert st["bad"] == "failed: RuntimeError: planted failure"
    assert set(info.value.failures) == {"bad"}


def test_summary_counts_each_status_separately(tmp_path, monkeypatch):
    """After a failure the run's last line counts 1 done, 1 skipped (cached), 1
    failed, 1 blocked (it said "3 done/blocked, 1 failed")."""
    import importlib

    from rich.console import Console

    prun = importlib.import_module("repalign.pipeline.run")  # the package's `run` is the function

    tasks = _tasks(tmp_path / "out")
    run_local(tasks[:1], progress=False)
    cfg = tmp_path / "c.toml"
    cfg.write_text(STUDY)
    monkeypatch.setattr(prun, "plan_all", lambda config: tasks)
    console = Console(record=True, width=200)
    with pytest.raises(TaskFailed):
        prun.run(cfg, report=False, progress=False, console=console)
    last = console.export_text().strip().splitlines()[-1]
    assert re.fullmatch(r"finished in \d+\.\ds: 1 done, 1 skipped \(cached\), 1 failed, 1 blocked", last), last


def test_negative_retries_never_run_nothing(tmp_path):
    """The executor itself refuses retries < 0 (the schema stops it before; this is
    the guard for callers of the API)."""
    with pytest.raises(ValueError, match="retries must be ≥ 0, got -1"):
        run_local(_tasks(tmp_path)[:1], retries=-1, progress=False)
    assert not (tmp_path / "cached.parquet").exists()


# --- stale-output warnings: printed once --------------------------------------------------------
def test_cli_prints_each_stale_output_warning_once(tmp_path):
    """A damaged features table: ``repalign run`` names it once (was twice: the run
    printed it, then Python's warning filter printed it again)."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(STUDY.split("[[representations]]")[0])  # features only
    cmd = [sys.executable, "-c", "from repalign.cli import main; main()", "run", str(cfg), "--no-report"]
    first = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert first.returncode == 0, first.stderr
    table = next((tmp_path / "out" / "features").rglob("*.parquet"))
    table.write_bytes(table.read_bytes()[:100])  # truncated
    second = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert second.returncode == 0, second.stderr
    text = (second.stdout + second.stderr).replace("\n", "")
    assert text.count(table.name) == 1, second.stderr
    assert "StaleOutputWarning" not in text


# --- the R stage: REPALIGN_MODELS_CSV, and k above the number of participants -------------------
HAS_R = (ROOT / ".rlib" / "repalign").is_dir() or "REPALIGN_RLIB" in os.environ


def _r_study_without_models(d: Path, k: int) -> Path:
    """The R study of test_pipeline_trust (8 participants, models good … none) with
    the metadata file left out of [r] and moved out of the input folder."""
    from test_pipeline_trust import _r_study

    cfg = _r_study(d)
    (d / "models.csv").rename(d / "curated.csv")
    cfg.write_text(cfg.read_text().replace('models = "models.csv"\n', "").replace("k = 3", f"k = {k}"))
    return cfg


def test_r_stage_plans_with_repalign_models_csv(tmp_path, monkeypatch):
    """Without [r] models, the R stage reads the curated table the Python side reads:
    $REPALIGN_MODELS_CSV (it read the checkout's data/models.csv); its content keys the task."""
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline.plan import plan_stage

    cfg = _r_study_without_models(tmp_path, 3)
    monkeypatch.setenv("REPALIGN_MODELS_CSV", str(tmp_path / "curated.csv"))
    (task,) = plan_stage(load_config(cfg), "r")
    assert task.kwargs["options"]["models"] == str(tmp_path / "curated.csv")
    (tmp_path / "curated.csv").write_text((tmp_path / "curated.csv").read_text().replace("1000000", "7"))
    (changed,) = plan_stage(load_config(cfg), "r")
    assert changed.key != task.key
    monkeypatch.setenv("REPALIGN_MODELS_CSV", str(tmp_path / "nope.csv"))
    with pytest.raises(ValidationError, match=r"^REPALIGN_MODELS_CSV: no model metadata file at .*nope\.csv$"):
        plan_stage(load_config(cfg), "r")


@pytest.mark.skipif(not HAS_R, reason="R package not installed (make install-rpkg)")
@pytest.mark.slow
def test_r_stage_uses_the_curated_table_and_notes_k_above_participants(tmp_path, monkeypatch):
    """k = 1000 over 8 participants: the R stage says it ran leave-one-participant-out
    (a warning naming [r] and k, also in summary.txt); the models good … none, known
    only to $REPALIGN_MODELS_CSV, get alignment coefficients (R stops on models
    without metadata, so the file reached R)."""
    import warnings

    from repalign.config import load_config
    from repalign.pipeline import run
    from repalign.r import RNote

    cfg = _r_study_without_models(tmp_path, 1000)
    monkeypatch.setenv("REPALIGN_MODELS_CSV", str(tmp_path / "curated.csv"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = run(load_config(cfg), progress=False, report=False)
    assert list(status.values()) == ["done"]
    notes = [str(w.message) for w in caught if issubclass(w.category, RNote)]
    assert len(notes) == 1 and re.fullmatch(
        r"r R models \(lme4\): \[r\] note: k = 1000 folds exceed the 8 participants; each fold holds one participant "
        r"\(leave-one-participant-out, k = 8\)",
        notes[0],
    ), notes
    (key,) = status
    out = tmp_path / "out" / "r" / key.removeprefix("r:")
    assert "note: k = 1000 folds exceed the 8 participants" in (out / "summary.txt").read_text()
    coef = pd.read_csv(out / "alignment_coefficients.csv")
    assert len(coef) > 0
