"""Decode once, fed: the decoded store's task feeds its first reader the images as
they are decoded (``decoded.write_store_feeding``), so that model's forward passes
overlap the decoding. Truths: today's per-model extraction of the same JPEGs (bytes
of the features files), the finished store read back, and the images' own hashes."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from PIL import Image

from repalign.config import load_config
from repalign.features import folder_set
from repalign.features.decoded import split_transform, store_key, store_path, write_store, write_store_feeding
from repalign.features.plan import _manifest_hash
from repalign.models import get_spec, planned_transform
from repalign.pipeline.plan import plan_stage
from repalign.store import table_info
from repalign.task import TaskFailed, run_local

MODELS = ("random:torchvision/mobilenet_v3_small", "random:torchvision/shufflenet_v2_x0_5")


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    """10 noisy JPEGs of different sizes."""
    root = tmp_path_factory.mktemp("feed_jpegs")
    rng = np.random.default_rng(7)
    for i, (h, w) in enumerate([(300, 400), (480, 360), (257, 257), (200, 640), (333, 500)] * 2):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / f"im{i:02d}.jpg", quality=85)
    return root


def _config(tmp_path, folder, name: str, decode_once: bool, workers: int, skip_bad: bool = False):
    p = tmp_path / f"{name}.toml"
    models = "".join(
        f'[[models]]\nname = "{m}"\nbatch_size = 4\nnum_workers = {workers}\n'
        f"decode_once = {str(decode_once).lower()}\nskip_bad = {str(skip_bad).lower()}\n"
        for m in MODELS
    )
    p.write_text(f'[run]\noutput = "{name}"\n[[stimuli]]\nname = "j"\nsource = "folder"\npath = "{folder}"\n' + models)
    return load_config(p)


def test_the_decode_task_writes_its_first_readers_features_as_today(tmp_path, jpegs):
    # two worker processes: they are forked before the fed model's first forward pass
    tasks = plan_stage(_config(tmp_path, jpegs, "shared", True, workers=2), "features")
    decode = next(t for t in tasks if t.key.startswith("decode:"))
    first, second = [t for t in tasks if t.key.startswith("features:")]
    assert decode.kwargs["first"]["task"] == first.key and "feeding " + MODELS[0] in decode.label
    decode.run()
    assert decode.done() and first.done() and not second.done()
    # stamped with the reader's own key, as if its task had written it
    assert table_info(first.outputs[0])["provenance"]["task"] == first.key
    status = run_local(tasks, progress=False)
    assert status[first.key] == "skipped" and status[second.key] == "done"

    alone = plan_stage(_config(tmp_path, jpegs, "alone", False, workers=1), "features")
    run_local(alone, progress=False)
    for a, b in zip([first, second], alone):
        assert a.outputs[0].name == b.outputs[0].name
        assert a.outputs[0].read_bytes() == b.outputs[0].read_bytes()  # today's file, byte for byte


def test_a_failing_first_reader_leaves_a_finished_store_and_meets_its_error_itself(tmp_path, jpegs):
    folder = tmp_path / "with_bad"
    shutil.copytree(jpegs, folder)
    data = (folder / "im06.jpg").read_bytes()
    (folder / "im06.jpg").write_bytes(data[: len(data) // 3])  # header fine, data truncated
    tasks = plan_stage(_config(tmp_path, folder, "bad", True, workers=0), "features")
    decode = next(t for t in tasks if t.key.startswith("decode:"))
    with pytest.raises(TaskFailed) as err:
        run_local(tasks, progress=False)
    status = err.value.status
    assert status[decode.key] == "done" and decode.done()
    readers = [t for t in tasks if t.key.startswith("features:")]
    assert all("im06.jpg" in status[t.key] and "skip_bad" in status[t.key] for t in readers)
    t = pq.read_table(decode.outputs[0])
    assert t.num_rows == 10 and t.column("error")[6].as_py() and not t.column("error")[5].as_py()


def test_the_feed_gives_the_stored_images_in_the_readers_batches(tmp_path, jpegs):
    s = folder_set(jpegs, "j")
    split = split_transform(planned_transform(get_spec(MODELS[0])))
    key = store_key(split.geometry, s.manifest_hash())
    seen = []

    def consume(batches):
        for x, idx, bad in batches:
            seen.append((x.numpy().copy(), idx, bad))
            if len(seen) == 2:
                return "stopped early"  # the store is finished without this reader

    path, result, error = write_store_feeding(
        s, split.geometry, store_path(tmp_path / "fed", "j", key), key, consume, split.size, 3, num_workers=2
    )
    assert result == "stopped early" and error is None
    assert [idx for _x, idx, _b in seen] == [[0, 1, 2], [3, 4, 5]]
    ref = write_store(s, split.geometry, store_path(tmp_path / "plain", "j", key), key)
    a, b = pq.read_table(path), pq.read_table(ref)
    assert a.num_rows == 10 and a.equals(b)  # the whole store, the same rows
    for x, idx, _b in seen:
        for row, i in zip(x, idx):
            assert np.array_equal(row, np.frombuffer(a.column("pixels")[i].as_buffer(), np.uint8).reshape(224, 224, 3))


def test_the_manifest_hash_memo_follows_the_files(tmp_path, jpegs):
    folder = tmp_path / "copy"
    shutil.copytree(jpegs, folder)
    s = folder_set(folder, "j")
    h = _manifest_hash(s)
    assert h == s.manifest_hash() and _manifest_hash(s) == h
    p = folder / "im03.jpg"
    p.write_bytes(p.read_bytes() + b"\0")  # another size
    assert _manifest_hash(s) == s.manifest_hash() != h
    q = folder / "im04.jpg"
    b = bytearray(q.read_bytes())
    b[-3] ^= 1  # same size, later modification time
    st = q.stat()
    q.write_bytes(bytes(b))
    os.utime(q, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert _manifest_hash(s) == s.manifest_hash()


def test_features_copied_to_the_host_one_batch_behind_are_todays(tmp_path, jpegs, monkeypatch):
    """The CUDA path (pooled features copied without blocking, waited for once the next
    batch's forward is queued) run on the CPU: the same files as the CPU's own loop,
    an unreadable image skipped in its place."""
    import repalign.features.extractor as ex
    from repalign.features import extract

    folder = tmp_path / "with_bad"
    shutil.copytree(jpegs, folder)
    data = (folder / "im02.jpg").read_bytes()
    (folder / "im02.jpg").write_bytes(data[: len(data) // 3])
    s = folder_set(folder, "j")
    kw = dict(batch_size=3, num_workers=0, progress=False, skip_bad=True, rows_per_group=6)
    want = extract(MODELS[1], s, out_dir=tmp_path / "today", **kw)["penultimate"]
    waited = []
    monkeypatch.setattr(ex, "_overlap_copies", lambda dev: True)
    real_wait = ex._PendingCopy.wait
    monkeypatch.setattr(ex._PendingCopy, "wait", lambda self: waited.append(1) or real_wait(self))
    got = extract(MODELS[1], s, out_dir=tmp_path / "behind", **kw)["penultimate"]
    assert len(waited) == 4  # every batch went through the deferred copy
    assert got.name == want.name and got.read_bytes() == want.read_bytes()
    assert table_info(got)["provenance"]["skipped_ids"] == ["im02"]


@pytest.mark.parametrize("start,batch", [(0, 3), (5, 4), (2, 7), (9, 64)])
def test_store_batches_are_the_stored_rows_across_row_groups(tmp_path, jpegs, monkeypatch, start, batch):
    import repalign.features.decoded as dec

    folder = tmp_path / "with_bad"
    shutil.copytree(jpegs, folder)
    (folder / "im04.jpg").write_bytes(b"not a jpeg")
    s = folder_set(folder, "j")
    geometry = (("resize", "exact", 16, 24, "bilinear"),)
    key = store_key(geometry, s.manifest_hash())
    monkeypatch.setattr(dec, "ROWS_PER_GROUP", 3)  # four row groups: batches span them
    path = write_store(s, geometry, store_path(tmp_path, "j", key), key)
    assert pq.ParquetFile(path).num_row_groups == 4
    t = pq.read_table(path)
    rows = list(range(start, 10))
    got = list(dec.iter_batches(path, s.ids, (16, 24), start, batch))
    assert [i for x, idx, bad in got for i in sorted(idx + [j for j, _ in bad])] == rows
    assert [len(idx) + len(bad) for _x, idx, bad in got] == [
        min(batch, len(rows) - k) for k in range(0, len(rows), batch)
    ]
    assert sum(len(bad) for _x, _i, bad in got) == (start <= 4)
    for x, idx, bad in got:
        assert all(j == 4 and "im04.jpg" in e for j, e in bad)
        if idx:
            assert x.shape == (len(idx), 16, 24, 3) and x.dtype == torch.uint8
            for row, i in zip(x.numpy(), idx):
                assert np.array_equal(
                    row, np.frombuffer(t.column("pixels")[i].as_buffer(), np.uint8).reshape(16, 24, 3)
                )


def test_repalign_features_counts_the_fed_reader_as_run(tmp_path, jpegs, monkeypatch, capsys):
    """A fresh output folder holds nothing, so all three tasks (the decode task and both
    readers) are this run's work, the first reader fed by the decode task; the second
    run finds both features files and plans no decode task."""
    from test_value_ranges import run_cli

    cfg = _config(tmp_path, jpegs, "cli", True, workers=0).path
    code, text = run_cli(["features", "--config", str(cfg), "--quiet"], monkeypatch, capsys)
    assert code == 0, text
    assert "features: 3 task(s) run (1 fed by its decode task), 0 already done;" in text
    code, text = run_cli(["features", "--config", str(cfg), "--quiet"], monkeypatch, capsys)
    assert code == 0, text
    assert "features: 0 task(s) run, 2 already done;" in text
