"""The study models without a library registry (repalign.models.published): every one
resolves with metadata; every loader reads a checkpoint written in its publisher's key
layout (random weights, planted here), converts it, loads it and extracts features for
two images; weights are checked and never downloaded while loading.

Planted truths: the random weights written in the published layout must come back in
the loaded module (each tensor equal), and the features must be what the planted
module computes on the same input."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from repalign.errors import DataError, DatasetNotFoundError, HashMismatchError, ValidationError
from repalign.models import get_spec, list_models, load_model
from repalign.models.checkpoints import FAMILIES, build_slip, convert_slip, load_converted
from repalign.models.published import GLOCAL_BASES, NATURALCOGSCI_LABELS, published_specs
from repalign.models.weights import WEIGHTS, WeightFile, check_file, weight_path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("REPALIGN_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("REPALIGN_OFFLINE", "1")
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def two_images(tmp_path_factory):
    from PIL import Image

    from repalign.features.stimuli import folder_set

    d = tmp_path_factory.mktemp("imgs")
    rng = np.random.default_rng(0)
    for i, side in enumerate((300, 250)):
        (d / "c").mkdir(exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (side, side + 20, 3), dtype=np.uint8)).save(d / "c" / f"img{i}.png")
    return folder_set(d, "two")


def _plant(key: str, obj) -> Path:
    path = weight_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def _features(loaded, stimuli, layers, tmp_path):
    from repalign.features.extractor import extract
    from repalign.features.io import load_features

    paths = extract(
        loaded, stimuli, layers=layers, out_dir=tmp_path / "feat", device="cpu", num_workers=0, progress=False
    )
    return {l: load_features(p).values for l, p in paths.items()}


def _same_weights(module, state):
    own = module.state_dict()
    for k, v in state.items():
        assert torch.equal(own[k], v), k


# ------------------------------------------------------------------ registry


def test_all_46_unlisted_naturalcogsci_models_resolve_with_metadata():
    assert len(NATURALCOGSCI_LABELS) == 46  # 9 SLIP + 17 human-aligned + 9 SSL + 3 CORnet + 2 ecoset + 6 text
    groups = {
        p: sum(n.startswith(p) for n in NATURALCOGSCI_LABELS)
        for p in ("slip/", "glocal/", "harmonization/", "dreamsim/", "ssl/", "cornet/", "ecoset/", "text/")
    }
    assert groups == {
        "slip/": 9,
        "glocal/": 7,
        "harmonization/": 7,
        "dreamsim/": 3,
        "ssl/": 9,
        "cornet/": 3,
        "ecoset/": 2,
        "text/": 6,
    }
    for name in NATURALCOGSCI_LABELS:
        s = get_spec(name)
        assert s.name == name and s.family and s.objective and s.train_data and s.source, name
        assert s.train_size is None or s.train_size > 0, name
        if s.modality == "image":
            assert s.preprocess is not None and s.resolution == s.preprocess.resolution == 224, name
        if s.backend in ("published", "glocal"):
            assert s.weights in WEIGHTS, name
    for name in published_specs():
        assert name in list_models(), name


def test_unknown_published_names_list_the_known_ones():
    with pytest.raises(ValidationError, match="known slip/ models: slip/slip-vit-small"):
        get_spec("slip/slip-vit-huge")
    with pytest.raises(ValidationError, match="gLocal transforms are published for"):
        get_spec("glocal/torchvision/vgg16:IMAGENET1K_V1")


# ------------------------------------------------------------------ loaders


@pytest.mark.parametrize("obj", ["slip", "clip", "simclr"])
def test_slip_small_checkpoints_load_and_extract(obj, cache, two_images, tmp_path):
    torch.manual_seed(1)
    planted = build_slip(f"{obj}-small")
    sd = {f"module.{k}": v for k, v in planted.state_dict().items()}
    if obj == "simclr":  # the SimCLR head of the published file is not part of the image encoder
        sd["module.image_mlp.layer1.weight"] = torch.zeros(4096, 384)
    else:  # the CLIP text tower travels in the same file
        sd["module.transformer.resblocks.0.attn.in_proj_weight"] = torch.zeros(1536, 512)
        sd["module.logit_scale"] = torch.tensor(1.0)
    _plant(f"slip-{obj}-small", {"state_dict": sd, "args": None, "epoch": 25})
    loaded = load_model(f"slip/{obj}-vit-small")
    _same_weights(loaded.module, planted.state_dict())
    feats = _features(loaded, two_images, ["output", "visual.blocks.11"], tmp_path)
    d = 384 if obj == "simclr" else 512
    assert feats["output"].shape == (2, d)
    assert feats["visual.blocks.11"].shape == (2, 384)  # auto pooling of (2, 197, 384)
    x = torch.stack([loaded.transform(two_images.load_image(i)) for i in range(2)])
    with torch.inference_mode():
        np.testing.assert_allclose(feats["output"], planted.eval()(x).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("arch", ["slip-base", "clip-base", "simclr-base", "slip-large", "clip-large", "simclr-large"])
def test_slip_base_and_large_key_layouts_convert(arch):
    """The published layout of the bigger towers, built one block deep (same key names per block)."""
    torch.manual_seed(2)
    planted = build_slip(arch, depth=1)
    published = {"state_dict": {f"module.{k}": v for k, v in planted.state_dict().items()}}
    published["state_dict"]["module.image_mlp.layer1.weight"] = torch.zeros(1)
    module = load_converted(build_slip(arch, depth=1), convert_slip(published), arch)
    _same_weights(module, planted.state_dict())
    width = {"base": 768, "large": 1024}[arch.split("-")[1]]
    out = module.eval()(torch.zeros(1, 3, 224, 224))
    assert out.shape == (1, width if arch.startswith("simclr") else 512)
    full = get_spec(f"slip/{arch.split('-')[0]}-vit-{arch.split('-')[1]}")
    assert full.params > 80_000_000


VISSL = ["simclr", "mocov2", "swav", "pirl", "jigsaw", "rotnet"]


@pytest.fixture(scope="module")
def rn50_trunk():
    torch.manual_seed(3)
    return FAMILIES["vissl"][0]("resnet50").eval()


@pytest.mark.parametrize("method", VISSL + ["barlowtwins", "vicreg", "dino"])
def test_self_supervised_resnet50s_load_from_their_published_layouts(method, rn50_trunk, cache, two_images, tmp_path):
    sd = rn50_trunk.state_dict()
    spec = get_spec(f"ssl/{method}-rn50")
    if method in VISSL:
        trunk = {f"_feature_blocks.{k}": v for k, v in sd.items()}
        obj = {
            "classy_state_dict": {"base_model": {"model": {"trunk": trunk, "heads": {"0.weight": torch.zeros(2)}}}},
            "phase_idx": 1,
        }
    else:
        obj = dict(sd)
        if method == "barlowtwins":  # a saved DataParallel module
            obj = {f"module.{k}": v for k, v in sd.items()}
    _plant(spec.weights, obj)
    loaded = load_model(spec.name)
    _same_weights(loaded.module, sd)
    feats = _features(loaded, two_images, ["output", "layer4"], tmp_path)
    assert feats["output"].shape == (2, 2048) and feats["layer4"].shape == (2, 2048)
    assert loaded.spec.params == 23_508_032


@pytest.mark.parametrize("letter", ["z", "r", "s"])
def test_cornets_load_their_published_checkpoints(letter, cache, two_images, tmp_path, monkeypatch):
    from repalign.models import weights as W

    torch.manual_seed(4)
    planted = FAMILIES["cornet"][0](f"cornet-{letter}").eval()
    obj = {"epoch": 20, "state_dict": {f"module.{k}": v for k, v in planted.state_dict().items()}}
    path = _plant(f"cornet-{letter}", obj)
    # the planted file cannot carry the publisher's sha256 prefix: pin it to this file's for the load…
    w = W.WEIGHTS[f"cornet-{letter}"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    monkeypatch.setitem(W.WEIGHTS, w.key, WeightFile(w.key, w.url, w.filename, sha256_prefix=digest[:8]))
    loaded = load_model(f"cornet/cornet-{letter}")
    _same_weights(loaded.module, planted.state_dict())
    feats = _features(loaded, two_images, ["penultimate", "IT.output", "V1"], tmp_path)
    assert feats["penultimate"].shape == (2, 512) and feats["IT.output"].shape == (2, 512)
    assert feats["V1"].shape == (2, 64)
    assert loaded.spec.params == sum(p.numel() for p in planted.parameters())
    # …and the publisher's own prefix rejects it
    monkeypatch.setitem(W.WEIGHTS, w.key, w)
    with pytest.raises(HashMismatchError, match=f"cornet-{letter}.*{w.sha256_prefix}"):
        load_model(f"cornet/cornet-{letter}")


def test_cornet_r_unrolls_five_steps_with_zero_input_above_v1():
    """CORnet-R's recurrence: with every weight of V2…IT zero except biases, the areas'
    outputs depend only on V1 — a planted check that t = 0 feeds zeros above V1."""
    from repalign.models.cornet import CORnetR

    m = CORnetR(times=5).eval()
    assert m(torch.zeros(2, 3, 224, 224)).shape == (2, 1000)
    m2 = CORnetR(times=1).eval()  # one step: V2…IT never see V1, so the image cannot matter
    with torch.inference_mode():
        a = m2(torch.randn(1, 3, 224, 224))
        b = m2(torch.randn(1, 3, 224, 224))
    torch.testing.assert_close(a, b)


@pytest.mark.parametrize("arch,feat", [("resnet50", 2048), ("inception_v3", 2048)])
def test_ecoset_networks_load(arch, feat, cache, two_images, tmp_path):
    torch.manual_seed(5)
    planted = FAMILIES["ecoset"][0](arch).eval()
    _plant(f"ecoset-{arch}", planted.state_dict())
    loaded = load_model(f"ecoset/{arch}")
    _same_weights(loaded.module, planted.state_dict())
    feats = _features(loaded, two_images, ["penultimate", "output"], tmp_path)
    assert feats["penultimate"].shape == (2, feat) and feats["output"].shape == (2, 565)


def _plant_npz(key, d, seed, bias=True):
    rng = np.random.default_rng(seed)
    t = {"weights": rng.normal(size=(d, d)).astype(np.float32), "mean": np.float32(0.3), "std": np.float32(2.0)}
    if bias:
        t["bias"] = rng.normal(size=d).astype(np.float32)
    path = weight_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **t)
    return path, t


@pytest.mark.parametrize("base,d", [("torchvision/resnet18:IMAGENET1K_V1", 512), ("open_clip/RN50:openai", 1024)])
def test_glocal_applies_the_published_transform_to_its_base_features(base, d, cache, two_images, tmp_path, monkeypatch):
    """y = ((x − mean)/std) @ W + b on the base's features (thingsvision / seed formula)."""
    from repalign.models import loading

    name = f"glocal/{base}"
    spec = get_spec(name)
    key = spec.weights
    path, t = _plant_npz(key, d, 6)
    # the transform's sha256 is the publisher's; accept the planted one for this test
    from repalign.models import weights as W

    w = W.WEIGHTS[key]
    monkeypatch.setitem(W.WEIGHTS, key, WeightFile(key, w.url, w.filename))
    base_spec = get_spec(base)
    real = loading._BUILDERS[base_spec.backend]

    def random_base(s):  # the base's library weights stand in as a random twin (no download here)
        from dataclasses import replace

        return real(replace(s, weights=None))

    monkeypatch.setitem(loading._BUILDERS, base_spec.backend, random_base)
    loaded = load_model(name)
    feats = _features(loaded, two_images, ["output", "base"], tmp_path)
    x = feats["base"]
    assert x.shape == (2, d) and feats["output"].shape == (2, d)
    want = ((x - 0.3) / 2.0) @ t["weights"] + t["bias"]
    np.testing.assert_allclose(feats["output"], want, rtol=1e-4, atol=1e-3)


