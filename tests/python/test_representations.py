"""repalign.representations: the user's own files (source = "file") and their checks,
the Representation's identity, the memoised resolution, the device fixed at plan time,
and executors that check a task's declared outputs."""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from repalign.config import load_config
from repalign.errors import ValidationError
from repalign.features import load_stimulus_set
from repalign.pipeline.plan import resolve_config
from repalign.representations import Representation, read_file
from repalign.representations import resolve as resolve_mod
from repalign.store import read_table
from repalign.task import MissingOutputs, Task, TaskFailed, run_local

DIGITS = '[[stimuli]]\nname = "digits"\nsource = "digits"\nn = 2\n'


def _cfg(tmp_path, body: str, name: str = "study.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return load_config(p, output=tmp_path / "out")


def _planted(n: int = 20, d: int = 6, seed: int = 0):
    ids = load_stimulus_set({"source": "digits", "n": 2}).ids
    assert len(ids) == n
    return ids, np.random.default_rng(seed).standard_normal((n, d))


def _write_all(tmp_path, ids, X):
    """The same planted matrix as .npy + ids file, .csv (numeric columns), and .parquet
    (list column ``embedding``, the layout of repalign's features files)."""
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(X.shape[1])])
    df.insert(0, "image", ids)
    df.to_csv(tmp_path / "x.csv", index=False)
    pq.write_table(pa.table({"stimulus_id": list(ids), "embedding": [list(r) for r in X]}), tmp_path / "x.parquet")


FILES = """
[[representations]]
name = "from-npy"
source = "file"
path = "x.npy"
ids_file = "ids.txt"
stimuli = "digits"

[[representations]]
name = "from-csv"
source = "file"
path = "x.csv"
ids = "image"
stimuli = "digits"
model = "mynet"
layer = "fc7"

[[representations]]
name = "from-parquet"
source = "file"
path = "x.parquet"
stimuli = "digits"
"""


def test_file_sources_load_the_planted_values(tmp_path):
    ids, X = _planted()
    _write_all(tmp_path, ids, X)
    refs = resolve_config(_cfg(tmp_path, DIGITS + FILES)).reps
    for name in ("from-npy", "from-csv", "from-parquet"):
        ref = refs[name]
        assert isinstance(ref, Representation) and ref.kind == "file" and ref.deps == ()
        emb = ref.load()
        assert emb.ids == tuple(ids)
        # csv round-trips floats through text; .npy and Parquet (float64 list) are exact
        np.testing.assert_allclose(emb.values, X, rtol=0, atol=0 if name != "from-csv" else 1e-15)
    assert (refs["from-csv"].model, refs["from-csv"].layer, refs["from-csv"].stimuli) == ("mynet", "fc7", "digits")
    assert (refs["from-npy"].model, refs["from-npy"].layer) == ("from-npy", "file")


def test_file_identity_is_the_content_not_the_path(tmp_path):
    ids, X = _planted()
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    _write_all(a, ids, X)
    _write_all(b, ids, X)
    key_a = resolve_config(_cfg(a, DIGITS + FILES)).reps["from-npy"].cache_key
    key_b = resolve_config(_cfg(b, DIGITS + FILES)).reps["from-npy"].cache_key
    assert key_a == key_b  # same bytes elsewhere, other output directory: same key
    X2 = X.copy()
    X2[3, 2] += 1e-9
    np.save(b / "x.npy", X2)
    key_c = resolve_config(_cfg(b, DIGITS + FILES)).reps["from-npy"].cache_key
    assert key_c != key_a  # one changed value: another key (the memo saw the file change)
    # the run planned on the old bytes refuses the new ones
    ref_a = resolve_config(_cfg(a, DIGITS + FILES)).reps["from-npy"]
    np.save(a / "x.npy", X2)
    with pytest.raises(ValidationError, match="changed since the run was planned"):
        ref_a.load()


def test_a_file_flows_through_a_metric(tmp_path):
    # linear CKA is invariant to an orthogonal rotation (Kornblith et al. 2019): CKA(X, XQ) = 1,
    # while an independent matrix gives far less
    ids, X = _planted(d=6)
    Q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((6, 6)))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "xq.npy", X @ Q)
    np.save(tmp_path / "z.npy", np.random.default_rng(2).standard_normal((20, 6)))
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    body = (
        DIGITS
        + "".join(
            f'[[representations]]\nname = "{n}"\nsource = "file"\npath = "{n}.npy"\n'
            'ids_file = "ids.txt"\nstimuli = "digits"\n'
            for n in ("x", "xq", "z")
        )
        + '[[metrics]]\nmetric = "cka"\nreference = "x"\nrepresentations = ["xq", "z"]\n'
    )
    from repalign.pipeline.plan import plan_stage

    tasks = plan_stage(_cfg(tmp_path, body), "metrics")
    run_local(tasks, progress=False)
    df = pd.concat([read_table(t.outputs[0], kind="metrics") for t in tasks])
    val = dict(zip(df["model"], df["value"]))
    assert val["xq"] == pytest.approx(1.0, abs=1e-12)
    assert val["z"] < 0.9


