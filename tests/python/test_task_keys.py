"""Task keys of every analysis config stay what they were (issue #23's guard).

tests/python/data/task_keys.json holds, per analysis config (analysis/configs/*.toml),
the sorted keys of every task ``plan_all`` planned before the hand-off from the
typed config to the stages was rewritten. A task key names a task's outputs on disk:
a changed key means existing results are recomputed. Each config is planned again
here and its keys compared with the snapshot.

Configs that plan without data run in the offline pass; the others need the
real-data mirror (REPALIGN_DATA_DIR) and skip without it. Two configs point at the
THINGS images, which the mirror does not hold: they are planned on a copy whose
image folder holds four small BMP files (uncompressed, so their bytes, and with
them the stimulus hash, are the same on every machine); naturalcogsci.toml is
planned without its ``choices`` lines (the user's own files; see its comments).
The R code's identity (``r_code_key``: installed package and script) is held fixed
while planning: a change of the R code is meant to change the keys of the tasks
that run it, and is not what this test guards.

Regenerate the snapshot (only when keys are meant to change, e.g. a new cache
version): ``REPALIGN_WRITE_TASK_KEYS=1 pytest tests/python/test_task_keys.py``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from repalign.config import load_config
from repalign.pipeline import plan_all

ROOT = Path(__file__).resolve().parents[2]
CONFIGS = ROOT / "analysis" / "configs"
SNAPSHOT = Path(__file__).parent / "data" / "task_keys.json"
#: configs that plan without the real-data mirror
OFFLINE = ("demo.toml", "naturalcogsci_registry.toml")
#: configs whose [[stimuli]] folder is the THINGS images (not in the mirror): planned on a stand-in folder
IMAGE_FOLDER = ("human_alignment_models.toml", "naturalcogsci.toml")
WRITE = os.environ.get("REPALIGN_WRITE_TASK_KEYS") == "1"


def _stand_in(name: str, tmp: Path) -> Path:
    """A copy of ``name`` two levels below ``tmp`` whose ``../../data/THINGS`` image
    folders hold four 8×8 BMP images named after THINGS concepts; without ``choices``."""
    from PIL import Image

    for i, concept in enumerate(("aardvark", "abacus", "accordion", "acorn")):
        img = Image.fromarray(np.full((8, 8, 3), 40 * i, np.uint8))
        flat, nested = tmp / "data" / "THINGS" / "images", tmp / "data" / "THINGS" / "object_images" / concept
        flat.mkdir(parents=True, exist_ok=True)
        nested.mkdir(parents=True, exist_ok=True)
        img.save(flat / f"{concept}.bmp")
        img.save(nested / f"{concept}_01b.bmp")
    path = tmp / "analysis" / "configs" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(CONFIGS / name, path)
    path.write_text(re.sub(r"(?m)^choices = .*\n", "", path.read_text()))
    return path


def _keys(name: str, tmp: Path) -> list[str]:
    path = _stand_in(name, tmp) if name in IMAGE_FOLDER else CONFIGS / name
    return sorted(t.key for t in plan_all(load_config(path, output=tmp / "out")))


def _check(name: str, tmp: Path, monkeypatch) -> None:
    import torch

    import repalign.r_stage
    import repalign.rlib

    fixed = lambda: {"installed_version": "fixed", "installed_code": "fixed", "script": "fixed"}  # noqa: E731
    monkeypatch.setattr(repalign.rlib, "r_code_key", fixed)
    monkeypatch.setattr(repalign.r_stage, "r_code_key", fixed)

    if torch.cuda.is_available():  # device = "auto" plans CUDA and its dtype, part of the feature keys
        pytest.skip("the snapshot was planned on a machine without CUDA")
    keys = _keys(name, tmp)
    if WRITE:
        snap = json.loads(SNAPSHOT.read_text()) if SNAPSHOT.is_file() else {}
        snap[name] = keys
        SNAPSHOT.write_text(json.dumps(snap, indent=1, sort_keys=True) + "\n")
        return
    expected = json.loads(SNAPSHOT.read_text())[name]
    assert len(keys) == len(set(keys))
    missing, extra = sorted(set(expected) - set(keys)), sorted(set(keys) - set(expected))
    assert not missing and not extra, (
        f"{name}: {len(missing)} key(s) gone, e.g. {missing[:3]}; {len(extra)} new, e.g. {extra[:3]}"
    )


def test_snapshot_covers_every_config():
    snap = json.loads(SNAPSHOT.read_text())
    assert sorted(snap) == sorted(p.name for p in CONFIGS.glob("*.toml")), "plan the new config into the snapshot"
    assert all(snap[name] for name in snap)


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_config_keys_unchanged(name, tmp_path, monkeypatch):
    _check(name, tmp_path, monkeypatch)


@pytest.mark.data
@pytest.mark.parametrize("name", sorted(p.name for p in CONFIGS.glob("*.toml") if p.name not in OFFLINE))
def test_data_config_keys_unchanged(name, tmp_path, monkeypatch):
    _check(name, tmp_path, monkeypatch)