def test_glocal_dinov2_runs_its_base_at_224_pixels():
    s = get_spec("glocal/timm/vit_large_patch14_dinov2.lvd142m")
    assert s.resolution == 224 and get_spec("timm/vit_large_patch14_dinov2.lvd142m").resolution == 518
    assert s.train_size == get_spec("timm/vit_large_patch14_dinov2.lvd142m").train_size
    assert set(GLOCAL_BASES) == {n.split("/", 1)[1] for n in NATURALCOGSCI_LABELS if n.startswith("glocal/")}


def test_glocal_transform_file_lacking_keys_is_named(cache, monkeypatch):
    from repalign.models import weights as W

    key = "glocal-resnet18"
    path = weight_path(key)
    path.parent.mkdir(parents=True)
    np.savez(path, weights=np.eye(3))
    monkeypatch.setitem(W.WEIGHTS, key, WeightFile(key, "u", "transform.npz"))
    from repalign.models.glocal import GLocalTransform

    with pytest.raises(DataError, match=r"lacks key\(s\) \['mean', 'std'\]"):
        GLocalTransform.from_npz(path, "model 'x'")


def test_language_model_pools_the_first_token_of_the_seed_prompt(tmp_path):
    from transformers import BertConfig, BertModel, BertTokenizer

    from repalign.models.language import load_hf, prompt

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "photo", "of", "dog", "hot", "air", "balloon"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizer(str(tmp_path / "vocab.txt"))
    torch.manual_seed(7)
    model = BertModel(
        BertConfig(
            vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
        )
    ).eval()
    model.save_pretrained(tmp_path / "m")
    tok.save_pretrained(tmp_path / "m")
    enc = load_hf(str(tmp_path / "m"))
    sentences = prompt(["dog", "hot air balloon"])
    assert sentences == ["A photo of a dog", "A photo of a hot air balloon"]
    got = enc.encode(sentences)
    ids = tok(sentences, padding=True, return_tensors="pt")
    with torch.inference_mode():
        want = model(**ids).last_hidden_state[:, 0, :].numpy()
    assert got.shape == (2, 32)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ weights: offline, checks, CLI


