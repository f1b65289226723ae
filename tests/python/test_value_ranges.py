"""Issue #29 part 2, the probe matrix: a value out of its range, a list left empty
where "all" is not meant, and every kind of broken representation or ids file
fails through the command line before any work, with ONE line naming the key (or
the file) and what was expected, exit code 1, no traceback, and nothing written
where the output folder would be.

Every probe builds on one small offline study (scikit-learn digits, the pixel
baseline, a random representation, a dimensionality metric and a simulated
category learner), so no download is needed; the planted truth of each probe is
the bad value (or file) it plants, and the line must name it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

STUDY = """
[run]
output = "out"
seed = 0

[[stimuli]]
source = "digits"
n = 3

[[models]]
name = "pixels"

[[representations]]
name = "noise"
source = "random"
dims = 8
stimuli = "digits"

[[metrics]]
metric = "dimensionality"
methods = ["twonn", "pr"]

[[learners]]
task = "stimuli-category"
stimuli = "digits"
participants = 2
trials = 10
simulate = { temperature = 0.5, lapse = 0.05, seed = 3 }
"""


def _with(old: str, new: str) -> str:
    assert old in STUDY, old
    return STUDY.replace(old, new, 1)


FILE_ENTRY = '\n[[representations]]\nname = "f"\nsource = "file"\npath = "{path}"\nstimuli = "digits"\n'

# (id, config text, regex the whole one-line message must match)
VALUES = [
    (
        "executor-retries--1",
        STUDY + "\n[executor]\nretries = -1\n",
        r"\[executor\] retries: expected an integer ≥ 0, got -1",
    ),
    (
        "executor-retries--5",
        STUDY + "\n[executor]\nretries = -5\n",
        r"\[executor\] retries: expected an integer ≥ 0, got -5",
    ),
    (
        "learners-pca-0",
        _with("trials = 10", "trials = 10\npca = 0"),
        r"\[\[learners\]\] #1 pca: expected an integer ≥ 1, got 0",
    ),
    (
        "learners-pca--4",
        _with("trials = 10", "trials = 10\npca = -4"),
        r"\[\[learners\]\] #1 pca: expected an integer ≥ 1, got -4",
    ),
    (
        "learners-pca-100000",
        _with("trials = 10", "trials = 10\npca = 100000"),
        r"\[\[learners\]\] #1 pca: expected at most 10 components \(.*trials.*\), got 100000",
    ),
    (
        "simulate-temperature-0",
        _with("temperature = 0.5", "temperature = 0"),
        r"\[\[learners\]\] #1 simulate\.temperature: expected a finite number > 0, got 0",
    ),
    (
        "simulate-temperature-nan",
        _with("temperature = 0.5", "temperature = nan"),
        r"\[\[learners\]\] #1 simulate\.temperature: expected a finite number > 0, got nan",
    ),
    (
        "simulate-temperature-inf",
        _with("temperature = 0.5", "temperature = inf"),
        r"\[\[learners\]\] #1 simulate\.temperature: expected a finite number > 0, got inf",
    ),
    (
        "simulate-lapse-1.5",
        _with("lapse = 0.05", "lapse = 1.5"),
        r"\[\[learners\]\] #1 simulate\.lapse: expected a finite number in \[0, 1\], got 1\.5",
    ),
    ("run-seed--1", _with("seed = 0", "seed = -1"), r"\[run\] seed: expected an integer in \[0, 2147483647\], got -1"),
    (
        "run-seed-2^63-1",
        _with("seed = 0", f"seed = {2**63 - 1}"),
        rf"\[run\] seed: expected an integer in \[0, 2147483647\], got {2**63 - 1}",
    ),
    (
        "random-dims-1e11",
        _with("dims = 8", "dims = 100000000000"),
        r".*\[\[representations\]\] #1 \(noise\) dims: 100000000000 dims × 30 stimuli need about .*B of memory "
        r"\(float64\), more than this machine's .*B",
    ),
    (
        "models-num-workers--3",
        _with('name = "pixels"', 'name = "pixels"\nnum_workers = -3'),
        r"\[\[models\]\] #1 num_workers: expected an integer ≥ 0, got -3",
    ),
    (
        "learners-trials-1e12",
        _with("trials = 10", "trials = 1000000000000"),
        r"\[\[learners\]\] #1 trials: 1000000000000 trials need about .*B of memory \(.*\), "
        r"more than this machine's .*B",
    ),
    (
        "digits-n-100000",
        _with("n = 3", "n = 100000"),
        r"\[\[stimuli\]\] #1 n: expected at most 174 images per digit \(.*\), got 100000",
    ),
    (
        "metrics-methods-empty",
        _with('methods = ["twonn", "pr"]', "methods = []"),
        r"\[\[metrics\]\] #1 methods: expected a non-empty list, got \[\]",
    ),
    (
        "learners-representations-empty",
        _with("trials = 10", "trials = 10\nrepresentations = []"),
        r"\[\[learners\]\] #1 representations: expected a non-empty list \(leave the key out for every "
        r"representation\), got \[\]",
    ),
]


def _files(d: Path) -> None:
    """One broken representation or ids file of each kind."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    (d / "empty.csv").write_bytes(b"")
    (d / "garbage.parquet").write_bytes(b"PAR1 this is not a parquet file at all " * 20)
    ids = [f"digit_{i:04d}" for i in range(30)]
    (d / "latin1.csv").write_bytes(
        ("stimulus_id,x\n" + "".join(f"{i}é,{j}\n" for j, i in enumerate(ids))).encode("latin-1")
    )
    pq.write_table(pa.table({"stimulus_id": ids, "embedding": [["a", "b"]] * 30}), d / "strings.parquet")
    np.save(d / "values.npy", np.zeros((30, 2)))
    (d / "binary_ids.txt").write_bytes(bytes(range(256)) * 4)
    (d / "empty.npy").write_bytes(b"")


