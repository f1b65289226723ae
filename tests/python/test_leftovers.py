"""A run deletes only what it wrote, and finds bit rot (issue 29, part 1).

* user files in the output folder survive every run and every kill, whatever their
  names (``.old-``, ``.partial-``, ``.parts``, even a folder named ``.repalign-tmp``
  without repalign's marker); they are named in a one-line note;
* temporary files of killed writers (in marked ``.repalign-tmp`` folders) are removed
  by the next run, a live writer's are not; marked extraction parts folders of
  earlier plans go, the current plan's are resumed;
* a Parquet output with flipped bytes in its data pages (footer intact) is named in a
  ``StaleOutputWarning`` and recomputed to identical bytes, for each table kind;
  a file written without page checksums counts as stale;
* a damaged extraction part left by a killed run is named and recomputed;
* ``repalign verify`` names every damaged file and exits 1, 0 when clean.

Synthetic data throughout (digits, random representations), so nothing is downloaded.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from builders import child_python_env
from test_pipeline_trust import STUDY

import repalign.features.extractor as ex
from repalign.config import load_config
from repalign.features import load_stimulus_set
from repalign.pipeline import run
from repalign.pipeline.ownership import foreign_entries
from repalign.pipeline.plan import plan_all
from repalign.store import (
    PARTS_MARKER,
    TMP_DIR,
    TMP_MARKER,
    check_output,
    clean_leftovers,
    table_info,
    temp_name,
    verify_parquet,
    write_table,
)
from repalign.task import StaleOutputWarning

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
ENV = child_python_env()

#: A user's files in the output folder, named like the old leftover patterns (relative path → bytes).
USER_FILES = {
    "thesis.old-draft.docx": b"my thesis",
    "results.partial-2024.csv": b"a,b\n1,2\n",
    "my.old-photos/img1.jpg": b"\xff\xd8 photo",
    "sub/backup.old-1.tar": b"tarball",
    "metrics/notes.partial-1-abcdef12": b"inside a stage folder",
    "metrics/x.parquet.partial-123-abcd1234": b"an old repalign's leftover: not ours to judge by name",
    "features/mine.parquet.parts/000000.parquet": b"a user's folder named like parts, no marker",
}
USER_TOP = ["my.old-photos", "results.partial-2024.csv", "sub", "thesis.old-draft.docx"]


def _plant(out: Path) -> None:
    for rel, data in USER_FILES.items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_bytes(data)


def _user_files_intact(out: Path) -> list[str]:
    """Relative paths of user files missing or changed (want: [])."""
    return [rel for rel, data in USER_FILES.items() if not (out / rel).is_file() or (out / rel).read_bytes() != data]


def _outputs(root: Path) -> dict[str, bytes]:
    """Every task output's bytes (lock files, report and user files left out)."""
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
        and not p.name.startswith((".repalign.lock", "report.html"))
        and str(p.relative_to(root)) not in USER_FILES
    }


def _dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory):
    d = tmp_path_factory.mktemp("clean")
    (d / "study.toml").write_text(STUDY)
    status = run(load_config(d / "study.toml"), progress=False, report=False)
    assert set(status.values()) == {"done"}
    return d, _outputs(d / "out")


# --- clean_leftovers: by marker only ----------------------------------------------------------------
def test_clean_leftovers_removes_only_marked_entries_of_dead_writers(tmp_path):
    _plant(tmp_path)
    unmarked = tmp_path / "learners" / TMP_DIR / f"keep.me.{_dead_pid()}-abcdef12"  # named like ours, no marker
    unmarked.parent.mkdir(parents=True)
    unmarked.write_bytes(b"a user's")
    target = tmp_path / "metrics" / "m.parquet"
    dead = temp_name(target).with_name(f"m.parquet.{_dead_pid()}-0123abcd")
    dead.write_bytes(b"half")
    dead_dir = temp_name(tmp_path / "r" / "key").with_name(f"key.{_dead_pid()}-89abcdef")
    (dead_dir / "figures").mkdir(parents=True)
    live = temp_name(target)  # this process's: a live writer
    live.write_bytes(b"being written")
    assert live.parent == dead.parent == tmp_path / "metrics" / TMP_DIR and (live.parent / TMP_MARKER).is_file()
    old_parts, cur_parts = (tmp_path / "features" / f"{n}.parquet.parts" for n in ("old", "cur"))
    for p in (old_parts, cur_parts):
        p.mkdir(parents=True)
        (p / PARTS_MARKER).write_text("x")
        (p / "000000.parquet").write_bytes(b"part")
    removed = clean_leftovers(tmp_path, keep_parts=[cur_parts])
    assert sorted(removed) == sorted([dead, dead_dir, old_parts])
    assert live.is_file() and cur_parts.is_dir() and not (tmp_path / "r" / TMP_DIR).exists()
    assert _user_files_intact(tmp_path) == []
    live.unlink()
    assert clean_leftovers(tmp_path) == []  # None keeps every parts folder
    assert not (tmp_path / "metrics" / TMP_DIR).exists()  # emptied: gone
    assert _user_files_intact(tmp_path) == [] and unmarked.read_bytes() == b"a user's"


