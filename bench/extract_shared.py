"""Decode once (issue #31): three small random-init models that share a preprocessing
(resize 256 bilinear, centre crop 224) on N large JPEGs, through ``repalign features``
(a fresh process each, so imports and model loading count), timed:

  alone:  each model by itself (one model: it decodes its own images, as before);
  today:  the three in one config with ``decode_once = false`` (each decodes every image);
  shared: the three in one config, decoding once into the decoded store.

Prints wall times and CPU seconds (each child process and its DataLoader workers: on a
shared machine the steadier figure), the ratios shared/alone (target ≤ 1.5) and
today/alone of both, the load average, and whether the shared run's features files
equal today's (values and bytes). One run of each; the acceptance of issue #31 is
shared ≤ 1.5 × one model alone. ``--compare-to DIR``: also whether the shared features
equal, byte for byte, the ``today`` features of another checkout's ``--keep DIR`` run
(e.g. main before a change: run this script there with ``PYTHONPATH`` at its sources).

Images: N JPEGs of W×H (default 400 of 1024×768), gradients + noise, in a temp folder.
Run: .venv/bin/python bench/extract_shared.py [--n 400] [--keep DIR] [--breakdown]

--breakdown also times, in this process, the two parts the ratio is made of: decoding
the set once into the store (the DataLoader workers of ``write_store``) and each
model's forward pass alone (batch 64 of pre-decoded images), so a machine where the
forwards dominate (a small or busy CPU) can be told from one where decoding does.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MODELS = (
    "random:torchvision/mobilenet_v3_small",
    "random:torchvision/mnasnet0_5",
    "random:torchvision/shufflenet_v2_x0_5",
)


def make_jpegs(folder: Path, n: int, w: int, h: int) -> None:
    from PIL import Image

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for i in range(n):
        a, b = rng.uniform(0.5, 2, 2)
        base = np.stack([xx * a * 255 / w, yy * b * 255 / h, (xx + yy) * 127 / (h + w)], axis=2) % 256
        noise = rng.normal(0, 20, (h // 8, w // 8, 3)).repeat(8, 0).repeat(8, 1)  # texture at two scales
        img = np.clip(base + noise + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)
        Image.fromarray(img).save(folder / f"img{i:05d}.jpg", quality=90)


def write_config(path: Path, images: Path, out: Path, models, decode_once: bool) -> Path:
    body = [f'[run]\noutput = "{out}"\n\n[[stimuli]]\nname = "big"\nsource = "folder"\npath = "{images}"\n']
    for m in models:
        body.append(f'[[models]]\nname = "{m}"\ndecode_once = {str(decode_once).lower()}\n')
    path.write_text("\n".join(body))
    return path


CPU = {}  # config → CPU seconds (user + system) of the child process and its DataLoader workers


def run_features(config: Path) -> float:
    """Wall seconds of ``repalign features --config`` in a fresh process (its CPU seconds
    go to ``CPU``: on a shared machine they are the steadier figure)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    cli = "import sys; from repalign.cli import main; sys.argv[0] = 'repalign'; main()"  # the `repalign` script
    r = subprocess.run(
        [sys.executable, "-c", cli, "features", "--config", str(config)],
        capture_output=True,
        text=True,
        env=dict(os.environ, REPALIGN_OFFLINE="1", HF_HUB_OFFLINE="1"),
    )
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU[config] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode != 0:
        sys.exit(f"repalign features --config {config} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}")
    return dt


def features_files(out: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(out / "features")): p
        for p in (out / "features").rglob("*.parquet")
        if "_decoded" not in p.parts
    }


