"""Feature extraction on real stimuli: shapes, determinism, cache, resume,
bad input, concept and text features, config plan and representations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import repalign.features.extractor as ex
from repalign.config import load_config
from repalign.datasets import Embedding
from repalign.errors import ValidationError
from repalign.features import (
    cache_key,
    concept_features,
    extract,
    load_features,
    load_stimulus_set,
    pool,
    text_features,
)
from repalign.models import LoadedModel, get_spec, load_model
from repalign.pipeline.plan import plan_stage, resolve_config
from repalign.store import table_info
from repalign.task import run_local

pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def ld_train(real_data):
    return load_stimulus_set({"source": "learning-dynamics", "split": "train"})


@pytest.fixture(scope="module")
def small(ld_train):
    return ld_train.subset([0, 1, 12, 13, 24, 25, 26, 27])  # 8 images, all three categories


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0")


@pytest.fixture(scope="module")
def reference(tmp_path_factory, small, lite0):
    """An uninterrupted run: 8 images, 2 row groups of 4."""
    out = tmp_path_factory.mktemp("ref")
    paths = extract(
        lite0, small, ["penultimate", "_blocks.3"], out_dir=out, batch_size=4, rows_per_group=4, progress=False
    )
    return paths


# --- pooling (planted) -----------------------------------------------------------------------
def test_pooling_on_planted_tensors():
    t = torch.arange(2 * 3 * 4, dtype=torch.float32).reshape(2, 3, 4)  # (B, T, D)
    assert torch.equal(pool(t, "cls", 2), t[:, 0])
    assert torch.equal(pool(t, "mean", 2), t.mean(1))
    assert torch.equal(pool(t.transpose(0, 1), "cls", 2), t[:, 0])  # sequence-first input
    c = torch.randn(2, 5, 3, 3)
    assert torch.allclose(pool(c, "auto", 2), c.mean((2, 3)))
    assert pool(c, "flatten", 2).shape == (2, 45)
    with pytest.raises(ValidationError, match="cls"):
        pool(c, "cls", 2)


# --- stimulus sources ------------------------------------------------------------------------
def test_stimulus_sources(real_data, ld_train):
    assert len(ld_train) == 36 and set(ld_train.labels["split"]) == {"train"}
    assert len(load_stimulus_set({"source": "mur92"})) == 92
    edges = load_stimulus_set({"source": "texture-shape-edges", "name": "edges"})
    assert (len(edges), edges.name, edges.ids[0]) == (160, "edges", "edges/airplane1")
    d = load_stimulus_set({"source": "digits", "n": 2})
    assert len(d) == 20 and sorted(d.labels["category"]) == sorted(list(range(10)) * 2)
    assert np.asarray(d.load_image(0)).shape == (32, 32, 3)
    sk = load_stimulus_set({"source": "skimage", "limit": 5})
    assert sk.ids == ("astronaut", "brick", "camera", "cell", "chelsea")
    assert sk.load_image(1).mode == "RGB"
    with pytest.raises(ValidationError, match="unknown source 'nope'.*mur92"):
        load_stimulus_set({"source": "nope"})
    with pytest.raises(ValidationError, match="unknown key.*'colour'"):
        load_stimulus_set({"source": "digits", "colour": 1})


# --- extraction ------------------------------------------------------------------------------
def test_pixel_baseline_on_the_full_sets(tmp_path, real_data):
    ld = load_stimulus_set({"source": "learning-dynamics"})
    mur = load_stimulus_set({"source": "mur92"})
    for s, n in ((ld, 342), (mur, 92)):
        p = extract("pixels:8", s, out_dir=tmp_path, batch_size=64, progress=False)["output"]
        e = load_features(p)
        assert e.shape == (n, 192) and e.ids == s.ids
        assert e.values.min() >= 0 and e.values.max() <= 1
    # planted truth: the features are the resized image, channel-major
    img = np.asarray(mur.load_image(0).resize((8, 8), resample=2), dtype=np.float64) / 255
    assert np.allclose(e.values[0], img.transpose(2, 0, 1).ravel(), atol=0.02)


def test_shapes_and_hooks_match_the_models_own_output(tmp_path, small, lite0, reference):
    pen = load_features(reference["penultimate"])
    blk = load_features(reference["_blocks.3"])
    assert pen.shape == (8, 1280) and blk.shape == (8, 40) and pen.ids == small.ids
    assert pen.meta["model"] == "efficientnet_lite0" and pen.meta["module"] == "_fc"
    assert pen.name == "efficientnet_lite0/penultimate@learning-dynamics"
    # the classifier applied to the hooked penultimate features gives the model's logits
    x = torch.stack([lite0.transform(small.load_image(i)) for i in range(3)])
    with torch.inference_mode():
        logits = lite0.module(x).numpy()
        via_hook = lite0.module._fc(torch.tensor(pen.values[:3], dtype=torch.float32)).numpy()
    assert np.allclose(logits, via_hook, atol=1e-3)


def test_deterministic_bytes_and_cache_reuse(tmp_path, small, lite0, reference, monkeypatch):
    again = extract(
        lite0, small, ["penultimate", "_blocks.3"], out_dir=tmp_path, batch_size=4, rows_per_group=4, progress=False
    )
    for layer in again:
        assert again[layer].read_bytes() == reference[layer].read_bytes()
    # a second run does no forward pass and does not even load the model
    monkeypatch.setattr(ex, "_forward_batch", lambda *a, **k: pytest.fail("forward pass on a cache hit"))
    monkeypatch.setattr(ex, "load_model", lambda *a, **k: pytest.fail("model loaded on a cache hit"))
    assert extract("efficientnet_lite0", small, ["penultimate", "_blocks.3"], out_dir=tmp_path, progress=False) == again


def test_cache_key_changes_with_every_field(small):
    from dataclasses import replace

    spec = get_spec("efficientnet_lite0")
    h = small.manifest_hash()
    base = cache_key(spec, "penultimate", "auto", h, "float32")
    variants = [
        cache_key(get_spec("efficientnet_lite1"), "penultimate", "auto", h),
        cache_key(get_spec("random:efficientnet_lite0"), "penultimate", "auto", h),
        cache_key(replace(spec, preprocess=replace(spec.preprocess, resolution=192)), "penultimate", "auto", h),
        cache_key(replace(spec, preprocess=replace(spec.preprocess, resize=224)), "penultimate", "auto", h),
        cache_key(spec, "output", "auto", h),
        cache_key(spec, "penultimate", "flatten", h),
        cache_key(spec, "penultimate", "auto", h, "bfloat16"),
        cache_key(spec, "penultimate", "auto", small.subset([0, 1]).manifest_hash()),
    ]
    assert len({base, *variants}) == len(variants) + 1
    assert cache_key(spec, "penultimate", "auto", h, "float32") == base


def test_stale_file_with_another_key_is_recomputed(tmp_path, small, monkeypatch):
    s = small.subset([0, 1, 2])
    p = extract("pixels:4", s, out_dir=tmp_path, progress=False)["output"]
    good = p.read_bytes()
    from repalign.store import write_table

    write_table(ex._arrow_table(s.ids, np.zeros((3, 48), np.float32)), p, "features", {"cache_key": "stale"})
    assert extract("pixels:4", s, out_dir=tmp_path, progress=False)["output"].read_bytes() == good


def test_resume_after_interruption_is_byte_identical(tmp_path, small, lite0, reference, monkeypatch):
    calls = {"parts": 0, "batches": 0}
    real_write, real_fwd = ex._write_part, ex._forward_batch

    def dying_write(*a, **k):
        if calls["parts"] == 2:  # killed after the first group of both layers is on disk
            raise KeyboardInterrupt
        calls["parts"] += 1
        return real_write(*a, **k)

    monkeypatch.setattr(ex, "_write_part", dying_write)
    with pytest.raises(KeyboardInterrupt):
        extract(
            lite0,
            small,
            ["penultimate", "_blocks.3"],
            out_dir=tmp_path,
            batch_size=4,
            rows_per_group=4,
            progress=False,
            num_workers=0,
        )
    final = ex.feature_path(
        tmp_path,
        "efficientnet_lite0",
        small.name,
        "penultimate",
        "auto",
        reference["penultimate"].stem.rsplit("__", 1)[1],
    )
    assert not final.exists()  # nothing half-written at the final path
    monkeypatch.setattr(ex, "_write_part", real_write)

    def counting_fwd(*a, **k):
        calls["batches"] += 1
        return real_fwd(*a, **k)

    monkeypatch.setattr(ex, "_forward_batch", counting_fwd)
    paths = extract(
        lite0,
        small,
        ["penultimate", "_blocks.3"],
        out_dir=tmp_path,
        batch_size=4,
        rows_per_group=4,
        progress=False,
        num_workers=0,
    )
    assert calls["batches"] == 1  # the second group only
    for layer, p in paths.items():
        assert p.read_bytes() == reference[layer].read_bytes()
        assert not p.with_name(p.name + ".parts").exists()


def test_bad_images_error_or_are_skipped(tmp_path, ld_train):
    folder = tmp_path / "imgs" / "objects"
    folder.mkdir(parents=True)
    for i in range(3):
        (folder / f"ok{i}.png").write_bytes(Path(ld_train.paths[i]).read_bytes())
    (folder / "broken.png").write_bytes(b"not a png")
    s = load_stimulus_set({"source": "folder", "path": str(tmp_path / "imgs"), "name": "mine"})
    assert s.ids == ("objects/broken", "objects/ok0", "objects/ok1", "objects/ok2")
    assert set(s.labels["category"]) == {"objects"}
    with pytest.raises(ValidationError, match=r"broken\.png.*skip"):
        extract("pixels:4", s, out_dir=tmp_path / "o", progress=False)
    p = extract("pixels:4", s, out_dir=tmp_path / "o", skip_bad=True, progress=False)["output"]
    e = load_features(p)
    assert e.ids == ("objects/ok0", "objects/ok1", "objects/ok2")
    assert table_info(p)["provenance"]["skipped_ids"] == ["objects/broken"]


def test_unknown_layer_and_nan_outputs_are_named(tmp_path, small):
    with pytest.raises(
        ValidationError,
        match=r"unknown layer 'fc7' for model 'efficientnet_lite0' \(closest: _fc"
        r".*repalign models layers efficientnet_lite0",
    ):
        extract("efficientnet_lite0", small, ["fc7"], out_dir=tmp_path, progress=False)

    class NaNNet(nn.Module):
        def forward(self, x):
            return x.flatten(1) * float("nan")

    spec = get_spec("pixels:4")
    broken = LoadedModel(NaNNet(), load_model("pixels:4").transform, spec)
    with pytest.raises(ValidationError, match=r"model 'pixels:4' layer 'output': NaN/inf"):
        extract(broken, small, out_dir=tmp_path, progress=False)
    assert not list(tmp_path.rglob("*.parquet"))


def test_concept_features_planted_and_real(reference, small):
    e = Embedding(("a1", "b1", "a2"), np.array([[1.0, 0], [5, 5], [3, 2]]), "toy")
    c = concept_features(e, {"a1": "a", "a2": "a", "b1": "b"})
    assert c.ids == ("a", "b") and np.allclose(c.values, [[2, 1], [5, 5]])
    with pytest.raises(ValidationError, match="no concept for 1 stimulus id.*'b1'"):
        concept_features(e, {"a1": "a", "a2": "a"})
    pen = load_features(reference["penultimate"])
    cat = dict(zip(small.labels.index, small.labels["category"]))
    cf = concept_features(pen, cat)
    assert set(cf.ids) == set(small.labels["category"])
    first = cf.ids[0]
    rows = [i for i, s in enumerate(pen.ids) if cat[s] == first]
    assert np.allclose(cf.values[0], pen.values[rows].mean(0))


def test_minilm_text_features():
    t = text_features(["cat", "kitten", "motorway"], ids=["c", "k", "m"])
    assert t.shape == (3, 384) and t.ids == ("c", "k", "m")
    v = t.values / np.linalg.norm(t.values, axis=1, keepdims=True)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2


# --- config: plan and representations --------------------------------------------------------
CONFIG = """
[run]
output = "out"
seed = 3

