"""analysis/configs/naturalcogsci.toml (Demircan et al. 2024, the full study) and its
registry-only companion naturalcogsci_registry.toml.

Facts checked against the source: the paper studies 86 models (arXiv:2306.09377,
abstract); the seed repository's figures/neurips_nll.pdf draws one bar per model,
86 labels. The config lists the ones the zoo can run and names the others in comments;
both counts must add up to 86, every one must resolve in the zoo with metadata, and
every listed model must have a models.csv row whose training-set size has a source.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from repalign.config import load_config
from repalign.errors import ValidationError
from repalign.models.spec import curated
from repalign.pipeline import plan_all

CONFIGS = Path(__file__).resolve().parents[2] / "analysis" / "configs"
FULL = CONFIGS / "naturalcogsci.toml"
REGISTRY = CONFIGS / "naturalcogsci_registry.toml"
PAPER_MODELS = 86  # Demircan et al. 2024, abstract: "86 pretrained neural network models"


def _header(text: str) -> str:
    return "\n".join(line for line in text.splitlines() if line.startswith("#"))


def _models(text: str) -> list[str]:
    return re.findall(r'^\[\[models\]\][^\n]*\nname = "([^"]+)"', text, flags=re.M)


def _named_in_comments(text: str) -> list[str]:
    return re.findall(r'^#\s+(?:text model|not runnable here): "([^"]+)"', text, flags=re.M)


def test_header_counts_add_up_to_the_papers_86():
    text = FULL.read_text()
    head = _header(text)
    listed = int(re.search(r"(\d+) are listed here: (\d+) zoo models \+ SPoSE-49", head).group(1))
    zoo = int(re.search(r"are listed here: (\d+) zoo models", head).group(1))
    named = int(re.search(r"NAMED IN COMMENTS \((\d+)\)", head).group(1))
    assert listed + named == PAPER_MODELS
    models = _models(text)
    assert len(models) == len(set(models)) == zoo
    assert listed == zoo + 1 and 'source = "spose49"' in text  # + "Task" (SPoSE-49)
    commented = _named_in_comments(text)
    assert len(commented) == len(set(commented)) == named and not set(commented) & set(models)
    # the groups the header names add up to the stated number
    groups = re.search(r"NAMED IN COMMENTS \(\d+\),(.*?)Bring their features", head, flags=re.S).group(1)
    groups = re.sub(r"\n#\s*", " ", groups)
    counted = sum(int(n) for n in re.findall(r"(?<![\w-])(\d+) (?:Harmonization|DreamSim|language)", groups))
    assert counted == named


def test_every_model_of_the_study_resolves_with_metadata():
    """All 86: the 85 zoo names (listed or named in comments) resolve, with family,
    objective and a source; the 46 without a library registry are all among them."""
    from repalign.models import get_spec
    from repalign.models.published import NATURALCOGSCI_LABELS

    text = FULL.read_text()
    names = _models(text) + _named_in_comments(text)
    for name in names:
        s = get_spec(name)
        assert s.family and s.objective and s.source, name
    assert len(set(names)) + 1 == PAPER_MODELS
    assert set(NATURALCOGSCI_LABELS) <= set(names)


def test_every_listed_model_has_metadata_with_a_sourced_training_set_size():
    table = curated()
    for name in _models(FULL.read_text()):
        row = table.get(name)
        assert row is not None, f"{name}: no row in models.csv"
        assert row.get("train_size", 0) > 0, f"{name}: no training-set size"
        assert row.get("source"), f"{name}: training-set size without a source"
        assert row.get("objective") and row.get("family"), name


def _paper_format_choices(path: Path, kind: str) -> None:
    """One participant doing condition file 1, every trial, in the seed's format."""
    import pandas as pd

    n = 120 if kind == "category" else 60
    pd.DataFrame({"participant": "p1", "cond_file": 1, "trial": range(n), "choice": [t % 2 for t in range(n)]}).to_csv(
        path, index=False
    )


