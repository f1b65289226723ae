"""GPU decoding (``[[models]] decode = "gpu"``), checked without a GPU: which images take
the GPU path (planted: files written as baseline, progressive, grey, CMYK JPEG, PNG,
truncated), the decoder a plan selects, the keys (GPU-decoded pixels never share a key
with PIL's), and the store written by the GPU code path run on torch's CPU device:
fallback images equal today's CPU path exactly, decoded ones stay close to it."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from repalign.config import load_config
from repalign.errors import ValidationError
from repalign.features import extract, folder_set, load_features
from repalign.features.decoded import apply_geometry, split_transform, store_key, store_path, write_store
from repalign.features.extractor import cache_key
from repalign.features.gpu_decode import gpu_decodable, select_decoder
from repalign.models import get_spec, planned_transform
from repalign.pipeline.plan import plan_stage

MODEL = "random:torchvision/mobilenet_v3_small"


def _picture(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([xx * 255 / w, yy * 255 / h, (xx + yy) * 127 / (h + w)], axis=2)
    return np.clip(base + rng.normal(0, 10, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """One file of each kind, named by what it is."""
    root = tmp_path_factory.mktemp("mixed")
    a = _picture(300, 420, 0)
    Image.fromarray(a).save(root / "a_baseline.jpg", quality=90)
    Image.fromarray(_picture(360, 300, 1)).save(root / "b_baseline.jpg", quality=80)
    Image.fromarray(a).save(root / "c_progressive.jpg", quality=90, progressive=True)
    Image.fromarray(a).convert("L").save(root / "d_grey.jpg", quality=90)
    Image.fromarray(a).convert("CMYK").save(root / "e_cmyk.jpg", quality=90)
    Image.fromarray(a).save(root / "f_png.png")
    return root


def test_which_images_the_gpu_path_takes(mixed):
    want = {
        "a_baseline.jpg": None,
        "b_baseline.jpg": None,
        "c_progressive.jpg": "progressive JPEG",
        "d_grey.jpg": "grey JPEG",
        "e_cmyk.jpg": "CMYK",
        "f_png.png": "not a JPEG",
    }
    for name, why in want.items():
        got = gpu_decodable((mixed / name).read_bytes())
        assert (got is None) if why is None else (why in got), (name, got)
    assert gpu_decodable(b"\xff\xd8\xff") == "unreadable JPEG header"
    assert gpu_decodable(b"") == "not a JPEG"
    head = (mixed / "a_baseline.jpg").read_bytes()[:20]  # cut inside the header segments
    assert gpu_decodable(head) == "unreadable JPEG header"


def test_the_decoder_a_plan_selects():
    assert select_decoder("cpu", "cuda") == "cpu"
    assert select_decoder("auto", "cpu") == "cpu" and select_decoder("auto", "cuda:1") == "gpu"
    assert select_decoder("gpu", "cuda") == "gpu"
    with pytest.raises(ValidationError, match="needs the features to be computed on a CUDA device.*'cpu'"):
        select_decoder("gpu", "cpu")
    with pytest.raises(ValidationError, match="unknown decode 'nvjpeg'"):
        select_decoder("nvjpeg", "cuda")


def test_gpu_decoded_pixels_have_their_own_keys():
    g = (("resize", "shorter", 256, "bilinear", None), ("center_crop", 224, 224))
    h = "a" * 64
    assert store_key(g, h) == store_key(g, h, "cpu") != store_key(g, h, "gpu")
    spec = get_spec(MODEL)
    assert cache_key(spec, "penultimate", "auto", h) == cache_key(spec, "penultimate", "auto", h, "float32", "cpu")
    assert cache_key(spec, "penultimate", "auto", h) != cache_key(spec, "penultimate", "auto", h, "float32", "gpu")


def test_store_written_by_the_gpu_code_path_falls_back_per_image(tmp_path, mixed):
    import shutil

    import pyarrow.parquet as pq

    folder = tmp_path / "imgs"
    shutil.copytree(mixed, folder)
    data = (folder / "b_baseline.jpg").read_bytes()
    (folder / "g_truncated.jpg").write_bytes(data[: len(data) // 2])  # header fine, data cut
    s = folder_set(folder, "m")
    split = split_transform(planned_transform(get_spec(MODEL)))
    key = store_key(split.geometry, s.manifest_hash(), "gpu")
    path = write_store(s, split.geometry, store_path(tmp_path, "m", key), key, decoder="gpu", device="cpu")
    t = pq.read_table(path)
    rows = dict(zip(t.column("stimulus_id").to_pylist(), range(t.num_rows)))
    for sid, i in rows.items():
        err = t.column("error")[i].as_py()
        j = list(s.ids).index(sid)
        if sid == "g_truncated":  # the GPU path rejects it; the CPU path decides, as today
            try:
                want = apply_geometry(s.load_image(j), split.geometry)
            except Exception:
                assert "g_truncated" in err
                continue
        else:
            assert not err, (sid, err)
            want = apply_geometry(s.load_image(j), split.geometry)
        got = np.frombuffer(t.column("pixels")[i].as_buffer(), np.uint8).reshape(want.shape)
        if sid.endswith("baseline"):  # decoded + resized by torch: close to PIL, its own numbers
            diff = np.abs(got.astype(int) - want.astype(int))
            assert diff.mean() < 3 and diff.max() < 64, (sid, diff.mean(), diff.max())
        else:  # every other kind took today's CPU path: PIL's pixels exactly
            assert np.array_equal(got, want), sid
    # features read from it carry the GPU key; a CPU store will not do for them
    out = extract(
        MODEL,
        s,
        out_dir=tmp_path / "f",
        batch_size=4,
        device="cpu",
        progress=False,
        skip_bad=True,
        decoded=path,
        decode="gpu",
    )["penultimate"]
    assert out.name.endswith(
        f"{cache_key(get_spec(MODEL), 'penultimate', 'auto', s.manifest_hash(), 'float32', 'gpu')[:12]}.parquet"
    )
    assert load_features(out).meta["decoder"] == "gpu"
    cpu_key = store_key(split.geometry, s.manifest_hash())
    cpu_store = write_store(s, split.geometry, store_path(tmp_path, "m", cpu_key), cpu_key)
    with pytest.raises(ValidationError, match="decode='gpu'.*has key"):
        extract(
            MODEL,
            s,
            out_dir=tmp_path / "g",
            batch_size=4,
            device="cpu",
            progress=False,
            skip_bad=True,
            decoded=cpu_store,
            decode="gpu",
        )


def _config(tmp_path, folder, decode: str, device: str, n_models: int = 1):
    models = ["random:torchvision/mobilenet_v3_small", "random:torchvision/shufflenet_v2_x0_5"][:n_models]
    extra = 'dtype = "bfloat16"\n' if device.startswith("cuda") else ""
    p = tmp_path / f"{decode}-{device}-{n_models}.toml"
    p.write_text(
        f'[run]\noutput = "o"\n[[stimuli]]\nname = "m"\nsource = "folder"\npath = "{folder}"\n'
        + "".join(f'[[models]]\nname = "{m}"\ndecode = "{decode}"\ndevice = "{device}"\n{extra}' for m in models)
    )
    return load_config(p)


def test_plan_with_gpu_decoding(tmp_path, mixed):
    with pytest.raises(ValidationError, match=r"\[\[models\]\] #1.*decode = \"gpu\" needs.*CUDA"):
        plan_stage(_config(tmp_path, mixed, "gpu", "cpu"), "features")
    # planning for GPU workers on this machine: one model gets a store decoded on the GPU
    gpu = plan_stage(_config(tmp_path, mixed, "gpu", "cuda"), "features")
    decode = [t for t in gpu if t.key.startswith("decode:")]
    assert len(decode) == 1 and decode[0].kwargs["decoder"] == "gpu" and "JPEGs on the GPU" in decode[0].label
    feats = [t for t in gpu if t.key.startswith("features:")]
    assert feats[0].kwargs["decode"] == "gpu" and feats[0].deps == (decode[0].key,)
    cpu = plan_stage(_config(tmp_path, mixed, "cpu", "cuda"), "features")
    assert not any(t.key.startswith("decode:") for t in cpu) and "decode" not in cpu[0].kwargs
    assert cpu[0].outputs[0].name != feats[0].outputs[0].name  # other pixels, other file
    # auto on a CPU plan is today's plan: same tasks, same files
    auto_cpu = plan_stage(_config(tmp_path, mixed, "auto", "cpu", 2), "features")
    today = plan_stage(_config(tmp_path, mixed, "cpu", "cpu", 2), "features")
    assert [(t.key, t.outputs) for t in auto_cpu] == [(t.key, t.outputs) for t in today]
    assert not any("decoder" in t.kwargs for t in today)