def test_offline_missing_weights_fail_in_one_line_naming_model_and_source(cache):
    with pytest.raises(DatasetNotFoundError) as e:
        load_model("ssl/swav-rn50")
    msg = str(e.value)
    assert "\n" not in msg and "'ssl/swav-rn50'" in msg and WEIGHTS["vissl-swav-rn50"].url in msg
    assert "repalign models fetch ssl/swav-rn50" in msg


@pytest.mark.parametrize("name", ["harmonization/vgg16", "dreamsim/clip_vitb32", "text/text-embedding-ada-002"])
def test_models_this_zoo_cannot_run_say_where_their_weights_are(name):
    with pytest.raises(DataError, match=f"model '{re.escape(name)}' cannot be run.*weights: "):
        load_model(name)


def test_git_blob_check_matches_git_itself(tmp_path):
    f = tmp_path / "t.npz"
    f.write_bytes(b"gLocal transform bytes\n" * 100)
    blob = subprocess.run(["git", "hash-object", str(f)], capture_output=True, text=True, check=True).stdout.strip()
    check_file(WeightFile("k", "u", "t.npz", git_blob=blob), f)
    with pytest.raises(HashMismatchError, match="git blob id"):
        check_file(WeightFile("k", "u", "t.npz", git_blob="0" * 40), f)
    sha = hashlib.sha256(f.read_bytes()).hexdigest()
    check_file(WeightFile("k", "u", "t.npz", sha256=sha), f)
    with pytest.raises(HashMismatchError, match="sha256"):
        check_file(WeightFile("k", "u", "t.npz", sha256="1" * 64), f)


