"""Benchmark: the GPU path — feature extraction at fp32 and fp16 and the torch learners
on CUDA — or, without a GPU, the same code on the CPU (torch device "cpu") with small
models, saying so on its first line. ``make bench-gpu`` runs it.

* extraction: ResNet-50 (``random:torchvision/resnet50``: random initialisation, the
  same arithmetic as the trained weights, no download) on the learning-dynamics PNGs
  (wichmann-lab+supervised-learning-dynamics under $REPALIGN_DATA_DIR; synthetic PNGs
  when absent), batch 128, fp32 and fp16: (a) the forward pass alone on a pre-loaded
  batch — the limit; (b) ``repalign.features.extract`` end to end (decode, preprocess,
  hooks, Parquet); the ratio (b)/(a); and max |Δ| of the fp16 features against fp32
  (relative to the features' scale). Without CUDA: EfficientNet-Lite0 (offline
  weights), batch 16, fp32 only (repalign computes in float32 on the CPU).
* learners: the batched torch solvers (``backend="torch"``) of the category and reward
  learners on the device against the numba CPU kernels (``backend="cpu"``) on the same
  inputs: time of each, the ratio from this run, and max |Δ| of the outputs (stated
  tolerance 1e-6: both solve to ~1e-6 in the logits). On a CPU-only machine the torch
  path runs on torch's CPU device: this checks the code path, not GPU speed.
* GPU decoding (``decode = "gpu"``, issue #31): the decode task of 512 synthetic JPEGs
  (1024×768) with nvJPEG against the CPU decode task (PIL on every CPU), images/s of
  each, and how far the GPU path's pixels, features and RDM (Spearman r) are from the
  CPU path's. Without CUDA: 48 JPEGs, the same code with torchvision's libjpeg on the
  CPU standing in for nvJPEG (so its speed and differences say nothing of nvJPEG's).
* learners across models (``repalign.learners.across_models``): 16 models × 64 tasks
  (widths 384/768) per model on the CPU kernels against one batched torch solve on the
  device, the ratio, max |Δ|, and the back-end the rule picks. Without CUDA: 3 × 2
  tasks on torch's CPU device (the code path, not GPU speed).

Run: ``REPALIGN_DATA_DIR=… .venv/bin/python bench/gpu.py [--images N]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

TOL = 1e-6  # torch vs CPU kernels: both solve each fit to ~1e-6 in the logits


def _images(n: int, tmp: Path) -> Path:
    root = os.environ.get("REPALIGN_DATA_DIR")
    if root:
        src = Path(root) / "wichmann-lab+supervised-learning-dynamics"
        pngs = sorted(src.rglob("*.png"))[:n]
        if pngs:
            out = tmp / "pngs"
            out.mkdir()
            for i, p in enumerate(pngs):
                (out / f"img{i:05d}.png").symlink_to(p)
            return out
    _load_bench("extract").make_images(tmp / "pngs", n)
    return tmp / "pngs"


def bench_extraction(name: str, folder: Path, dev: torch.device, batch: int, dtypes, tmp: Path) -> None:
    from repalign.features import extract, folder_set
    from repalign.features.extractor import _Capture, _forward_batch
    from repalign.models import load_model

    m = load_model(name)
    m.module.to(dev)
    stim = folder_set(str(folder), "bench")
    n = len(stim.ids) if hasattr(stim, "ids") else batch
    x = torch.stack([m.transform(stim.load_image(i % n)) for i in range(batch)]).to(dev)
    feats = {}
    for dtype in dtypes:
        cap = _Capture(m.module, m.spec, [m.spec.default_layer], "auto")
        _forward_batch(m.module, x, cap, dev, dtype)  # warm-up
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        reps = 3
        for _ in range(reps):
            out = _forward_batch(m.module, x, cap, dev, dtype)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        fwd = reps * batch / (time.perf_counter() - t)
        feats[dtype] = next(iter(out.values()))
        cap.remove()
        t = time.perf_counter()
        extract(m, stim, out_dir=tmp / f"out-{dtype}", batch_size=batch, device=dev, progress=False, dtype=dtype)
        e2e = n / (time.perf_counter() - t)
        print(
            f"extraction {name} {dtype:9s} batch {batch}: forward {fwd:8.1f} img/s | extract() {e2e:8.1f} img/s "
            f"({n} images) -> {e2e / fwd:4.2f} of the forward-only limit",
            flush=True,
        )
    if len(feats) == 2:
        a, b = (np.asarray(v, dtype=np.float64) for v in feats.values())
        print(f"extraction {dtypes[1]} vs float32: max|Δ| / max|feature| = {np.abs(a - b).max() / np.abs(a).max():.1e}")


def bench_learners(dev: torch.device, B: int, d: int) -> None:
    from repalign.learners import DEFAULT_C_GRID
    from repalign.learners.category import category_probabilities
    from repalign.learners.reward import reward_values

    rng = np.random.default_rng(0)
    T = 120
    X = rng.normal(size=(B, T, d))
    y = (X[:, :, :3].sum(-1) + rng.normal(size=(B, T)) > 0).astype(np.int64)
    Xr = rng.normal(size=(B, 60, 2, d))
    R = Xr[..., :3].sum(-1) + rng.normal(size=(B, 60, 2))
    runs = {
        "category (17 C sequences)": lambda Xt, yt, backend: category_probabilities(
            Xt, yt, DEFAULT_C_GRID, backend=backend
        )[0],
        "reward (BayesianRidge)": lambda Xt, yt, backend: reward_values(Xt, yt, backend=backend),
    }
    inputs = {"category (17 C sequences)": (X, y), "reward (BayesianRidge)": (Xr, R)}
    for label, fn in runs.items():
        a, b = inputs[label]
        fn(torch.as_tensor(a[:1, :10]), torch.as_tensor(b[:1, :10]), "cpu")  # load the numba kernels
        t = time.perf_counter()
        ref = fn(torch.as_tensor(a), torch.as_tensor(b), "cpu").cpu().numpy()
        cpu_s = time.perf_counter() - t
        fn(torch.as_tensor(a[:1, :10]).to(dev), torch.as_tensor(b[:1, :10]).to(dev), "torch")  # warm-up
        t = time.perf_counter()
        out = fn(torch.as_tensor(a).to(dev), torch.as_tensor(b).to(dev), "torch")
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dev_s = time.perf_counter() - t
        diff = float(np.nanmax(np.abs(out.cpu().numpy() - ref)))
        print(
            f"learner {label:26s} {B} tasks, d={d}: CPU kernels {cpu_s:7.2f} s ({torch.get_num_threads()} threads) | "
            f"torch on {dev.type} {dev_s:7.2f} s -> {cpu_s / dev_s:5.2f}x | max|Δ| {diff:.1e} "
            f"({'within' if diff <= TOL else 'OVER'} {TOL:.0e})",
            flush=True,
        )


def _load_bench(name: str):
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).with_name(f"{name}.py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[f"bench_{name}"] = mod
    spec.loader.exec_module(mod)
    return mod


def bench_gpu_decode(name: str, dev: torch.device, n: int, batch: int, tmp: Path) -> None:
    """The decode task with JPEGs decoded on ``dev`` (``decode = "gpu"``) against the CPU
    decode task (PIL, DataLoader workers): images/s of each, max |Δ| of the pixels and of
    the features, and the Spearman correlation of the two RDMs (1 − Pearson r)."""
    from scipy.stats import spearmanr

    from repalign.features import extract, folder_set, load_features
    from repalign.features.decoded import split_transform, store_key, store_path, write_store
    from repalign.features.extractor import available_cpus
    from repalign.models import load_model

    folder = tmp / "jpegs"
    _load_bench("extract_shared").make_jpegs(folder, n, 1024, 768)
    s = folder_set(folder, "jpegs")
    m = load_model(name)
    split = split_transform(m.transform)
    stores, rates = {}, {}
    for decoder in ("cpu", "gpu"):
        key = store_key(split.geometry, s.manifest_hash(), decoder)
        t = time.perf_counter()
        stores[decoder] = write_store(
            s,
            split.geometry,
            store_path(tmp / decoder, "jpegs", key),
            key,
            num_workers=available_cpus(),
            decoder=decoder,
            device=dev,
        )
        if dev.type == "cuda":
            torch.cuda.synchronize()
        rates[decoder] = n / (time.perf_counter() - t)
    import pyarrow.parquet as pq

    px = {
        d: np.stack([np.frombuffer(b.as_buffer(), np.uint8) for b in pq.read_table(p).column("pixels")]).astype(int)
        for d, p in stores.items()
    }
    feats = {
        d: load_features(
            extract(
                m, s, out_dir=tmp / f"f-{d}", batch_size=batch, device=dev, progress=False, decoded=stores[d], decode=d
            )[m.spec.default_layer]
        ).values.astype(np.float64)
        for d in stores
    }
    rdm = {d: 1 - np.corrcoef(f)[np.triu_indices(n, 1)] for d, f in feats.items()}
    where = "nvJPEG on the GPU" if dev.type == "cuda" else "torchvision's libjpeg on the CPU (NOT nvJPEG: a stand-in)"
    print(
        f"decode {n} JPEGs 1024×768 for {name}: CPU path (PIL, {available_cpus()} workers) {rates['cpu']:7.1f} img/s | "
        f"GPU path via {where} {rates['gpu']:7.1f} img/s -> {rates['gpu'] / rates['cpu']:4.2f}x",
        flush=True,
    )
    print(
        f"decode gpu vs cpu: pixels mean |Δ| {np.abs(px['gpu'] - px['cpu']).mean():.2f}, max |Δ| "
        f"{np.abs(px['gpu'] - px['cpu']).max()} (of 255); features max |Δ| / max |feature| "
        f"{np.abs(feats['gpu'] - feats['cpu']).max() / np.abs(feats['cpu']).max():.1e}; "
        f"RDM Spearman r {spearmanr(rdm['gpu'], rdm['cpu'])[0]:.4f}",
        flush=True,
    )


def bench_learners_across_models(dev: torch.device, models: int, B: int, d: int) -> None:
    """Category and reward learners for ``models`` models × ``B`` tasks: per model on the
    CPU kernels against one batched torch solve on ``dev`` (``learners.across_models``)."""
    from repalign.learners import DEFAULT_C_GRID
    from repalign.learners.across_models import category_probabilities_models, choose_backend, reward_values_models

    rng = np.random.default_rng(0)
    T = 120
    y = torch.as_tensor((rng.normal(size=(B, T)) > 0).astype(np.int64))
    X = [torch.as_tensor(rng.normal(size=(B, T, d // (1 + k % 2)))) for k in range(models)]
    R = torch.as_tensor(rng.normal(size=(B, 60, 2)))
    Xr = [torch.as_tensor(rng.normal(size=(B, 60, 2, d // (1 + k % 2)))) for k in range(models)]
    runs = {
        "category": (
            lambda xs, yy, be: [p for p, _ in category_probabilities_models(xs, yy, DEFAULT_C_GRID, backend=be)],
            X,
            y,
        ),
        "reward": (lambda xs, rr, be: reward_values_models(xs, rr, backend=be), Xr, R),
    }
    for kind, (fn, xs, yy) in runs.items():
        fn([x[:1, :10] for x in xs[:1]], yy[:1, :10], "cpu")  # load the numba kernels
        t = time.perf_counter()
        ref = fn(xs, yy, "cpu")
        cpu_s = time.perf_counter() - t
        xd, yd = [x.to(dev) for x in xs], yy.to(dev)
        fn([x[:1, :10] for x in xd[:1]], yd[:1, :10], "torch")  # warm-up
        t = time.perf_counter()
        out = fn(xd, yd, "torch")
        if dev.type == "cuda":
            torch.cuda.synchronize()
        dev_s = time.perf_counter() - t
        diff = max(float(np.nanmax(np.abs(o.cpu().numpy() - r.numpy()))) for o, r in zip(out, ref))
        print(
            f"learner {kind:8s} across {models} models × {B} tasks (d {d // 2}/{d}): CPU kernels per model "
            f"{cpu_s:7.2f} s | "
            f"one torch solve on {dev.type} {dev_s:7.2f} s -> {cpu_s / dev_s:5.2f}x | max|Δ| {diff:.1e} "
            f"({'within' if diff <= TOL else 'OVER'} {TOL:.0e}); the rule picks "
            f"{choose_backend(kind, models * B, dev)!r} here",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--images", type=int, default=None, help="images for extract() (default 342 on CUDA, 32 on CPU)")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    if cuda:
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
        model, batch, dtypes, n, B, d = (
            "random:torchvision/resnet50",
            128,
            ("float32", "float16"),
            args.images or 342,
            64,
            768,
        )
    else:
        print(
            "NO GPU: CUDA is not available — the GPU code path runs on torch's CPU device with small models; "
            "these are CPU figures, no GPU figure was measured"
        )
        print("fp16: not measured on the CPU (repalign computes in float32 there)")
        model, batch, dtypes, n, B, d = "efficientnet_lite0", 16, ("float32",), args.images or 32, 2, 64
    with tempfile.TemporaryDirectory() as tmp:
        folder = _images(n, Path(tmp))
        bench_extraction(model, folder, dev, batch, dtypes, Path(tmp))
        gd = Path(tmp) / "gpu-decode"
        gd.mkdir()
        bench_gpu_decode(model, dev, 512 if cuda else 48, batch, gd)
    bench_learners(dev, B, d)
    bench_learners_across_models(dev, *((16, 64, 768) if cuda else (3, 2, 32)))


if __name__ == "__main__":
    main()