[[stimuli]]
name = "ld"
source = "learning-dynamics"
split = "train"
limit = 6

[[stimuli]]
source = "digits"
n = 1

[[models]]
name = "pixels:4"

[[models]]
name = "efficientnet_lite0"
alias = "lite0"
layers = ["penultimate", "_blocks.3"]
stimuli = ["ld"]
batch_size = 3

[[representations]]
name = "spose"
source = "spose49"

[[representations]]
name = "words"
source = "minilm-things"

[[representations]]
name = "noise"
source = "random"
dims = 5
stimuli = "digits"

[[representations]]
name = "pix-digit"
source = "concepts"
of = "pixels:4/output@digits"
"""


def test_plan_and_resolve_representations(tmp_path, real_data):
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text(CONFIG)
    cfg = load_config(cfg_path)
    tasks = plan_stage(cfg, "features")
    refs = resolve_config(cfg).reps
    assert sorted(t.label for t in tasks) == sorted(
        ["pixels:4 on ld", "pixels:4 on digits", "efficientnet_lite0 on ld", "minilm on THINGS words"]
    )
    assert set(refs) == {
        "pixels:4/output@ld",
        "pixels:4/output@digits",
        "lite0/penultimate@ld",
        "lite0/_blocks.3@ld",
        "spose",
        "words",
        "noise",
        "pix-digit",
    }
    assert refs["spose"].task is None and refs["words"].task is not None
    assert refs["pix-digit"].task == refs["pixels:4/output@digits"].task
    assert all(str(p).startswith(str(tmp_path / "out" / "features")) for t in tasks for p in t.outputs)
    image_tasks = [t for t in tasks if "THINGS" not in t.label]
    status = run_local(image_tasks, progress=False)
    assert set(status.values()) == {"done"}
    assert all(t.done() for t in plan_stage(load_config(cfg_path), "features") if "THINGS" not in t.label)
    assert refs["lite0/penultimate@ld"].load().shape == (6, 1280)
    assert refs["pixels:4/output@digits"].load().shape == (10, 48)
    pd_ = refs["pix-digit"].load()
    assert pd_.shape == (10, 48) and set(pd_.ids) == {str(i) for i in range(10)}
    noise = refs["noise"].load()
    assert noise.shape == (10, 5) and np.array_equal(noise.values, refs["noise"].load().values)
    assert refs["spose"].load().shape == (1854, 49)
    with pytest.raises(ValidationError, match="not extracted yet"):
        refs["words"].load()


def test_config_errors_name_the_key(tmp_path, real_data):
    p = tmp_path / "bad.toml"
    p.write_text(CONFIG.replace('alias = "lite0"', 'alias = "lite0"\nlayer = "x"'))
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['layer'\].*layers"):
        plan_stage(load_config(p), "features")
    p.write_text(CONFIG.replace('stimuli = ["ld"]', 'stimuli = ["nope"]'))
    with pytest.raises(ValidationError, match="unknown stimulus set.*nope"):
        plan_stage(load_config(p), "features")
    p.write_text(CONFIG + '\n[[models]]\nname = "pixels:4"\nstimuli = ["digits"]\n')
    with pytest.raises(ValidationError, match="two representations named"):
        resolve_config(load_config(p))


def test_cli_features_dry_run_and_run(tmp_path, real_data):
    from typer.testing import CliRunner

    from repalign.cli import app

    p = tmp_path / "c.toml"
    p.write_text('[run]\noutput = "o"\n[[stimuli]]\nsource = "digits"\nn = 1\n[[models]]\nname = "pixels:4"\n')
    r = CliRunner().invoke(app, ["features", "--config", str(p), "--dry-run"])
    assert r.exit_code == 0 and "todo  pixels:4 on digits" in r.output
    r = CliRunner().invoke(app, ["features", "--config", str(p)])
    assert r.exit_code == 0, r.output
    assert "1 task(s) run" in r.output
    r = CliRunner().invoke(app, ["features", "--config", str(p)])
    assert "0 task(s) run, 1 already done" in r.output


def test_optional_stimulus_sets_missing_locally_are_skipped(tmp_path, monkeypatch):
    import repalign.features.plan as plan
    from repalign.errors import DatasetNotFoundError

    real = plan.load_stimulus_set

    def offline(sec):
        if sec["source"] == "mur92":
            raise DatasetNotFoundError("dataset 'mur92': not available offline")
        return real(sec)

    monkeypatch.setattr(plan, "_STIM_CACHE", {})
    monkeypatch.setattr(plan, "load_stimulus_set", offline)
    p = tmp_path / "c.toml"
    p.write_text(
        '[[stimuli]]\nsource = "digits"\nn = 1\n[[stimuli]]\nsource = "mur92"\noptional = true\n'
        '[[models]]\nname = "pixels:4"\n[[models]]\nname = "pixels:8"\nstimuli = ["mur92"]\n'
    )
    with pytest.warns(UserWarning, match="optional stimulus set 'mur92' skipped"):
        tasks = plan_stage(load_config(p), "features")
    assert [t.label for t in tasks] == ["pixels:4 on digits"]
    p.write_text(p.read_text().replace("optional = true\n", ""))
    with pytest.raises(DatasetNotFoundError, match="mur92"):
        plan_stage(load_config(p), "features")