def test_every_weight_file_names_an_address_and_says_its_check():
    for w in WEIGHTS.values():
        assert w.url.startswith("https://"), w.key
        assert w.check in ("sha256", "sha256-prefix", "git-blob", "none")
    pinned = {k for k, w in WEIGHTS.items() if w.check != "none"}
    assert {"cornet-z", "cornet-r", "cornet-s", "glocal-clip_RN50", "glocal-resnet50"} <= pinned


def test_cli_fetch_checks_every_name_first_and_fails_offline_without_traceback(cache, monkeypatch, capsys):
    import sys

    from repalign.cli import main

    def cli(*args):  # the console entry point, in process: its error handling is what a user sees
        monkeypatch.setattr(sys, "argv", ["repalign", *args])
        with pytest.raises(SystemExit) as e:
            main()
        out = capsys.readouterr()
        return e.value.code, " ".join((out.out + out.err).split())

    code, out = cli("models", "fetch", "ssl/dino-rn50", "no/such-model")
    assert code == 1 and "unknown model 'no/such-model'" in out and "Traceback" not in out
    assert not (cache / "weights").exists()  # nothing started before every name was checked
    code, out = cli("models", "fetch", "ssl/dino-rn50")
    assert code == 1 and "ssl/dino-rn50" in out and "REPALIGN_OFFLINE" in out and "Traceback" not in out


