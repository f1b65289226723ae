"""Loader tests on the real files (REPALIGN_DATA_DIR) with concrete facts."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import repalign.datasets as ds
from repalign.datasets import registry as reg_mod  # noqa: F401  (module import path check)
from repalign.datasets.registry import fetch, files, verify
from repalign.errors import DatasetNotFoundError, HashMismatchError, MalformedDataError, UnknownDatasetError

pytestmark = pytest.mark.data


def test_things_concepts():
    c = ds.load_things_concepts()
    assert len(c.ids) == 1854 and c.ids[:2] == ("aardvark", "abacus")
    assert c.categories.shape == (1854, 27)
    assert c.category_names[0] == "animal" and "vehicle" in c.category_names
    assert "aardvark" in c.category_of("animal")
    # 559 concepts belong to none of the 27 top-level categories upstream.
    assert int((c.categories.sum(1) == 0).sum()) == 559


def test_spose_embedding():
    e = ds.load_spose()
    assert e.shape == (1854, 49)
    assert (e.values >= 0).all()
    assert e.meta["clipped_negatives"] == 68
    assert e.ids == ds.load_things_ids()
    assert ds.load_spose(14).shape == (1854, 14)


def test_noise_ceiling_triplets():
    t = ds.load_triplets("noise_ceiling")
    assert len(t) == 20000
    assert len(t.distinct()) == 1000
    # every distinct triplet has 14–25 responses, 20 on average
    _, counts = np.unique(np.sort(t.triplets, 1), axis=0, return_counts=True)
    assert counts.min() == 14 and counts.max() == 25 and counts.sum() == 20000
    # first upstream row: "128 1107 734 1 272" (1-based, odd = position 1) -> odd item last
    assert t.triplets[0].tolist() == [1106, 733, 127]
    assert t.participant[0] == 272


def test_test10_and_train90_triplets():
    t = ds.load_triplets("test_10")
    assert len(t) == 127304
    assert t.triplets[0].tolist() == [1663, 1132, 1]
    assert t.triplets.min() >= 0 and t.triplets.max() <= 1853
    assert len(ds.load_triplets("train_90")) == 21616


def test_category_tasks():
    tasks = ds.load_category_tasks([1, 2, 1050])
    t = tasks[0]
    assert len(t) == 120
    assert t.concepts[:3] == ("anvil", "riser", "hydrant")
    assert t.categories[:2].tolist() == [0, 1]  # Folty, Julty
    assert set(np.unique(t.categories)) == {0, 1}
    assert len(files("things-category-tasks")) == 1050


def test_reward_tasks():
    t = ds.load_reward_task(1)
    assert len(t) == 60 and t.concepts.shape == (60, 2)
    assert t.concepts[0].tolist() == ["tool", "bagpipe"]
    assert t.rewards[0].tolist() == [100.0, 31.0]
    assert len(files("things-reward-tasks")) == 240


def test_things_decisions():
    h = ds.load_things_decisions()
    assert h.trials.shape[0] == 25 * 150
    assert len(h.participants) == 25
    assert (h.trials.groupby("participant").size() == 150).all()
    first = h.trials.iloc[0]
    assert (first.left, first.right, first.choice) == ("hard_disk", "mandolin", 0)
    tasks = h.tasks()
    assert len(tasks) == 25 and len(tasks[0]) == 150 and tasks[0].choices is not None


def test_mur92():
    m = ds.load_mur92()
    assert m.rdms.shape == (16, 92, 92)
    assert np.allclose(m.rdms, m.rdms.transpose(0, 2, 1))
    assert np.all(np.diagonal(m.rdms, axis1=1, axis2=2) == 0)
    assert m.stimuli.arrays.shape == (92, 175, 175, 3)
    assert m.stimuli.labels["animate"].sum() == 48
    assert m.subjects[0] == "simJudge | subject1"


def test_texture_shape():
    t = ds.load_texture_shape()
    for cond in ("edges", "filled-silhouettes"):
        s = t.stimuli[cond]
        assert len(s) == 160
        assert s.labels["category"].value_counts().eq(10).all() and s.labels["category"].nunique() == 16
    humans = t.trials[t.trials.observer_type == "human"]
    assert humans.groupby("experiment")["subj"].nunique().eq(10).all()
    assert humans.groupby(["experiment", "subj"]).size().eq(160).all()


def test_learning_dynamics():
    ld = ds.load_learning_dynamics()
    lab = ld.images.labels
    assert len(ld.images) == 342
    assert (lab.split == "train").sum() == 36 and (lab.split == "test").sum() == 306
    assert sorted(lab.loc[lab.split == "test", "test_set"].unique()) == [1, 2, 3, 4, 5, 6]
    assert (lab.loc[lab.split == "test"].groupby("test_set").size() == 51).all()
    hum = ld.trials[ld.trials.agent == "human"]
    assert hum.run.nunique() == 12
    assert sorted(hum.epoch.unique()) == [1, 2, 3, 4, 5, 6]
    for agent in ("alexnet", "vgg16", "resnet50", "efficientnet", "convnext", "vit"):
        assert ld.trials[ld.trials.agent == agent].run.nunique() == 20
    assert ds.parse_image_name("second_gen_q_83_z_-30.png") == {
        "category": "q",
        "object_id": 83,
        "axis": "z",
        "angle": -30,
    }


# --- bad input ------------------------------------------------------------------------------


def _mirror_with(tmp_path, real_data, dataset):
    """A private mirror holding copies of one dataset's files."""
    for f in files(dataset):
        dst = tmp_path / f.key
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(real_data / f.key, dst)
    return tmp_path


def test_corrupted_file_gives_hash_error(tmp_path, real_data, monkeypatch):
    mirror = _mirror_with(tmp_path, real_data, "things-spose")
    target = mirror / files("things-spose")[0].key
    data = bytearray(target.read_bytes())
    data[100] = (data[100] + 1) % 256
    target.write_bytes(bytes(data))
    monkeypatch.setenv("REPALIGN_DATA_DIR", str(mirror))
    with pytest.raises(HashMismatchError, match="sha256 mismatch"):
        fetch("things-spose", files("things-spose")[0].path)
    statuses = {s.file.path: s.status for s in verify(["things-spose"])}
    assert statuses[files("things-spose")[0].path] == "hash mismatch"


def test_missing_dataset_gives_fetch_hint(tmp_path, monkeypatch):
    monkeypatch.setenv("REPALIGN_DATA_DIR", str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as err:
        ds.load_mur92()
    msg = str(err.value)
    assert "mur92" in msg and "repalign data fetch mur92" in msg and str(tmp_path) in msg


def test_unknown_dataset_lists_known():
    with pytest.raises(UnknownDatasetError, match="known datasets: .*things-spose"):
        files("things-nonexistent")
    with pytest.raises(UnknownDatasetError, match="noise_ceiling"):
        ds.load_triplets("nope")


def test_malformed_triplet_row_names_file_and_line(tmp_path, real_data, monkeypatch):
    from repalign.datasets.things import _read_int_table

    bad = tmp_path / "t.txt"
    bad.write_text("1 2 3 0\n4 5 x 0\n")
    with pytest.raises(MalformedDataError, match=r"t.txt, line 2"):
        _read_int_table(bad, sep=r"\s+", ncol=4)


def test_verify_reports_every_file_ok(real_data):
    statuses = list(verify())
    # every row of the mirror's own MANIFEST.tsv (an independent list) is a registered file
    assert len(statuses) == len((real_data / "MANIFEST.tsv").read_text().strip().splitlines()) - 1
    assert all(s.status == "ok" for s in statuses)