def _resolve_error(tmp_path, body):
    with pytest.raises(ValidationError) as err:
        resolve_config(_cfg(tmp_path, DIGITS + body))
    msg = str(err.value)
    assert "\n" not in msg
    return msg


def _one(path: str, extra: str = "") -> str:
    return f'[[representations]]\nname = "mine"\nsource = "file"\npath = "{path}"\nstimuli = "digits"\n{extra}'


def test_missing_ids_are_named(tmp_path):
    ids, X = _planted()
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(6)])
    df.insert(0, "stimulus_id", list(ids))
    df.loc[[4, 9], "stimulus_id"] = None
    df.to_csv(tmp_path / "holes.csv", index=False)
    msg = _resolve_error(tmp_path, _one("holes.csv"))
    assert "holes.csv" in msg and "'stimulus_id'" in msg and "2 row(s) without an id (rows 5, 10)" in msg
    # a file that lacks ids of the stimulus set it claims to cover
    df = pd.DataFrame(X[:18], columns=[f"d{j}" for j in range(6)])
    df.insert(0, "stimulus_id", list(ids[:18]))
    df.to_csv(tmp_path / "short.csv", index=False)
    msg = _resolve_error(tmp_path, _one("short.csv"))
    assert "short.csv" in msg and "lacks 2 id(s) of stimulus set 'digits': 'digit_0018', 'digit_0019'" in msg
    # no ids column at all
    df.rename(columns={"stimulus_id": "img"}).to_csv(tmp_path / "noids.csv", index=False)
    msg = _resolve_error(tmp_path, _one("noids.csv"))
    assert "noids.csv has no ids column 'stimulus_id'" in msg and "'img'" in msg
    np.save(tmp_path / "x.npy", X)
    assert "ids_file" in _resolve_error(tmp_path, _one("x.npy"))


def test_duplicated_ids_are_named(tmp_path):
    ids, X = _planted()
    dup = list(ids)
    dup[7] = dup[2]
    pq.write_table(pa.table({"stimulus_id": dup, "embedding": [list(r) for r in X]}), tmp_path / "dup.parquet")
    msg = _resolve_error(tmp_path, _one("dup.parquet"))
    assert "dup.parquet" in msg and "'stimulus_id'" in msg and "'digit_0002' (rows 3, 8)" in msg
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "ids.txt").write_text("\n".join(dup))
    msg = _resolve_error(tmp_path, _one("x.npy", 'ids_file = "ids.txt"\n'))
    assert "ids.txt" in msg and "'digit_0002' (rows 3, 8)" in msg


def test_nan_is_named_with_column_and_id(tmp_path):
    ids, X = _planted()
    X = X.copy()
    X[5, 3] = np.nan
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(6)])
    df.insert(0, "stimulus_id", list(ids))
    df.to_csv(tmp_path / "nan.csv", index=False)
    msg = _resolve_error(tmp_path, _one("nan.csv"))
    assert "nan.csv" in msg and "'d3'" in msg and "'digit_0005'" in msg
    np.save(tmp_path / "nan.npy", X)
    (tmp_path / "ids.txt").write_text("\n".join(ids))
    msg = _resolve_error(tmp_path, _one("nan.npy", 'ids_file = "ids.txt"\n'))
    assert "nan.npy" in msg and "'column 3'" in msg and "'digit_0005'" in msg


def test_shape_mismatches_are_named(tmp_path):
    ids, X = _planted()
    np.save(tmp_path / "x.npy", X)
    (tmp_path / "ids.txt").write_text("\n".join(ids[:19]))
    msg = _resolve_error(tmp_path, _one("x.npy", 'ids_file = "ids.txt"\n'))
    assert "x.npy has 20 rows but ids file" in msg and "ids.txt has 19 ids" in msg
    np.save(tmp_path / "cube.npy", X.reshape(20, 2, 3))
    msg = _resolve_error(tmp_path, _one("cube.npy", 'ids_file = "ids.txt"\n'))
    assert "cube.npy" in msg and "shape (20, 2, 3)" in msg and "2-D" in msg
    rows = [list(r) for r in X]
    rows[6] = rows[6][:5]
    pq.write_table(pa.table({"stimulus_id": list(ids), "embedding": rows}), tmp_path / "ragged.parquet")
    msg = _resolve_error(tmp_path, _one("ragged.parquet"))
    assert "ragged.parquet" in msg and "'digit_0006' has 5 values, expected 6" in msg
    df = pd.DataFrame(X, columns=[f"d{j}" for j in range(6)])
    df.insert(0, "stimulus_id", list(ids))
    df["note"] = "x"
    df.to_csv(tmp_path / "text.csv", index=False)
    msg = _resolve_error(tmp_path, _one("text.csv"))
    assert "text.csv" in msg and "'note'" in msg and "not numeric" in msg
    msg = _resolve_error(tmp_path, _one("nothere.parquet"))
    assert "file not found" in msg and "nothere.parquet" in msg


