"""Decode once: a stimulus set's images after the *geometric* part of a preprocessing
(decode, resize, centre crop — uint8 RGB, before any normalisation), stored once
and read by every model that shares that geometry.

A model's transform is split (``split_transform``) into

* a **geometry**: a JSON-able description of the PIL operations between the decoded
  RGB image and the uint8 array the network input is made of, e.g.
  ``[["resize", "shorter", 256, "bilinear"], ["center_crop", 224, 224]]``;
* a **tail**: ``x.float() / 255``, then ``(x - mean) / std`` per channel.

Recognised transforms: torchvision ``Compose`` of ``Resize``, ``CenterCrop`` (and
open_clip's ``_convert_to_rgb``/``MaybeConvertMode('RGB')``, no-ops on the RGB images stimulus sets return), then
``ToTensor``/``MaybeToTensor`` (timm, open_clip) and ``Normalize`` — what ``spec_transform``,
timm's eval transform and open_clip's ``image_transform`` build — and torchvision's
``ImageClassification`` (the weights' own transforms, whose resize and crop run in PIL
too). Anything else (other steps, an output whose size varies per image) is not
shared: the model decodes its own images, as before.

The tail applied to a batch performs the same float32 operations, element by element,
as ``ToTensor`` + ``Normalize`` (torchvision ``transforms/functional.py``
``to_tensor``, ``_functional_tensor.py`` ``normalize``; ``ImageClassification``:
``convert_image_dtype`` = ``x.float() / 255``, then ``normalize``), so features from
the store equal the per-model path bit for bit on the CPU.

The store: one Parquet file per (stimulus set, geometry), named by a content key
(``store_key``: geometry, the set's manifest hash, Pillow/torchvision versions),
columns ``stimulus_id``, ``height``, ``width``, ``pixels`` (uint8 H×W×3, row-major
bytes), ``error`` (why an image could not be read or resized, else empty); written
and read row group by row group (``ROWS_PER_GROUP`` images, ≈ 38 MiB at 224×224), with
Parquet page checksums verified on reading.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch

from repalign.datasets import StimulusSet
from repalign.errors import ValidationError
from repalign.store import ParquetStream, table_info
from repalign.task import safe_name

DECODED_FORMAT = "1"
ROWS_PER_GROUP = 256
SCHEMA = pa.schema(
    [
        ("stimulus_id", pa.string()),
        ("height", pa.int32()),
        ("width", pa.int32()),
        ("pixels", pa.binary()),
        ("error", pa.string()),
    ]
)
_WRITER_OPTIONS = {"write_page_checksum": True}


@dataclass(frozen=True)
class Split:
    """A transform as geometry (shared) + tail (per model).

    geometry: JSON-able list of steps (see the module docstring); size: (H, W) of
    every output; mean, std: per-channel normalisation of 0–1 RGB."""

    geometry: tuple
    size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]


# --- recognising a transform ------------------------------------------------------------------
def _pair(size: Any) -> tuple[int, int] | None:
    if isinstance(size, int):
        return size, size
    size = list(size)
    if len(size) == 1:
        return int(size[0]), int(size[0])
    if len(size) == 2:
        return int(size[0]), int(size[1])
    return None


def _resize_step(size: Any, interpolation: Any, max_size: Any) -> tuple | None:
    interp = str(getattr(interpolation, "value", interpolation))
    if isinstance(size, int) or len(list(size)) == 1:
        s = size if isinstance(size, int) else int(list(size)[0])
        return ("resize", "shorter", int(s), interp, max_size)
    if len(list(size)) == 2:
        h, w = map(int, size)
        return ("resize", "exact", h, w, interp)
    return None


def _floats(x: Any) -> tuple[float, ...]:
    return tuple(float(v) for v in (x.tolist() if torch.is_tensor(x) else x))


def split_transform(transform: Any) -> Split | None:
    """The geometry and tail of a model's transform, or None when it is not one of the
    recognised forms (the model then decodes its images itself)."""
    from torchvision import transforms as T
    from torchvision.transforms._presets import ImageClassification

    steps: list[tuple] = []
    if isinstance(transform, ImageClassification):
        r = _resize_step(transform.resize_size, transform.interpolation, None)
        crop = _pair(transform.crop_size)
        if r is None or crop is None:
            return None
        steps = [r, ("center_crop", *crop)]
        mean, std = _floats(transform.mean), _floats(transform.std)
    elif isinstance(transform, T.Compose):
        ts = list(transform.transforms)
        k = next((i for i, t in enumerate(ts) if type(t).__name__ in ("ToTensor", "MaybeToTensor")), None)
        if k is None or len(ts) != k + 2 or not isinstance(ts[k + 1], T.Normalize):
            return None
        for t in ts[:k]:
            if isinstance(t, T.Resize):
                r = _resize_step(t.size, t.interpolation, t.max_size)
                if r is None:
                    return None
                steps.append(r)
            elif isinstance(t, T.CenterCrop):
                crop = _pair(t.size)
                if crop is None:
                    return None
                steps.append(("center_crop", *crop))
            elif getattr(t, "__name__", "") == "_convert_to_rgb" or (
                type(t).__name__ == "MaybeConvertMode" and getattr(t, "mode", None) == "RGB"
            ):
                continue  # open_clip's image.convert("RGB"): stimulus sets already return RGB images
            else:
                return None
        mean, std = _floats(ts[k + 1].mean), _floats(ts[k + 1].std)
    else:
        return None
    if not steps:
        return None
    last = steps[-1]
    if last[0] == "center_crop":
        size = (int(last[1]), int(last[2]))
    elif last[1] == "exact":
        size = (int(last[2]), int(last[3]))
    else:
        return None  # shorter-side resize alone: the size varies per image
    return Split(tuple(tuple(s) for s in steps), size, mean, std)


# --- the two halves ---------------------------------------------------------------------------
def apply_geometry(img, geometry: Sequence[Sequence]) -> np.ndarray:
    """PIL RGB image → uint8 (H, W, 3): the same torchvision calls on the PIL image
    as ``T.Resize``/``T.CenterCrop`` (and ``ImageClassification``) make."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as F

    for step in geometry:
        if step[0] == "resize" and step[1] == "shorter":
            img = F.resize(img, int(step[2]), interpolation=InterpolationMode(step[3]), max_size=step[4])
        elif step[0] == "resize":
            img = F.resize(img, [int(step[2]), int(step[3])], interpolation=InterpolationMode(step[4]))
        elif step[0] == "center_crop":
            img = F.center_crop(img, [int(step[1]), int(step[2])])
        else:
            raise ValidationError(f"unknown geometry step {step!r}")
    a = np.array(img, dtype=np.uint8)  # a writable copy (PIL's buffer is read-only)
    if a.ndim != 3 or a.shape[2] != 3:
        raise ValidationError(f"expected an RGB image after the geometry, got an array of shape {a.shape}")
    return a