FILES = [
    (
        "file-empty-csv",
        STUDY + FILE_ENTRY.format(path="empty.csv"),
        r".*\[\[representations\]\] representation 'f': .*empty\.csv is empty",
    ),
    (
        "file-garbage-parquet",
        STUDY + FILE_ENTRY.format(path="garbage.parquet"),
        r".*\[\[representations\]\] representation 'f': .*garbage\.parquet is not a readable Parquet file \(.*\)",
    ),
    (
        "file-latin1-csv",
        STUDY + FILE_ENTRY.format(path="latin1.csv"),
        r".*\[\[representations\]\] representation 'f': .*latin1\.csv is not UTF-8 text \(byte \d+: .*\); save it as "
        r"UTF-8",
    ),
    (
        "file-parquet-embedding-strings",
        STUDY + FILE_ENTRY.format(path="strings.parquet"),
        r".*\[\[representations\]\] representation 'f': .*strings\.parquet column 'embedding' holds string values, "
        r"expected numbers",
    ),
    (
        "file-binary-ids-file",
        STUDY + FILE_ENTRY.format(path="values.npy") + 'ids_file = "binary_ids.txt"\n',
        r".*\[\[representations\]\] representation 'f': ids file .*binary_ids\.txt is not UTF-8 text \(byte \d+: "
        r".*\); save it as UTF-8",
    ),
    (
        "file-empty-npy",
        STUDY + FILE_ENTRY.format(path="empty.npy") + 'ids_file = "ids.txt"\n',
        r".*\[\[representations\]\] representation 'f': .*empty\.npy is not a \.npy array \(.*\)",
    ),
]

PROBES = VALUES + FILES


def run_cli(args: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """``repalign ARGS`` in-process through the console entry point → (exit code,
    stdout + stderr); an exception escaping the entry point counts as a traceback."""
    import traceback

    import repalign.cli as cli

    monkeypatch.setattr(sys, "argv", ["repalign", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # what a user would see as a traceback
        code, tb = -1, traceback.format_exc()
        out = capsys.readouterr()
        return code, out.out + out.err + tb
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("text,pattern", [p[1:] for p in PROBES], ids=[p[0] for p in PROBES])
def test_probe_fails_before_work_in_one_line(tmp_path, monkeypatch, capsys, text, pattern):
    _files(tmp_path)
    (tmp_path / "ids.txt").write_text("".join(f"digit_{i:04d}\n" for i in range(30)))
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    code, out = run_cli(["run", str(cfg)], monkeypatch, capsys)
    assert "Traceback" not in out, out
    assert code == 1, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("error: "), out
    assert re.fullmatch(pattern, lines[0].removeprefix("error: ")), out
    assert not (tmp_path / "out").exists()


def test_probe_count():
    """Every probe of the issue: 17 values, 6 kinds of broken file."""
    assert (len(VALUES), len(FILES)) == (17, 6)


def test_seed_bound_is_what_r_accepts():
    """The largest seed the schema takes is R's largest integer (``set.seed`` takes
    nothing bigger): checked against R itself where R is installed."""
    import shutil
    import subprocess

    from repalign.config import MAX_SEED

    assert MAX_SEED == 2**31 - 1
    if shutil.which("Rscript") is None:
        pytest.skip("R not installed")
    out = subprocess.run(["Rscript", "-e", "cat(.Machine$integer.max)"], capture_output=True, text=True, timeout=60)
    assert int(out.stdout) == MAX_SEED


def test_digits_bound_is_the_smallest_class():
    """The largest ``n`` of a digits set is the smallest class of scikit-learn's digits."""
    from sklearn.datasets import load_digits

    from repalign.features.config import DIGITS_PER_CLASS

    assert DIGITS_PER_CLASS == int(np.bincount(load_digits().target).min())


def test_valid_bounds_are_accepted(tmp_path):
    """The edges of each range plan: seed 2^31 − 1, lapse 1, retries 0, pca equal
    to the random representation's dims (8 ≤ trials), n at the smallest class."""
    from repalign.config import load_config
    from repalign.pipeline import plan_all

    text = (
        STUDY.replace("seed = 0", "seed = 2147483647")
        .replace("lapse = 0.05", "lapse = 1")
        .replace("trials = 10", "trials = 10\npca = 8")
        .replace("n = 3", "n = 174")
        + "\n[executor]\nretries = 0\n"
    )
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    assert plan_all(load_config(cfg))


def test_pca_above_a_known_representations_dims_fails_when_planned(tmp_path, monkeypatch, capsys):
    """pca = 9 on the 8-dimensional random representation (trials = 10 allows 10):
    one line naming the key and the representation, before work."""
    cfg = tmp_path / "c.toml"
    cfg.write_text(_with("trials = 10", 'trials = 10\npca = 9\nrepresentations = ["noise"]'))
    code, out = run_cli(["run", str(cfg)], monkeypatch, capsys)
    assert code == 1 and "Traceback" not in out, out
    assert out.strip() == (
        "error: [[learners]] #1 pca: expected at most 8 components (representation 'noise' has 8 dimensions), got 9"
    )
    assert not (tmp_path / "out").exists()