def test_clean_leftovers_follows_no_link_and_leaves_nested_runs_alone(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    far = temp_name(elsewhere / "a.parquet").with_name(f"a.parquet.{_dead_pid()}-0123abcd")
    far.write_bytes(b"another folder's")
    out = tmp_path / "out"
    (out / "metrics").mkdir(parents=True)
    (out / "metrics" / TMP_DIR).symlink_to(far.parent, target_is_directory=True)
    nested = out / "sub-run"  # another run's output folder inside this one
    (nested / ".repalign.lock").parent.mkdir()
    (nested / ".repalign.lock").write_text("")
    theirs = temp_name(nested / "m.parquet").with_name(f"m.parquet.{_dead_pid()}-89abcdef")
    theirs.write_bytes(b"the other run's to clean")
    parts = nested / "x.parquet.parts"
    parts.mkdir()
    (parts / PARTS_MARKER).write_text("x")
    assert clean_leftovers(out, keep_parts=[]) == []
    assert far.is_file() and theirs.is_file() and parts.is_dir()


def test_foreign_entries_name_what_repalign_did_not_write(tmp_path):
    _plant(tmp_path)
    (tmp_path / "report.html").write_text("r")
    (tmp_path / "extra_stage").mkdir()
    task = type("T", (), {"outputs": (tmp_path / "extra_stage" / "a.parquet",)})()
    assert foreign_entries(tmp_path, [task]) == USER_TOP


# --- whole runs: user files survive; kills at every publish point -------------------------------------
def test_a_run_keeps_user_files_and_names_them_in_one_line(clean_run, tmp_path, capsys):
    from rich.console import Console

    _, expected = clean_run
    (tmp_path / "study.toml").write_text(STUDY)
    out = tmp_path / "out"
    _plant(out)
    old_parts = out / "features" / "pixels" / "digits__output__auto__000000000000.parquet.parts"
    old_parts.mkdir(parents=True)
    (old_parts / PARTS_MARKER).write_text("x")  # an earlier plan's parts: removed by marker
    console = Console(stderr=True, width=400)
    status = run(load_config(tmp_path / "study.toml"), progress=False, report=False, console=console)
    assert set(status.values()) == {"done"}
    err = capsys.readouterr().err
    assert _user_files_intact(out) == []
    assert not old_parts.exists() and "removed 1 leftover(s)" in err
    notes = [line for line in err.splitlines() if "not written by repalign" in line]
    assert len(notes) == 1 and all(name in notes[0] for name in USER_TOP), err
    assert _outputs(out) == expected


KILLING_RUN = """
import os, signal, sys
from repalign.pipeline import run
from repalign.store import is_temporary
real, n, at = os.replace, [0], int(sys.argv[2])
def replace(src, dst):
    if is_temporary(src) and os.path.basename(dst) != "versions.json":  # a task's publish: die before the n-th
        n[0] += 1
        if n[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
run(sys.argv[1], progress=False, report=True)
"""


@pytest.mark.slow
def test_kills_at_every_publish_point_lose_no_user_file_and_leave_no_debris(clean_run, tmp_path):
    """Each run is SIGKILLed just before its 2nd publish (a finished temporary file not yet
    renamed), so every run adds one output and the next one resumes: this walks every
    stage (extraction part, features, metrics, learners, figures, report) until a run
    finishes."""
    _, expected = clean_run
    (tmp_path / "study.toml").write_text(STUDY)
    out = tmp_path / "out"
    _plant(out)
    kills = 0
    for _ in range(30):
        proc = subprocess.run(
            [PY, "-c", KILLING_RUN, str(tmp_path / "study.toml"), "2"],
            env=ENV,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert _user_files_intact(out) == [], proc.stderr
        if proc.returncode == 0:
            break
        assert proc.returncode == -signal.SIGKILL, proc.stderr
        kills += 1
        debris = [p for p in out.rglob("*") if p.parent.name == TMP_DIR and p.name != TMP_MARKER]
        assert debris, "a killed publish leaves its temporary file"
        if kills > 1:
            assert "leftover(s) of killed runs" in " ".join(proc.stderr.split())
    assert kills >= 6  # part, features, 2 metrics, 2 learners (then figures/report)
    status = run(load_config(tmp_path / "study.toml"), progress=False, report=False)
    assert set(status.values()) == {"skipped"}
    assert list(out.rglob(TMP_DIR)) == []  # no temporary folder left
    got = {k: v for k, v in _outputs(out).items() if not k.startswith("figures/") and k != "findings.json"}
    assert got == expected


# --- bit rot ------------------------------------------------------------------------------------
def flip_data_bytes(path: Path, n: int = 10) -> int:
    """Flip ``n`` bytes in the middle of the largest column chunk (its pages), footer
    untouched; returns the offset."""
    md = pq.ParquetFile(path).metadata
    chunks = [md.row_group(i).column(j) for i in range(md.num_row_groups) for j in range(md.num_columns)]
    c = max(chunks, key=lambda c: c.total_compressed_size)
    start = c.dictionary_page_offset if c.has_dictionary_page else c.data_page_offset
    at = start + c.total_compressed_size // 2
    data = bytearray(path.read_bytes())
    footer = len(data) - 8 - int.from_bytes(data[-8:-4], "little")
    assert at + n < footer
    for i in range(at, at + n):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))
    return at


