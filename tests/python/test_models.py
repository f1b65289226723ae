"""Model zoo: metadata, offline loading, layers, device selection."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from repalign.errors import DataError, ValidationError
from repalign.models import (
    CSV_COLUMNS,
    curated,
    get_spec,
    list_layers,
    list_models,
    load_model,
    random_twin_name,
    resolve_layer,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def lite0():
    return load_model("efficientnet_lite0")


def test_packaged_efficientnet_lite0_classifies_chelsea_as_a_cat(lite0):
    from PIL import Image
    from skimage import data

    module, transform, spec = lite0
    x = transform(Image.fromarray(data.chelsea()))[None]
    with torch.inference_mode():
        logits = module(x)[0]
    assert x.shape == (1, 3, 224, 224)
    assert 281 <= int(logits.argmax()) <= 285  # ImageNet cat classes
    assert spec.params == sum(p.numel() for p in module.parameters()) == 4_652_008


def test_zoo_names_and_metadata():
    names = list_models()
    for n in (
        "efficientnet_lite0",
        "efficientnet_lite1",
        "efficientnet_lite2",
        "minilm",
        "pixels",
        "random:efficientnet_lite0",
    ):
        assert n in names
    s = get_spec("efficientnet_lite1")
    assert (s.backend, s.objective, s.train_data, s.train_size, s.resolution) == (
        "packaged",
        "supervised",
        "ImageNet-1k",
        1_281_167,
        240,
    )
    clip = get_spec("open_clip/ViT-B-32:laion2b_s34b_b79k")
    assert clip.objective == "image-text contrastive" and clip.train_data == "LAION-2B-en"
    assert clip.train_size == 2_320_000_000 and "2210.08402" in clip.source
    assert get_spec("open_clip/ViT-B-32:openai").train_size == 400_000_000
    for n in ("random:open_clip/ViT-B-32", "random:timm/resnet18", "random:efficientnet_lite0", "pixels"):
        r = get_spec(n)
        assert r.train_size == 0 and r.weights is None
    assert get_spec("random:timm/resnet18").objective == "random-init"
    assert get_spec("minilm").modality == "text"
    assert random_twin_name("open_clip/ViT-B-32:openai") == "random:open_clip/ViT-B-32"
    assert len(list_models("open_clip")) == len(__import__("open_clip").list_pretrained())


@pytest.mark.parametrize("bad", ["resnet", "open_clip/ViT-B-32", "open_clip/ViT-B-32:nope", "random:foo", "pixels:0"])
def test_unknown_models_are_named(bad):
    with pytest.raises(ValidationError, match="model|architecture|weights|pixel"):
        get_spec(bad)


def test_models_csv_has_a_source_for_every_size():
    rows = list(csv.DictReader(open(ROOT / "data" / "models.csv")))
    assert set(CSV_COLUMNS) <= set(rows[0])
    assert len({r["name"] for r in rows}) == len(rows)
    for r in rows:
        if r["train_size"]:
            assert r["source"].strip(), r["name"]
        if r["name"].startswith("random:") or r["name"] == "pixels":
            assert r["train_size"] == "0"
    cur = curated()
    assert cur["efficientnet_lite0"]["params"] == 4_652_008
    assert cur["open_clip/ViT-B-32:openai"]["train_size"] == 400_000_000


def test_random_twins_are_seeded_and_differ_from_pretrained(lite0):
    a = load_model("random:efficientnet_lite0").module.state_dict()
    b = load_model("efficientnet_lite0", pretrained=False).module.state_dict()
    w = "_conv_stem.weight"
    assert torch.equal(a[w], b[w])
    assert not torch.equal(a[w], lite0.module.state_dict()[w])


def test_weights_not_offline_name_the_model_and_how_to_download():
    with pytest.raises(DataError, match=r"torchvision/resnet18:IMAGENET1K_V1.*not available offline.*Pre-download"):
        load_model("torchvision/resnet18:IMAGENET1K_V1")
    with pytest.raises(DataError, match=r"open_clip/RN50:openai.*create_model_and_transforms"):
        load_model("open_clip/RN50:openai")


def test_layers_aliases_and_errors(lite0):
    module, _, spec = lite0
    assert resolve_layer(module, spec, "penultimate") == ("_fc", "in")
    assert resolve_layer(module, spec, "output") == ("", "out")
    assert resolve_layer(module, spec, "_blocks.3:in") == ("_blocks.3", "in")
    with pytest.raises(
        ValidationError, match=r"unknown layer '_block.3'.*closest: _blocks.3.*module names.*repalign models layers"
    ):
        resolve_layer(module, spec, "_block.3")
    rows = {r[0]: r for r in list_layers(module, spec)}
    assert rows["_blocks.15"][2] == "320×7×7" and rows["output"][2] == "1000"
    tm = load_model("random:timm/resnet18")
    assert resolve_layer(tm.module, tm.spec, "penultimate") == ("fc", "in")


def test_select_device_logic(monkeypatch):
    from repalign.features import select_device

    assert select_device("cpu") == (torch.device("cpu"), "float32")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert select_device(None) == (torch.device("cpu"), "float32")
    with pytest.raises(ValidationError, match="CUDA is not available"):
        select_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: True)
    assert select_device("auto") == (torch.device("cuda"), "bfloat16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: False)
    assert select_device(None) == (torch.device("cuda"), "float16")


def test_cli_models_list_and_layers():
    from repalign.cli import app

    r = CliRunner().invoke(app, ["models", "list"], env={"COLUMNS": "250"})  # wide enough for every column
    assert r.exit_code == 0, r.output
    assert "efficientnet_lite0" in r.output and "1,281,167" in r.output
    r = CliRunner().invoke(app, ["models", "layers", "pixels:8"])
    assert r.exit_code == 0, r.output
    assert "192" in r.output  # 3·8·8 output values
