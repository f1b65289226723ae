"""Feature-extraction throughput and memory (CPU), for EfficientNet-Lite0 and a
random-init open_clip ViT-B-32:

  (a) pure forward pass on pre-loaded tensors, batch 32 — the limit;
  (b) end-to-end ``extract()``: image files → decode/preprocess in DataLoader
      workers → hooks → Parquet; ratio (b)/(a), target ≥ 0.9;
  (c) a batch-size-1 per-image loop (decode, preprocess, forward) for comparison;
  (d) peak RSS of a fresh process extracting N and 4N images, target within 10%.

Images: N distinct 256×256 PNGs cut from scikit-image's samples into a temp
folder (no data needed). Run: .venv/bin/python bench/extract.py [--n 64]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = ("efficientnet_lite0", "random:open_clip/ViT-B-32")


def make_images(folder: Path, n: int) -> None:
    from PIL import Image
    from skimage import data

    srcs = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()]
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        src = srcs[i % len(srcs)]
        y = rng.integers(0, src.shape[0] - 256 + 1) if src.shape[0] > 256 else 0
        x = rng.integers(0, src.shape[1] - 256 + 1) if src.shape[1] > 256 else 0
        crop = src[y : y + 256, x : x + 256]
        Image.fromarray(np.ascontiguousarray(crop)).resize((256, 256)).save(folder / f"img{i:05d}.png")


def rss_child(model: str, folder: str, out: str) -> None:
    """Run in a fresh process: extract every image of ``folder``; print peak RSS (MiB)."""
    from repalign.features import extract, folder_set

    extract(model, folder_set(folder, "bench"), out_dir=out, batch_size=32, rows_per_group=32, progress=False)
    print(json.dumps({"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def bench_model(name: str, root: Path, n: int, batch: int) -> dict:
    import torch

    from repalign.features import extract, folder_set
    from repalign.features.extractor import _Capture, _forward_batch
    from repalign.models import load_model

    m = load_model(name)
    stim = folder_set(root / "n", "bench")
    x = torch.stack([m.transform(stim.load_image(i)) for i in range(batch)])
    cap = _Capture(m.module, m.spec, [m.spec.default_layer], "auto")
    dev = torch.device("cpu")
    _forward_batch(m.module, x, cap, dev, "float32")  # warm-up
    t = time.perf_counter()
    done = 0
    while done < n:
        _forward_batch(m.module, x, cap, dev, "float32")
        done += batch
    forward_ips = done / (time.perf_counter() - t)
    cap.remove()

    t = time.perf_counter()
    extract(m, stim, out_dir=root / f"out-{name.replace(':', '_').replace('/', '_')}", batch_size=batch, progress=False)
    e2e_ips = n / (time.perf_counter() - t)

    k = max(8, n // 8)
    t = time.perf_counter()
    with torch.inference_mode():
        for i in range(k):
            m.module(m.transform(stim.load_image(i))[None])
    loop_ips = k / (time.perf_counter() - t)

    rss = {}
    for label, folder in (("N", root / "n"), ("4N", root / "4n")):
        out = subprocess.run(
            [sys.executable, __file__, "--rss-child", name, str(folder), str(root / f"rss-{label}")],
            capture_output=True,
            text=True,
            check=True,
        )
        rss[label] = json.loads(out.stdout.strip().splitlines()[-1])["peak_rss_mib"]
    return {
        "model": name,
        "forward_ips": forward_ips,
        "e2e_ips": e2e_ips,
        "ratio": e2e_ips / forward_ips,
        "bs1_loop_ips": loop_ips,
        "rss_N": rss["N"],
        "rss_4N": rss["4N"],
        "rss_ratio": rss["4N"] / rss["N"],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--rss-child", nargs=3)
    args = ap.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        make_images(root / "n", args.n)
        make_images(root / "4n", 4 * args.n)
        print(f"CPU, {torch.get_num_threads()} torch threads, N = {args.n} images, batch {args.batch}")
        print(
            f"{'model':28s} {'(a) fwd img/s':>13s} {'(b) e2e img/s':>13s} {'b/a':>6s} {'(c) bs1 img/s':>13s} "
            f"{'(d) RSS N MiB':>13s} {'RSS 4N MiB':>10s} {'4N/N':>6s}"
        )
        for name in MODELS:
            r = bench_model(name, root, args.n, args.batch)
            print(
                f"{r['model']:28s} {r['forward_ips']:13.1f} {r['e2e_ips']:13.1f} {r['ratio']:6.2f} "
                f"{r['bs1_loop_ips']:13.1f} {r['rss_N']:13.0f} {r['rss_4N']:10.0f} {r['rss_ratio']:6.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