def apply_tail(x: torch.Tensor, split: Split, device: torch.device) -> torch.Tensor:
    """uint8 (B, H, W, 3) on the host → float32 (B, 3, H, W) network input on ``device``.

    On CUDA the uint8 batch is pinned and copied without blocking (a quarter of the
    float32 bytes) and converted there; the operations are ``ToTensor``'s and
    ``Normalize``'s: ``x.to(float32).div(255)``, ``sub_(mean).div_(std)``."""
    if device.type == "cuda":
        x = x.pin_memory().to(device, non_blocking=True)
    # NCHW contiguous like ToTensor's output (on the CPU, conv kernels may depend on the layout);
    # the layout change and the conversion in one pass, then in place: the same values
    x = x.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format).div_(255)
    mean = torch.as_tensor(split.mean, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    std = torch.as_tensor(split.std, dtype=torch.float32, device=x.device).view(-1, 1, 1)
    return x.sub_(mean).div_(std)


# --- the store --------------------------------------------------------------------------------
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for p in ("Pillow", "torchvision", "numpy"):
        try:
            out[p] = md.version(p)
        except md.PackageNotFoundError:
            out[p] = "none"
    return out


def store_key(geometry: Sequence, stimuli_hash: str, decoder: str = "cpu") -> str:
    """sha256 over what changes the stored pixels: the geometry, the stimulus manifest
    hash (ids + image bytes), the Pillow/torchvision/numpy versions and the format;
    decoder "gpu" (``repalign.features.gpu_decode``: other pixels) adds itself and the
    torch version — the CPU decoder's keys are those of every earlier run."""
    payload = {
        "format": DECODED_FORMAT,
        "geometry": [list(s) for s in geometry],
        "stimuli": stimuli_hash,
        "versions": _versions(),
    }
    if decoder != "cpu":
        payload["decoder"] = {"name": decoder, "torch": torch.__version__}
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def store_path(out_dir: str | Path, stimuli: str, key: str) -> Path:
    """``<out_dir>/_decoded/<stimuli>__<key12>.parquet`` (no model is named ``_decoded``:
    ``safe_name`` drops leading underscores)."""
    return Path(out_dir) / "_decoded" / f"{safe_name(stimuli)}__{key[:12]}.parquet"


class _Geometry(torch.utils.data.Dataset):
    """Stimulus i → (uint8 (H, W, 3) | None, i, error text), for DataLoader workers;
    error texts are the extractor's (``repalign.features.extractor._Images``)."""

    def __init__(self, stimuli: StimulusSet, geometry: Sequence, decoder: str = "cpu"):
        self.stimuli, self.geometry, self.decoder = stimuli, [tuple(s) for s in geometry], decoder

    def __len__(self) -> int:
        return len(self.stimuli)

    def __getitem__(self, i: int):
        if self.decoder == "gpu" and self.stimuli.paths is not None:
            from repalign.features.gpu_decode import gpu_decodable

            try:
                data = Path(self.stimuli.paths[i]).read_bytes()
            except OSError:
                data = b""  # the CPU path below names the file
            if data and gpu_decodable(data) is None:
                return data, i, ""  # decoded on the GPU by the main process (write_store)
        try:
            img = self.stimuli.load_image(i)
        except Exception as exc:
            return None, i, str(exc)
        try:
            return apply_geometry(img, self.geometry), i, ""
        except Exception as exc:
            where = self.stimuli.paths[i] if self.stimuli.paths is not None else f"array {i}"
            return (
                None,
                i,
                f"stimulus set {self.stimuli.name!r}: cannot preprocess image {where} (id {self.stimuli.ids[i]!r}): "
                f"{exc}",
            )


def _as_list(batch):
    return batch


def _decode_jpegs(batch: list, cpu_path: _Geometry, geometry: Sequence, device: torch.device, decode_resize) -> list:
    """The raw JPEGs of a ``_Geometry(decoder="gpu")`` batch decoded on ``device``, in one
    call; if that fails (a JPEG whose header passed but whose data nvJPEG rejects), one
    by one, and each that still fails by the CPU path — PIL's result or today's error."""
    batch = list(batch)
    jpeg = [j for j, (a, _i, e) in enumerate(batch) if not e and isinstance(a, bytes)]
    try:
        done = decode_resize([batch[j][0] for j in jpeg], geometry, device)
    except Exception:  # torchvision raises RuntimeError, nvJPEG's own errors vary
        done = []
        for j in jpeg:
            try:
                done.append(decode_resize([batch[j][0]], geometry, device)[0])
            except Exception:
                done.append(None)
    for j, a in zip(jpeg, done):
        batch[j] = (a, batch[j][1], "") if a is not None else cpu_path[batch[j][1]]
    return batch


def _loader(stimuli: StimulusSet, geometry: Sequence, num_workers: int, decoder: str) -> torch.utils.data.DataLoader:
    """Batches of 32 (uint8 (H, W, 3) | None, index, error) from ``num_workers`` processes."""
    return torch.utils.data.DataLoader(
        _Geometry(stimuli, geometry, decoder),
        batch_size=32,
        shuffle=False,
        num_workers=num_workers,
        collate_fn=_as_list,
        prefetch_factor=2 if num_workers else None,
    )


def write_store(
    stimuli: StimulusSet,
    geometry: Sequence,
    path: str | Path,
    key: str,
    num_workers: int = 0,
    decoder: str = "cpu",
    device: str | torch.device | None = None,
    stimuli_hash: str | None = None,
    tap: Callable[[list], None] | None = None,
    started: Iterator[list] | None = None,
) -> Path:
    """Decode and resize every image of ``stimuli`` once (DataLoader workers), writing the
    store at ``path`` row group by row group; images that cannot be read are stored
    with their error text, for each reading model to raise or skip (``skip_bad``).

    decoder "gpu": the workers only read the files; JPEGs that ``gpu_decode.gpu_decodable``
    accepts are decoded and resized on ``device`` (default CUDA) in this process, a batch
    at a time, every other image by the CPU path in the workers (``key`` must then be
    ``store_key(..., decoder="gpu")``). stimuli_hash: ``stimuli.manifest_hash()`` when the
    caller has it, else computed here. tap: called with every decoded batch, a list of
    (uint8 (H, W, 3) | None, index, error text) in stimulus order, as it is written
    (``write_store_feeding``); started: the iterator of this store's ``_loader``, its
    worker processes started already (decoder "cpu")."""
    geometry = [tuple(s) for s in geometry]
    prov = {
        "producer": "repalign.features.decoded",
        "cache_key": key,
        "format": DECODED_FORMAT,
        "geometry": [list(s) for s in geometry],
        "stimuli": stimuli.name,
        "stimuli_hash": stimuli_hash or stimuli.manifest_hash(),
        "n_stimuli": len(stimuli),
        "versions": _versions(),
    }
    if decoder == "gpu":
        prov["decoder"] = "gpu"
        from repalign.features.gpu_decode import decode_resize

        device = torch.device(device or "cuda")
        cpu_path = _Geometry(stimuli, geometry)  # for JPEGs the GPU cannot decode after all
    loader = started if started is not None else _loader(stimuli, geometry, num_workers, decoder)
    rows: list[tuple] = []
    with ParquetStream(path, SCHEMA, kind="generic", provenance=prov, options=_WRITER_OPTIONS) as w:

        def flush():
            ids, hs, ws, px, err = zip(*rows)
            w.write(
                pa.Table.from_arrays(
                    [
                        pa.array(ids, pa.string()),
                        pa.array(hs, pa.int32()),
                        pa.array(ws, pa.int32()),
                        pa.array(px, pa.binary()),
                        pa.array(err, pa.string()),
                    ],
                    schema=SCHEMA,
                )
            )
            rows.clear()

        for batch in loader:
            if decoder == "gpu":
                batch = _decode_jpegs(batch, cpu_path, geometry, device, decode_resize)
            if tap is not None:
                tap(batch)
            for a, i, e in batch:
                if e:
                    rows.append((stimuli.ids[i], 0, 0, b"", e))
                else:
                    rows.append((stimuli.ids[i], a.shape[0], a.shape[1], a.tobytes(), ""))
                if len(rows) == ROWS_PER_GROUP:
                    flush()
        if rows:
            flush()
    return Path(path)


def write_store_feeding(
    stimuli: StimulusSet,
    geometry: Sequence,
    path: str | Path,
    key: str,
    consume: Callable[[Iterator], Any],
    size: tuple[int, int],
    batch_size: int,
    num_workers: int = 0,
    stimuli_hash: str | None = None,
) -> tuple[Path, Any, Exception | None]:
    """``write_store``, and while it runs, ``consume(batches)`` in this thread on the
    images as they are decoded: ``batches`` are shaped like ``iter_batches(path, ids,
    size, 0, batch_size)`` — the same uint8 arrays the store receives, so a model fed
    here computes what it would from the finished store, bit for bit. The decoded
    store's task runs its first reader this way (``repalign.features.plan``): the
    model's forward passes overlap the decoding instead of waiting for it.

    The store is always finished: if ``consume`` raises (e.g. an unreadable image its
    model may not skip), decoding goes on without it and the error is returned, not
    raised, for the reader's own task to meet again from the store. Memory stays
    bounded: at most ``_FEED_DEPTH`` decoded batches wait for the consumer.

    Returns (store path, what ``consume`` returned or None, the exception it raised or None)."""
    h, w = size
    q: queue.Queue = queue.Queue(maxsize=_FEED_DEPTH)
    gone = threading.Event()  # the consumer stopped reading: the writer no longer feeds it
    failed: list[BaseException] = []

    def tap(batch: list) -> None:
        while not gone.is_set():
            try:
                q.put(batch, timeout=0.1)
                return
            except queue.Full:
                continue

    # the loader's worker processes are forked here, before the consumer's first forward pass:
    # a process forked while another thread is inside an OpenMP parallel region can hang
    started = iter(_loader(stimuli, [tuple(g) for g in geometry], num_workers, "cpu"))

    def writer() -> None:
        try:
            write_store(
                stimuli,
                geometry,
                path,
                key,
                num_workers=num_workers,
                stimuli_hash=stimuli_hash,
                tap=tap,
                started=started,
            )
        except BaseException as exc:  # re-raised in the calling thread
            failed.append(exc)
        finally:
            tap(None)  # end of the feed (dropped if the consumer is gone)

    def batches() -> Iterator[tuple[torch.Tensor | None, list[int], list[tuple[int, str]]]]:
        pend_x: list[np.ndarray] = []
        pend_i: list[int] = []
        pend_bad: list[tuple[int, str]] = []

        def emit():
            x = torch.from_numpy(np.stack(pend_x)) if pend_x else None
            out = (x, list(pend_i), list(pend_bad))
            pend_x.clear(), pend_i.clear(), pend_bad.clear()
            return out

        while True:
            batch = q.get()
            if batch is None:
                if failed:
                    raise failed[0]
                break
            for a, i, e in batch:
                if e:
                    pend_bad.append((i, e))
                else:
                    if a.shape[:2] != (h, w):
                        raise ValidationError(
                            f"decoding {stimuli.name!r}: image {stimuli.ids[i]!r} is {a.shape[0]}×{a.shape[1]}, "
                            f"expected {h}×{w}"
                        )
                    pend_x.append(a)
                    pend_i.append(i)
                if len(pend_i) + len(pend_bad) == batch_size:
                    yield emit()
        if pend_i or pend_bad:
            yield emit()

    # the writer's tables carry this task's key (``store.task_context``, a context variable)
    th = threading.Thread(target=contextvars.copy_context().run, args=(writer,), name="repalign-store", daemon=True)
    th.start()
    result, error = None, None
    try:
        result = consume(batches())
    except Exception as exc:  # the reader's task meets it again, from the finished store
        error = exc
    finally:
        gone.set()
        while th.is_alive():  # unblock a writer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.05)
    if failed:
        raise failed[0]
    return Path(path), result, error


_FEED_DEPTH = 4  # decoded batches (of write_store's loader, 32 images) waiting for the consumer


def store_matches(path: str | Path, key: str, n: int, stimuli_hash: str, split: Split) -> str | None:
    """Why the store at ``path`` cannot feed a model with ``split`` on a stimulus set of
    ``n`` images with manifest hash ``stimuli_hash``, or None."""
    path = Path(path)
    if not path.is_file():
        return f"no decoded store at {path}"
    prov = table_info(path)["provenance"]
    if prov.get("cache_key") != key:
        return f"decoded store {path} has key {str(prov.get('cache_key'))[:12]}, expected {key[:12]}"
    if [list(s) for s in split.geometry] != prov.get("geometry"):
        need = [list(s) for s in split.geometry]
        return f"decoded store {path} holds geometry {prov.get('geometry')}, the model needs {need}"
    if prov.get("n_stimuli") != n or prov.get("stimuli_hash") != stimuli_hash:
        return f"decoded store {path} was made from other images than this stimulus set"
    return None


def _read_groups(path: Path, ids: Sequence[str], start: int) -> Iterator[tuple[int, pa.Table]]:
    """(index of its first row, table) per row group, from the group holding row ``start``;
    checks that the stored ids are the set's, in order."""
    f = pq.ParquetFile(path, page_checksum_verification=True)
    first = 0
    for g in range(f.num_row_groups):
        n = f.metadata.row_group(g).num_rows
        if first + n > start:
            t = f.read_row_group(g)
            got = t.column("stimulus_id").to_pylist()
            if got != list(ids[first : first + n]):
                raise ValidationError(
                    f"decoded store {path}: rows {first}–{first + n - 1} are not the stimulus set's ids"
                )
            yield first, t
        first += n


def _group_pixels(t: pa.Table, path, ids: Sequence[str], first: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(good: bool (n,), pixels: uint8 (n_good, H, W, 3), a read-only view) of one row
    group: its pixel bytes sliced once, not row by row (rows with an error hold none)."""
    good = np.asarray([not e for e in t.column("error").to_pylist()], dtype=bool)
    px = t.column("pixels").combine_chunks()
    offsets = np.frombuffer(px.buffers()[1], np.int32)[px.offset : px.offset + len(px) + 1]
    lens = np.diff(offsets)
    hs, ws = t.column("height").to_numpy(), t.column("width").to_numpy()
    wrong = (good & ((hs != h) | (ws != w) | (lens != h * w * 3))) | (~good & (lens != 0))
    if wrong.any():
        r = int(np.flatnonzero(wrong)[0])
        raise ValidationError(
            f"decoded store {path}: image {ids[first + r]!r} is {hs[r]}×{ws[r]} ({lens[r]} bytes), expected {h}×{w}"
        )
    if not good.any():
        return good, np.zeros((0, h, w, 3), np.uint8)
    data = np.frombuffer(px.buffers()[2], np.uint8)
    # rows with an error are empty, so the good rows' bytes follow one another
    return good, data[offsets[0] : offsets[-1]].reshape(-1, h, w, 3)


def iter_batches(
    path: str | Path, ids: Sequence[str], size: tuple[int, int], start: int, batch_size: int
) -> Iterator[tuple[torch.Tensor | None, list[int], list[tuple[int, str]]]]:
    """Batches of ``batch_size`` stimuli from row ``start``, shaped like the extractor's
    DataLoader output: (uint8 (B, H, W, 3) or None, indices read, [(index, error)]).
    A background thread reads the next row group while the model runs."""
    h, w = size
    q: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()

    def reader():
        try:
            for first, t in _read_groups(Path(path), ids, start):
                if stop.is_set():
                    return
                q.put((first, t))
            q.put(None)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)

    th = threading.Thread(target=reader, daemon=True)
    th.start()
    pend_x: list[np.ndarray] = []  # (k, H, W, 3) views into a row group's pixel bytes
    pend_i: list[int] = []
    pend_bad: list[tuple[int, str]] = []

    def emit():
        x = torch.from_numpy(np.concatenate(pend_x)) if pend_x else None  # one copy: writable, contiguous
        out = (x, list(pend_i), list(pend_bad))
        pend_x.clear(), pend_i.clear(), pend_bad.clear()
        return out

    try:
        while True:
            item = q.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                raise item
            first, t = item
            good, pixels = _group_pixels(t, path, ids, first, h, w)
            errs = t.column("error").to_pylist()
            before = np.concatenate([[0], np.cumsum(good)])  # good rows before each row
            r = max(0, start - first)
            while r < t.num_rows:
                # the rows up to the end of the batch (or of the row group), in one slice
                stop_r = min(t.num_rows, r + batch_size - len(pend_i) - len(pend_bad))
                if before[stop_r] > before[r]:
                    pend_x.append(pixels[before[r] : before[stop_r]])
                pend_i.extend(first + k for k in range(r, stop_r) if good[k])
                pend_bad.extend((first + k, errs[k]) for k in range(r, stop_r) if not good[k])
                r = stop_r
                if len(pend_i) + len(pend_bad) == batch_size:
                    yield emit()
        if pend_i or pend_bad:
            yield emit()
    finally:
        stop.set()
        while th.is_alive():  # unblock the reader if it waits on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                th.join(0.05)