def test_read_file_directly_checks_the_same(tmp_path):
    ids, X = _planted()
    _write_all(tmp_path, ids, X)
    emb, key = read_file(tmp_path / "x.csv", ids="image")
    assert emb.ids == tuple(ids) and emb.values.shape == (20, 6) and len(key) == 32
    with pytest.raises(ValidationError, match="either ids .* or ids_file"):
        read_file(tmp_path / "x.csv", ids="image", ids_file=tmp_path / "ids.txt")


def test_a_run_resolves_its_representations_once(tmp_path, monkeypatch):
    """plan_all resolves the representations (and plans the feature tasks) once and
    hands them to every stage: features, metrics and learners read the one resolution."""
    from repalign.pipeline import plan_all

    ids, X = _planted()
    _write_all(tmp_path, ids, X)
    calls = []
    real = resolve_mod.model_features
    monkeypatch.setattr(resolve_mod, "model_features", lambda *a: calls.append(1) or real(*a))
    cfg = _cfg(
        tmp_path,
        DIGITS + FILES + '[[models]]\nname = "pixels:4"\n\n[[metrics]]\nmetric = "dimensionality"\n'
        '\n[[learners]]\ntask = "stimuli-category"\nstimuli = "digits"\nparticipants = 2\ntrials = 10\n',
    )
    tasks = plan_all(cfg)
    assert len(calls) == 1
    assert {t.stage for t in tasks} == {"features", "metrics", "learners"}
    reps = {t.kwargs["ref"].name for t in tasks if t.stage == "learners"}
    assert "pixels:4/output@digits" in reps


def test_plan_without_cuda_then_run_with_cuda_writes_the_planned_files(tmp_path, monkeypatch):
    import torch

    from repalign.pipeline.plan import plan_stage
    from repalign.store import table_info

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = _cfg(tmp_path, DIGITS + '[[models]]\nname = "pixels:4"\ndevice = "auto"\n')
    tasks = plan_stage(cfg, "features")
    planned = [p for t in tasks for p in t.outputs]
    assert planned and not any(p.exists() for p in planned)
    # the worker has a GPU (mocked): "auto" there would pick CUDA and bfloat16, another cache
    # key and file name; the task must run as planned
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert run_local(tasks, progress=False) == {t.key: "done" for t in tasks}
    assert all(p.is_file() for p in planned)
    prov = table_info(planned[0])["provenance"]
    assert (prov["device_type"], prov["dtype"]) == ("cpu", "float32")
    assert sorted(p.name for p in (tmp_path / "out" / "features").rglob("*.parquet")) == sorted(p.name for p in planned)


def _writes_first(paths: tuple[str, ...]) -> None:
    from pathlib import Path

    Path(paths[0]).write_text("x")


def _writes_all(paths: tuple[str, ...]) -> None:
    from pathlib import Path

    for p in paths:
        Path(p).write_text("x")


def test_executors_name_the_outputs_a_task_did_not_write(tmp_path):
    from repalign.pipeline.executors import _execute

    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    t = Task("half", "test", (a, b), _writes_first, args=((str(a), str(b)),), label="writes a only")
    with pytest.raises(TaskFailed) as err:
        run_local([t], progress=False)
    assert "half" in str(err.value) and str(b) in str(err.value) and str(a) not in str(err.value)
    a.unlink()
    with pytest.raises(MissingOutputs, match=r"did not write 1 of its 2 declared output\(s\): .*b\.txt"):
        _execute(t)
    whole = Task("whole", "test", (a, b), _writes_all, args=((str(a), str(b)),), label="writes both")
    assert run_local([whole], progress=False) == {"whole": "done"}  # every declared output written: runs clean


def test_planning_for_gpu_workers_on_a_machine_without_one(tmp_path, monkeypatch):
    import torch

    from repalign.features import cache_key, feature_path
    from repalign.models import get_spec
    from repalign.pipeline.plan import plan_stage

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    cfg = _cfg(tmp_path, DIGITS + '[[models]]\nname = "pixels:4"\ndevice = "cuda"\ndtype = "bfloat16"\n')
    (task,) = plan_stage(cfg, "features")
    assert (task.kwargs["device"], task.kwargs["dtype"]) == ("cuda", "bfloat16")
    h = load_stimulus_set({"source": "digits", "n": 2, "name": "digits"}).manifest_hash()
    key = cache_key(get_spec("pixels:4"), "output", "auto", h, "bfloat16")
    assert task.outputs == (feature_path(tmp_path / "out" / "features", "pixels:4", "digits", "output", "auto", key),)
    with pytest.raises(
        ValidationError, match=r"#1 \(pixels:4\): device 'cuda' requested but CUDA is not available; .*dtype"
    ):
        plan_stage(_cfg(tmp_path, DIGITS + '[[models]]\nname = "pixels:4"\ndevice = "cuda"\n'), "features")
    with pytest.raises(ValidationError, match="dtype 'bfloat16' needs a CUDA device"):
        plan_stage(_cfg(tmp_path, DIGITS + '[[models]]\nname = "pixels:4"\ndtype = "bfloat16"\n'), "features")
    with pytest.raises(ValidationError, match="unknown dtype 'half'; valid: auto, float32"):
        plan_stage(_cfg(tmp_path, DIGITS + '[[models]]\nname = "pixels:4"\ndtype = "half"\n'), "features")