def breakdown(images: Path, root: Path) -> None:
    import torch

    from repalign.features import folder_set
    from repalign.features.decoded import apply_tail, split_transform, store_key, store_path, write_store
    from repalign.features.extractor import _Capture, _forward_batch, available_cpus
    from repalign.models import load_model

    s = folder_set(images, "big")
    split = split_transform(load_model(MODELS[0]).transform)
    key = store_key(split.geometry, s.manifest_hash())
    t = time.perf_counter()
    path = write_store(s, split.geometry, store_path(root / "breakdown", "big", key), key, available_cpus())
    decode = time.perf_counter() - t
    print(f"breakdown: decode + resize once {len(s) / decode:7.1f} images/s ({decode:.1f} s for {len(s)})")
    import pyarrow.parquet as pq

    t = pq.read_table(path).slice(0, 64)
    x = torch.from_numpy(
        np.stack([np.frombuffer(b.as_buffer(), np.uint8).reshape(*split.size, 3) for b in t.column("pixels")])
    )
    x = apply_tail(x, split, torch.device("cpu"))
    for m in MODELS:
        lm = load_model(m)
        cap = _Capture(lm.module, lm.spec, [lm.spec.default_layer], "auto")
        _forward_batch(lm.module, x, cap, torch.device("cpu"), "float32")  # warm-up
        t0 = time.perf_counter()
        _forward_batch(lm.module, x, cap, torch.device("cpu"), "float32")
        ips = len(x) / (time.perf_counter() - t0)
        cap.remove()
        print(f"breakdown: forward {m:40s} {ips:7.1f} images/s ({len(s) / ips:.1f} s for {len(s)})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--width", type=int, default=1024)
    ap.add_argument("--height", type=int, default=768)
    ap.add_argument("--keep", type=Path, help="work in this folder (kept) instead of a temp one")
    ap.add_argument("--breakdown", action="store_true", help="also time decoding and each forward pass alone")
    ap.add_argument("--only-breakdown", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--compare-to",
        type=Path,
        help="a --keep folder of another checkout's run: are its today features the shared ones here?",
    )
    args = ap.parse_args()
    load0 = os.getloadavg()[0]

    from repalign.features.extractor import available_cpus
    from repalign.features.io import load_features

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        images = root / "images"
        if not images.is_dir():
            make_jpegs(images, args.n, args.width, args.height)
        print(
            f"{args.n} JPEGs of {args.width}×{args.height}; {available_cpus()} CPUs (affinity); "
            f"models: {', '.join(MODELS)}; default batch and workers",
            flush=True,
        )
        if args.only_breakdown:
            breakdown(images, root)
            return
        alone = {}
        for i, m in enumerate(MODELS):
            alone[m] = run_features(write_config(root / f"alone{i}.toml", images, root / f"out-alone{i}", [m], True))
            print(f"  alone   {m:40s} {alone[m]:7.1f} s  ({CPU[root / f'alone{i}.toml']:.1f} CPU s)", flush=True)
        today = run_features(write_config(root / "today.toml", images, root / "out-today", MODELS, False))
        print(
            f"  today   three, each decoding every image     {today:7.1f} s  ({CPU[root / 'today.toml']:.1f} CPU s)",
            flush=True,
        )
        shared = run_features(write_config(root / "shared.toml", images, root / "out-shared", MODELS, True))
        print(
            f"  shared  three, decoded once                  {shared:7.1f} s  ({CPU[root / 'shared.toml']:.1f} CPU s)",
            flush=True,
        )

        a_today, a_shared = features_files(root / "out-today"), features_files(root / "out-shared")
        same_names = sorted(a_today) == sorted(a_shared) and len(a_today) == len(MODELS)
        same_values = same_names and all(
            np.array_equal(load_features(a_today[k]).values, load_features(a_shared[k]).values) for k in a_today
        )
        same_bytes = same_names and all(a_today[k].read_bytes() == a_shared[k].read_bytes() for k in a_today)
        stores = list((root / "out-shared" / "features" / "_decoded").glob("*.parquet"))
        mean_alone, max_alone = float(np.mean(list(alone.values()))), max(alone.values())
        print(
            f"ratio shared / alone (mean of the three alone) = {shared / mean_alone:.2f}  "
            f"(vs the slowest alone {shared / max_alone:.2f}; target ≤ 1.5)"
        )
        print(f"ratio today  / alone (mean of the three alone) = {today / mean_alone:.2f}")
        cpu_alone = float(np.mean([CPU[root / f"alone{i}.toml"] for i in range(len(MODELS))]))
        print(
            f"CPU seconds: shared / alone = {CPU[root / 'shared.toml'] / cpu_alone:.2f}, "
            f"today / alone = {CPU[root / 'today.toml'] / cpu_alone:.2f}"
        )
        print(f"load average {os.getloadavg()[0]:.1f} at the end ({load0:.1f} at the start)")
        print(f"shared / today = {shared / today:.2f}")
        print(
            f"features: same files {same_names}, values equal {same_values}, bytes equal {same_bytes}; "
            f"decoded store {sum(p.stat().st_size for p in stores) / 2**20:.0f} MiB in {len(stores)} file(s)"
        )
        if args.compare_to:
            other = features_files(args.compare_to / "out-today")
            same = sorted(other) == sorted(a_shared) and all(
                other[k].read_bytes() == a_shared[k].read_bytes() for k in other
            )
            print(f"features: shared equal, byte for byte, to {args.compare_to}/out-today: {same}")
        if args.breakdown:
            breakdown(images, root)


if __name__ == "__main__":
    main()