@pytest.mark.slow
def test_bit_flips_in_each_table_kind_are_named_and_recomputed(clean_run, tmp_path):
    src, expected = clean_run
    shutil.copytree(src / "out", tmp_path / "out")  # keys are content-based: a copy is current
    (tmp_path / "study.toml").write_text(STUDY)
    cfg = load_config(tmp_path / "study.toml")
    assert all(t.done() for t in plan_all(cfg))
    damaged = {}
    for stage, kind in (("features", "features"), ("metrics", "metrics"), ("learners", "trials")):
        path = sorted((tmp_path / "out" / stage).rglob("*.parquet"))[0]
        assert table_info(path)["kind"] == kind
        flip_data_bytes(path)
        table_info(path)  # the footer still reads
        assert verify_parquet(path) is not None
        damaged[kind] = path
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = run(cfg, progress=False, report=False)
    messages = [str(w.message) for w in caught if issubclass(w.category, StaleOutputWarning)]
    for path in damaged.values():
        assert any(m.startswith(f"{path}: ") for m in messages), (path, messages)
    assert len(messages) == 3
    assert sum(v == "done" for v in status.values()) >= 3
    assert _outputs(tmp_path / "out") == expected  # identical to a clean run


def test_a_table_without_page_checksums_is_stale(tmp_path):
    path = tmp_path / "t.parquet"
    write_table(pa.table({"x": [1.0, 2.0]}), path, "generic", {"task": "k"})
    assert check_output(path, "k") is None
    older = pq.read_table(path)
    meta = {k: v for k, v in older.schema.metadata.items() if k != b"repalign.page_checksums"}
    pq.write_table(older.replace_schema_metadata(meta), path)  # as an older repalign wrote it
    assert "written without page checksums" in check_output(path, "k")


# --- extraction parts ---------------------------------------------------------------------------
KILLED_EXTRACTION = """
import os, signal, sys
import repalign.features.extractor as ex
from repalign.features import load_stimulus_set
real, n = ex._write_part, [0]
def dying(*a, **k):
    if n[0] == 1:              # the first part is on disk: die
        os.kill(os.getpid(), signal.SIGKILL)
    n[0] += 1
    return real(*a, **k)
ex._write_part = dying
ex.extract("pixels:4", load_stimulus_set({"source": "digits", "n": 1}), out_dir=sys.argv[1], batch_size=4,
           rows_per_group=4, progress=False, num_workers=0)
"""


def test_a_truncated_extraction_part_is_named_and_recomputed(tmp_path):
    stimuli = load_stimulus_set({"source": "digits", "n": 1})
    ref = ex.extract(
        "pixels:4", stimuli, out_dir=tmp_path / "ref", batch_size=4, rows_per_group=4, progress=False, num_workers=0
    )["output"]
    out = tmp_path / "out"
    proc = subprocess.run([PY, "-c", KILLED_EXTRACTION, str(out)], env=ENV, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    (parts,) = list(out.rglob("*.parquet.parts"))
    part = parts / "000000.parquet"
    assert (parts / PARTS_MARKER).is_file() and part.is_file()
    part.write_bytes(part.read_bytes()[:40])  # truncated
    with pytest.warns(StaleOutputWarning, match=rf"{part}: unreadable .*recomputing"):
        got = ex.extract(
            "pixels:4", stimuli, out_dir=out, batch_size=4, rows_per_group=4, progress=False, num_workers=0
        )["output"]
    assert got.read_bytes() == ref.read_bytes() and not parts.exists()


# --- repalign verify -------------------------------------------------------------------------------
def _verify(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PY, "-c", "from repalign.cli import main; main()", "verify", str(path)],
        env=ENV,
        capture_output=True,
        text=True,
    )


def test_verify_names_damaged_files_and_exits_1(clean_run, tmp_path):
    src, _ = clean_run
    shutil.copytree(src / "out", tmp_path / "out")
    sealed = tmp_path / "out" / "r" / "k"
    sealed.mkdir(parents=True)
    (sealed / "summary.txt").write_text("fit")
    from repalign.store import seal_dir

    seal_dir(sealed, "r:k")
    ok = _verify(tmp_path / "out")
    assert ok.returncode == 0 and "0 damaged" in ok.stdout, ok.stdout + ok.stderr
    table = sorted((tmp_path / "out" / "metrics").glob("*.parquet"))[0]
    flip_data_bytes(table)
    (sealed / "summary.txt").write_text("edited")
    bad = _verify(tmp_path / "out")
    lines = [line for line in bad.stdout.splitlines() if line.startswith("damaged: ")]
    assert bad.returncode == 1 and len(lines) == 2, bad.stdout
    assert any(str(table) in line for line in lines) and any("summary.txt" in line for line in lines)
    missing = _verify(tmp_path / "nowhere")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "nowhere" in missing.stderr