# ------------------------------------------------------------------ the human-alignment model set

HA_MODELS = Path(__file__).resolve().parents[2] / "analysis" / "configs" / "human_alignment_models.toml"


def _ha_entries():
    text = HA_MODELS.read_text()
    return text, re.findall(
        r'^\[\[models\]\]\s+# networks\.csv: ([^,]+), ([\w -]+) ([\d.]+)\nname = "([^"]+)"', text, flags=re.M
    )


def _ha_not_run(text):
    """(networks.csv name, zoo name, kind) of the commented rows: duplicates and metadata-only entries."""
    return [
        (src, name, kind)
        for kind, src, name in re.findall(
            r"^#   (duplicate row|metadata only[^:]*): (\S+) \([\d.]+\) = (\S+?),?(?: listed above)?$", text, flags=re.M
        )
    ]


# networks.csv (LukasMut/human_alignment) param_count, millions, as written there (the rows that
# have one; the self-supervised ResNet-50s' 25.56 counts the classifier their trunks here lack).
NETWORKS_CSV_PARAMS_M = {
    "vgg11": "132.86",
    "vgg13": "133.05",
    "vgg16": "138.36",
    "vgg19": "143.67",
    "resnet18": "11.69",
    "resnet34": "21.8",
    "resnet50": "25.56",
    "resnet101": "44.55",
    "resnet152": "60.19",
    "alexnet": "61",
    "efficientnet_b0": "5.29",
    "efficientnet_b1": "7.79",
    "efficientnet_b2": "9.11",
    "efficientnet_b3": "12.23",
    "efficientnet_b4": "19.34",
    "efficientnet_b5": "30.39",
    "efficientnet_b6": "43.04",
    "efficientnet_b7": "66.35",
    "convnext_tiny": "28.59",
    "convnext_small": "50.22",
    "convnext_base": "88.59",
    "convnext_large": "197.77",
    "vit_b_16": "86.57",
    "vit_b_32": "88.22",
    "vit_l_16": "304.33",
    "resnext50_32x4d": "25.03",
    "resnext101_32x8d": "88.79",
    "vit_tiny_patch16_224": "5.72",
    "vit_small_patch16_224": "22.05",
    "vit_small_patch32_224": "22.88",
    "vit_base_patch16_224": "86.57",
    "vit_base_patch32_224": "88.22",
    "vit_large_patch16_224": "304.33",
    "vit-S_32-i21k": "22.88",
    "vit-B_16-i1k": "86.57",
    "vit-L_16-i1k": "304.33",
    "vit-B_32-i1k": "88.22",
    "vit-S_32-i1k": "22.88",
    "vit-B_32-i21k": "88.22",
    "vit-B_16-i21k": "86.57",
    "vit-L_16-i21k": "304.33",
}


