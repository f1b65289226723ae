"""Decode once: models that share a resize/crop read one decoded store, and get the
same features, bit for bit, as when each decodes its own images.

Truths checked: the libraries' own transforms (torchvision, timm, open_clip) on
synthetic images, and today's per-model extraction path on the same JPEGs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import repalign.features.extractor as ex
from repalign.config import load_config
from repalign.features import extract, folder_set, load_features
from repalign.features.decoded import (
    apply_geometry,
    apply_tail,
    split_transform,
    store_key,
    store_path,
    write_store,
)
from repalign.models import get_spec, load_model, planned_transform
from repalign.pipeline.plan import plan_stage
from repalign.store import table_info
from repalign.task import run_local

MODELS = ("random:torchvision/mobilenet_v3_small", "random:torchvision/shufflenet_v2_x0_5")


def _image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A gradient with noise: resizing it exercises the interpolation everywhere."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=2)
    return np.clip(base + rng.normal(0, 30, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    """12 JPEGs of different sizes and aspect ratios (one grey, one portrait)."""
    root = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(31)
    sizes = [(300, 400), (480, 360), (257, 257), (200, 640), (333, 500), (640, 480)] * 2
    for i, (h, w) in enumerate(sizes):
        a = _image(rng, h, w)
        img = Image.fromarray(a).convert("L") if i == 3 else Image.fromarray(a)
        img.save(root / f"img{i:02d}.jpg", quality=90)
    return root


def _config(tmp_path, folder, name: str, decode_once: bool, skip_bad: bool = False):
    p = tmp_path / f"{name}.toml"
    models = "".join(
        f'[[models]]\nname = "{m}"\nbatch_size = 5\nnum_workers = 0\n'
        f"decode_once = {str(decode_once).lower()}\nskip_bad = {str(skip_bad).lower()}\n"
        for m in MODELS
    )
    p.write_text(f'[run]\noutput = "{name}"\n[[stimuli]]\nname = "j"\nsource = "folder"\npath = "{folder}"\n' + models)
    return load_config(p)


@pytest.mark.parametrize(
    "name",
    [
        "efficientnet_lite0",
        "pixels:24",
        "random:timm/resnet18",
        "random:open_clip/ViT-B-32",
        "torchvision/resnet50:IMAGENET1K_V2",
        "open_clip/ViT-B-32:openai",
        "timm/vit_base_patch16_224.dino",
    ],
)
def test_geometry_then_tail_equals_the_libraries_transform(name):
    transform = planned_transform(get_spec(name))
    if name.startswith(("random:", "efficientnet", "pixels")):  # the loaded transform is the planned one
        assert split_transform(load_model(name).transform) == split_transform(transform)
    split = split_transform(transform)
    assert split is not None
    rng = np.random.default_rng(0)
    for h, w in [(300, 451), (500, 222)]:
        img = Image.fromarray(_image(rng, h, w))
        want = transform(img)
        got = apply_tail(torch.from_numpy(apply_geometry(img, split.geometry))[None], split, torch.device("cpu"))[0]
        assert got.dtype == want.dtype and torch.equal(got, want)


def test_unrecognised_transforms_are_not_shared():
    from torchvision import transforms as T

    assert (
        split_transform(T.Compose([T.Resize(64), T.ToTensor(), T.Normalize([0.5] * 3, [0.5] * 3)])) is None
    )  # size varies
    assert split_transform(T.Compose([T.Resize(64), T.CenterCrop(32), T.Grayscale(3), T.ToTensor()])) is None
    assert split_transform(lambda img: img) is None


def test_shared_decoding_gives_per_model_features_bit_for_bit(tmp_path, jpegs):
    shared = _config(tmp_path, jpegs, "shared", True)
    tasks = plan_stage(shared, "features")
    decode = [t for t in tasks if t.key.startswith("decode:")]
    feats = [t for t in tasks if t.key.startswith("features:")]
    assert len(decode) == 1 and len(feats) == 2
    assert all(t.deps == (decode[0].key,) and t.kwargs["decoded"] == str(decode[0].outputs[0]) for t in feats)
    assert "resize 256 bilinear, crop 224×224" in decode[0].label
    from typer.testing import CliRunner

    from repalign.cli import app

    r = CliRunner().invoke(app, ["features", "--config", str(shared.path), "--dry-run"])
    assert r.exit_code == 0 and "todo  decode j once (resize 256 bilinear, crop 224×224) for 2 models" in r.output
    assert r.output.count("(from the decoded store)") == 2
    run_local(tasks, progress=False)

    alone = _config(tmp_path, jpegs, "alone", False)
    alone_tasks = plan_stage(alone, "features")
    assert not any(t.key.startswith("decode:") for t in alone_tasks)
    assert [t.key for t in alone_tasks] == [t.key for t in feats]  # same tasks, same cache keys
    run_local(alone_tasks, progress=False)

    for a, b in zip(feats, alone_tasks):
        for pa_, pb in zip(a.outputs, b.outputs):
            assert pa_.name == pb.name  # the file names (cache keys) are today's
            ea, eb = load_features(pa_), load_features(pb)
            assert ea.ids == eb.ids and len(ea.ids) == 12
            assert np.array_equal(ea.values, eb.values)
            assert pa_.read_bytes() == pb.read_bytes()  # provenance included: the same file

    # done tasks need no store: a re-plan has no decode task
    assert not any(t.key.startswith("decode:") for t in plan_stage(shared, "features"))


def test_store_is_content_keyed_checksummed_and_streamed(tmp_path, jpegs):
    import pyarrow.parquet as pq

    s = folder_set(jpegs, "j")
    split = split_transform(planned_transform(get_spec(MODELS[0])))
    key = store_key(split.geometry, s.manifest_hash())
    path = write_store(s, split.geometry, store_path(tmp_path, "j", key), key)
    f = pq.ParquetFile(path, page_checksum_verification=True)
    assert f.metadata.num_rows == 12 and f.metadata.row_group(0).num_rows <= 256
    t = f.read()
    assert t.column("stimulus_id").to_pylist() == list(s.ids)
    px = np.frombuffer(t.column("pixels")[5].as_buffer(), np.uint8).reshape(224, 224, 3)
    assert np.array_equal(px, apply_geometry(s.load_image(5), split.geometry))
    assert table_info(path)["provenance"]["cache_key"] == key
    # another geometry or other images: another key
    assert (
        store_key((("resize", "shorter", 232, "bilinear", None), ("center_crop", 224, 224)), s.manifest_hash()) != key
    )
    assert store_key(split.geometry, "0" * 64) != key


def test_a_store_that_does_not_fit_the_model_is_ignored_with_a_warning(tmp_path, jpegs):
    s = folder_set(jpegs, "j")
    other = (("resize", "exact", 224, 224, "bilinear"),)  # squash, not resize + crop
    key = store_key(other, s.manifest_hash())
    path = write_store(s, other, store_path(tmp_path, "j", key), key)
    with pytest.warns(UserWarning, match="decodes its own images"):
        got = extract(MODELS[0], s, out_dir=tmp_path / "a", batch_size=5, num_workers=0, progress=False, decoded=path)
    want = extract(MODELS[0], s, out_dir=tmp_path / "b", batch_size=5, num_workers=0, progress=False)
    assert np.array_equal(load_features(got["penultimate"]).values, load_features(want["penultimate"]).values)


def test_unreadable_images_are_skipped_or_named_as_without_the_store(tmp_path, jpegs):
    import shutil

    folder = tmp_path / "with_bad"
    shutil.copytree(jpegs, folder)
    data = (folder / "img07.jpg").read_bytes()
    (folder / "img07.jpg").write_bytes(data[: len(data) // 3])  # header fine, data truncated
    tasks = plan_stage(_config(tmp_path, folder, "bad_shared", True, skip_bad=True), "features")
    assert any(t.key.startswith("decode:") for t in tasks)
    run_local(tasks, progress=False)
    alone = plan_stage(_config(tmp_path, folder, "bad_alone", False, skip_bad=True), "features")
    run_local(alone, progress=False)
    for a, b in zip([t for t in tasks if t.key.startswith("features:")], alone):
        ea, eb = load_features(a.outputs[0]), load_features(b.outputs[0])
        assert ea.meta["skipped_ids"] == eb.meta["skipped_ids"] == ["img07"]
        assert ea.ids == eb.ids and np.array_equal(ea.values, eb.values)
    # without skip_bad, reading from the store names the file like the loader does
    s = folder_set(folder, "j")
    split = split_transform(planned_transform(get_spec(MODELS[0])))
    key = store_key(split.geometry, s.manifest_hash())
    path = write_store(s, split.geometry, store_path(tmp_path, "j", key), key)
    with pytest.raises(Exception, match=r"img07\.jpg.*skip_bad"):
        extract(MODELS[0], s, out_dir=tmp_path / "c", batch_size=5, num_workers=0, progress=False, decoded=path)


def test_default_workers_follow_the_cpu_affinity(monkeypatch):
    monkeypatch.setattr(ex.os, "sched_getaffinity", lambda pid: set(range(16)), raising=False)
    assert ex.available_cpus() == 16 and ex._default_workers() == 15
    monkeypatch.setattr(ex.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert ex._default_workers() == 0


def test_sets_held_in_memory_are_not_decoded_once(tmp_path):
    p = tmp_path / "digits.toml"
    p.write_text(
        '[run]\noutput = "o"\n[[stimuli]]\nsource = "digits"\nn = 1\n'
        + "".join(f'[[models]]\nname = "{m}"\n' for m in MODELS)
    )
    tasks = plan_stage(load_config(p), "features")
    assert len(tasks) == 2 and not any(t.key.startswith("decode:") or "decoded" in t.kwargs for t in tasks)


_CHILD = """
import os, sys
from repalign.cli import passive_openmp
policy = passive_openmp()
import numpy as np, torch
from repalign.features import folder_set
from repalign.features.extractor import _Capture, _forward_batch
from repalign.models import load_model
s = folder_set(sys.argv[1], "j")
lm = load_model("random:torchvision/shufflenet_v2_x0_5")
x = torch.stack([lm.transform(s.load_image(i)) for i in range(5)])
cap = _Capture(lm.module.eval(), lm.spec, ["penultimate"], "auto")
np.save(sys.argv[2], _forward_batch(lm.module, x, cap, torch.device("cpu"), "float32")["penultimate"])
print(policy, os.environ["OMP_WAIT_POLICY"], torch.get_num_threads())
"""


def test_openmp_waits_passively_with_the_same_features(tmp_path, jpegs):
    """The CLI makes OpenMP threads sleep while they wait unless the user chose a
    policy; the features are the same bit for bit either way (a child process each:
    the policy is read when torch loads)."""
    import subprocess
    import sys

    from builders import child_python_env

    out = {}
    for policy in (None, "ACTIVE"):
        env = child_python_env()
        env.pop("OMP_WAIT_POLICY", None)
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        f = tmp_path / f"{policy}.npy"
        r = subprocess.run(
            [sys.executable, "-c", _CHILD, str(jpegs), str(f)], env=env, capture_output=True, text=True, timeout=600
        )
        assert r.returncode == 0, r.stderr[-2000:]
        out[policy] = (r.stdout.split(), np.load(f))
    assert out[None][0][:2] == ["True", "PASSIVE"] and out["ACTIVE"][0][:2] == ["False", "ACTIVE"]
    assert out[None][1].shape == (5, 1024) and np.array_equal(out[None][1], out["ACTIVE"][1])


_MALLOC_CHILD = r"""
import os, resource, sys
import numpy as np, torch
from repalign.features import folder_set
from repalign.features.allocator import keep_freed_blocks
from repalign.features.extractor import _Capture, _forward_batch
from repalign.models import load_model
kept = keep_freed_blocks()
s = folder_set(sys.argv[1], "j")
lm = load_model("random:torchvision/mnasnet0_5")
net = lm.module.eval()
big = torch.rand(32, 3, 224, 224, generator=torch.Generator().manual_seed(0))
with torch.inference_mode():
    net(big)  # warm-up: the heap (or the mmap threshold) grows to one batch's activations
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(2):
        net(big)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