def test_full_config_plans_once_the_image_folder_key_points_at_images(tmp_path, real_data):
    """The user's step: set the one [[stimuli]] path (and place the human choices)."""
    from PIL import Image

    images = tmp_path / "object_images"
    for f in ("anvil/anvil_08n.jpg", "riser/riser_09s.jpg"):
        (images / f).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(images / f)
    text = FULL.read_text()
    assert text.count('path = "../../data/THINGS/object_images"') == 1  # one key to point
    text = text.replace('path = "../../data/THINGS/object_images"', f'path = "{images}"')
    for kind, task in (("category", "category_learning"), ("reward", "reward_learning")):
        csv = tmp_path / f"{kind}.csv"
        _paper_format_choices(csv, kind)
        rel = f"../../data/naturalcogsci/human_behavioural/{task}/above_chance.csv"
        assert rel in text
        text = text.replace(rel, str(csv))
    cfg_path = tmp_path / "naturalcogsci.toml"
    cfg_path.write_text(text.replace('output = "../../results/naturalcogsci"', 'output = "out"'))
    tasks = plan_all(load_config(cfg_path))
    stages = {}
    for t in tasks:
        if not t.key.startswith("decode:"):  # the shared decoded images (features/decoded.py) are not a model's
            stages[t.stage] = stages.get(t.stage, 0) + 1
    zoo = len(_models(text))
    assert stages["features"] == zoo
    assert stages["learners"] == 2 * zoo + 2  # category + reward per image model, and for SPoSE-49
    assert stages["metrics"] == (zoo + 1) + zoo  # ID of every representation; separation of the image models
    assert stages["r"] == 1
    specs = [t.kwargs["job"].spec for t in tasks if t.stage == "learners"]
    assert all(s.get("variant") == "published" for s in specs)
    assert sorted(s.get("key", "concept") for s in specs) == ["concept"] * 2 + ["path"] * (2 * zoo)


def test_full_config_without_the_images_stops_naming_the_folder(real_data):
    with pytest.raises(ValidationError, match="stimulus folder not found: .*object_images"):
        plan_all(load_config(FULL))


def test_registry_config_plans(real_data):
    tasks = plan_all(load_config(REGISTRY))
    stages = {t.stage for t in tasks}
    assert stages == {"metrics", "learners"}
    learners = [t for t in tasks if t.stage == "learners"]
    assert len(learners) == 4  # (category, reward) × (spose49, random49)


def test_key_path_reads_the_ids_of_a_things_folder_set(tmp_path):
    """key = "path" looks a task image up under the id a [[stimuli]] folder set at THINGS'
    object_images gives it: a planted feature row per image file is found for each trial,
    whether the task stores the image as stimuli/<concept>/<file>.jpg (as the Demircan
    condition files do) or the folder holds it as <concept>/<file>.jpg."""
    import numpy as np
    from PIL import Image

    from repalign.datasets import CategoryTask, Embedding
    from repalign.features.stimuli import folder_set
    from repalign.learners import CategoryLearner

    files = ["anvil/anvil_08n", "riser/riser_09s", "hydrant/hydrant_02s", "anvil/anvil_01b"]
    for f in files:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / f"{f}.jpg")
    stim = folder_set(tmp_path, "things-images")
    rng = np.random.default_rng(0)
    planted = {f: rng.normal(size=3) for f in files}
    by_path = Embedding(stim.ids, np.stack([planted[i] for i in stim.ids]), "by-path")
    by_stem = Embedding(tuple(i.split("/")[1] for i in stim.ids), by_path.values, "by-stem")
    order = [0, 1, 2, 3, 1, 0, 3, 2]
    task = CategoryTask(
        "t1",
        tuple(f"stimuli/{files[i]}.jpg" for i in order),
        tuple(files[i].split("/")[0] for i in order),
        np.array([1, 0, 0, 1, 0, 1, 1, 0]),
    )
    learner = CategoryLearner(key="path")
    assert learner.stimulus_ids(task) == [files[i] for i in order]
    a = learner.simulate(task, by_path)
    b = CategoryLearner(key="image").simulate(task, by_stem)
    assert list(a["stimulus_id"]) == [files[i] for i in order]
    np.testing.assert_array_equal(a["value"].to_numpy(), b["value"].to_numpy())
    with pytest.raises(ValidationError, match="lacks"):
        CategoryLearner(key="path").simulate(task, by_stem)  # stems are not folder ids