def test_human_alignment_model_set_covers_networks_csv_and_resolves():
    """All 89 networks.csv rows name a zoo entry with metadata: 49 runnable [[models]], 38
    metadata-only (commented), 2 duplicate rows naming the entry they repeat."""
    text, entries = _ha_entries()
    not_run = _ha_not_run(text)
    assert len(entries) == 49 and len(not_run) == 40
    assert sum(k == "duplicate row" for _s, _n, k in not_run) == 2
    assert len({e[0] for e in entries} | {src for src, _n, _k in not_run}) == 89  # the seed's networks.csv rows
    runnable = {e[3] for e in entries}
    for src, name, kind in not_run:
        if kind == "duplicate row":
            assert name in runnable, src
        else:
            assert name not in runnable and get_spec(name).backend == "external", name
    for name in runnable | {n for _s, n, _k in not_run}:
        s = get_spec(name)
        assert s.family and s.objective and s.train_data and s.source and s.modality == "image", name
        assert s.train_size, name  # every training set of the study has a published size
        # a parameter count, or the source says why there is none
        assert s.params or "not counted" in s.source or "no architecture here" in s.source, name
    # the parameter counts agree with the seed's own table, to the decimals it gives
    checked = 0
    for src, name in [(e[0], e[3]) for e in entries] + [(src, n) for src, n, k in not_run if k != "duplicate row"]:
        if src in NETWORKS_CSV_PARAMS_M:
            want = NETWORKS_CSV_PARAMS_M[src]
            decimals = len(want.split(".")[1]) if "." in want else 0
            assert round(get_spec(name).params / 1e6, decimals) == float(want), (src, name, get_spec(name).params)
            checked += 1
    assert checked == len(NETWORKS_CSV_PARAMS_M)


@pytest.mark.parametrize(
    "name", ["google/resnet_v1_50_tpu_sigmoid_seed0", "google/vit-G_14_224", "augreg/vit-B_16-i21k"]
)
def test_human_alignment_metadata_only_models_fail_in_one_line_saying_why(name, cache):
    with pytest.raises(DataError) as e:
        load_model(name)
    msg = str(e.value)
    assert "\n" not in msg and f"model {name!r} cannot be run" in msg
    assert ("never published" in msg) if name.startswith("google/") else ("vit_models/augreg" in msg)


def test_human_alignment_parameter_counts_are_the_named_architectures():
    """Recount three metadata-only entries on the meta device (no weights, no memory)."""
    import timm
    import torchvision.models as tm

    with torch.device("meta"):
        counts = {
            "google/resnet_v1_101_tpu-retrained-no_ls": tm.resnet101(),
            "google/inception_v4-retrained-no_ls-no_dropout-no_aux": timm.create_model("inception_v4"),
            "augreg/vit-S_32-i1k": timm.create_model("vit_small_patch32_224"),
        }
        for name, m in counts.items():
            assert sum(p.numel() for p in m.parameters()) == get_spec(name).params, name


def test_human_alignment_torchvision_mapping_matches_the_published_accuracies():
    """networks.csv's ImageNet top-1 (quoted in the config) against torchvision's weight
    metadata: the DEFAULT weights thingsvision used are the ones the study evaluated."""
    import torchvision.models as tm

    _text, entries = _ha_entries()
    tv = [(src, float(acc), name) for src, what, acc, name in entries if name.startswith("torchvision/")]
    assert len(tv) == 28
    close = 0
    for src, acc, name in tv:
        arch, tag = name.split("/", 1)[1].split(":")
        assert arch == src
        meta = tm.get_model_weights(arch)[tag].meta["_metrics"]["ImageNet-1K"]["acc@1"]
        others = [w.meta["_metrics"]["ImageNet-1K"]["acc@1"] for w in tm.get_model_weights(arch)]
        assert abs(meta - acc) == min(abs(o - acc) for o in others), name  # the nearest published weights
        close += abs(meta - acc) < 0.02
    assert close == 27  # resnext101_32x8d: 82.89 vs IMAGENET1K_V2's 82.834