x = torch.stack([lm.transform(s.load_image(i)) for i in range(5)])
cap = _Capture(net, lm.spec, ["penultimate"], "auto")
np.save(sys.argv[2], _forward_batch(lm.module, x, cap, torch.device("cpu"), "float32")["penultimate"])
print(kept, faults)
"""


def test_freed_activation_blocks_are_reused_with_the_same_features(tmp_path, jpegs):
    """With glibc's mmap and trim thresholds raised (features/allocator.py, as extract()
    does), repeated forward passes reuse heap blocks: far fewer minor page faults than
    with the allocator's defaults (REPALIGN_MALLOC=default), and the features are the same
    bit for bit (a child process each)."""
    import subprocess
    import sys

    from builders import child_python_env

    out = {}
    for setting in ("default", "kept"):
        env = child_python_env()
        env["REPALIGN_MALLOC"] = setting
        f = tmp_path / f"{setting}.npy"
        r = subprocess.run(
            [sys.executable, "-c", _MALLOC_CHILD, str(jpegs), str(f)],
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert r.returncode == 0, r.stderr[-2000:]
        kept, faults = r.stdout.split()[-2:]
        out[setting] = (kept, int(faults), np.load(f))
    assert out["default"][0] == "False" and out["kept"][0] == "True"
    assert out["kept"][1] * 4 < out["default"][1], (out["kept"][1], out["default"][1])
    assert np.array_equal(out["default"][2], out["kept"][2])