def test_human_alignment_model_config_plans_once_the_images_key_points_at_images(tmp_path, real_data):
    from PIL import Image

    from repalign.config import load_config
    from repalign.pipeline import plan_all

    images = tmp_path / "images"
    images.mkdir()
    for f in ("aardvark", "abacus"):
        Image.new("RGB", (8, 8)).save(images / f"{f}.jpg")
    text = HA_MODELS.read_text()
    assert text.count('path = "../../data/THINGS/images"') == 1
    text = text.replace('path = "../../data/THINGS/images"', f'path = "{images}"')
    cfg = tmp_path / "ha.toml"
    cfg.write_text(text.replace('output = "../../results/human_alignment_models"', 'output = "out"'))
    tasks = plan_all(load_config(cfg))
    stages = {}
    for t in tasks:
        if not t.key.startswith("decode:"):  # the shared decoded images (features/decoded.py) are not a model's
            stages[t.stage] = stages.get(t.stage, 0) + 1
    assert stages["features"] == 49 and stages["metrics"] == 49


def test_open_clip_parameter_counts_are_the_image_tower_as_open_clip_publishes_them():
    """models.csv's open_clip params: the image tower, counted; each row quotes open_clip's
    docs/model_profile.csv image_mparams, which the count must round to; two towers are
    recounted here on the meta device (no memory, no weights)."""
    import open_clip
    from open_clip.model import _build_vision_tower

    from repalign.models import curated

    rows = {n: r for n, r in curated().items() if n.startswith("open_clip/")}
    quoted = 0
    for n, r in rows.items():
        m = re.search(r"image_mparams ([\d.]+)\)", r.get("source", ""))
        if r.get("params"):
            assert m, n
            assert round(r["params"] / 1e6, 2) == float(m.group(1)), n
            quoted += 1
    assert quoted >= 10
    study = [
        "open_clip/ViT-L-14:openai",
        "open_clip/ViT-B-16:openai",
        "open_clip/ViT-B-32:openai",
        "open_clip/RN50x4:openai",
        "open_clip/RN101:openai",
        "open_clip/RN50:openai",
        "open_clip/ViT-H-14:laion2b_s32b_b79k",
        "open_clip/ViT-g-14:laion2b_s12b_b42k",
        "open_clip/ViT-L-14:laion400m_e32",
        "open_clip/ViT-B-32:laion400m_e32",
    ]
    assert all(rows[n].get("params") for n in study)  # the naturalcogsci rows enter ρ(params)
    for arch in ("RN50", "ViT-B-32"):
        cfg = open_clip.get_model_config(arch)
        with torch.device("meta"):
            tower = _build_vision_tower(cfg["embed_dim"], cfg["vision_cfg"], quick_gelu=cfg.get("quick_gelu", False))
        assert sum(p.numel() for p in tower.parameters()) == rows[f"open_clip/{arch}:openai"]["params"]


def test_language_model_not_in_the_hf_cache_fails_in_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # an empty cache
    with pytest.raises(DataError) as e:
        load_model("text/distilbert-base-uncased")
    msg = str(e.value)
    assert "\n" not in msg and "'text/distilbert-base-uncased'" in msg and "distilbert-base-uncased" in msg
    assert "repalign models fetch text/distilbert-base-uncased" in msg


def test_open_clip_weights_not_cached_offline_fail_in_one_line_without_a_logged_error(
    monkeypatch, tmp_path, capfd, caplog
):
    """A human_alignment CLIP entry offline with an empty hub cache: one line naming the
    model and how to fetch its weights, and no 'Failed to download' log line around it."""
    import huggingface_hub.constants as hc

    monkeypatch.setenv("REPALIGN_OFFLINE", "1")
    monkeypatch.setattr(hc, "HF_HUB_CACHE", str(tmp_path / "hub"))  # an empty cache
    with pytest.raises(DataError) as e:
        load_model("open_clip/RN50:openai")
    msg = str(e.value)
    assert "\n" not in msg and "'open_clip/RN50:openai'" in msg and "pretrained='openai'" in msg
    err = capfd.readouterr().err
    assert "Failed to download" not in err, err
    assert not [r for r in caplog.records if "Failed to download" in r.getMessage()]
