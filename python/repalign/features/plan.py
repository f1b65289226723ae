"""Typed entries → feature tasks and the features files they write
(``model_features``; the stage alone: ``repalign.pipeline.plan.plan_stage(config,
"features")``); ``repalign.representations`` names them, with the other
representation sources, for every later stage.

Config keys::

    [[stimuli]]                     # repalign.features.stimuli
    name = "mur92"                  # the set's name (default: source)
    source = "mur92"                # mur92 | learning-dynamics | texture-shape-edges |
                                    # texture-shape-filled-silhouettes | texture-shape-cue-conflict |
                                    # folder | skimage | digits
    # path (folder), split (learning-dynamics: train|test), n (digits per class), limit (first N),
    # optional = true: skip (with a warning) when the data are not available locally

    [[models]]
    name = "efficientnet_lite0"     # zoo name (repalign models list)
    layers = ["penultimate"]        # default: the model's default layer
    pooling = "auto"                # auto | cls | mean | avg | flatten
    stimuli = ["mur92"]             # default: every [[stimuli]] set
    alias = "lite0"                 # representation-name prefix (default: name)
    batch_size = 64 ; device = "auto" ; skip_bad = false ; num_workers = 1
    decode_once = true              # share decoded images with models of the same resize/crop
    decode = "cpu"                  # cpu | gpu (nvJPEG, own cache key) | auto (gpu when on CUDA)

    [[representations]]
    name = "spose"  ; source = "spose49"           # or spose14
    name = "words"  ; source = "minilm-things"     # MiniLM on THINGS concept words
    name = "noise"  ; source = "random" ; dims = 64 ; stimuli = "mur92" ; seed = 1
                                                   # stimuli = a [[stimuli]] name or "things"
    name = "lite0-cat" ; source = "concepts" ; of = "lite0/penultimate@mur92" ; by = "category"

Representation names: ``<alias or model>/<layer>@<stimulus set>`` for
[[models]], the ``name`` key for [[representations]].
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from repalign.config import Config
from repalign.datasets import StimulusSet
from repalign.errors import DataError, ValidationError
from repalign.features.config import ModelEntry, RepresentationEntry, StimuliEntry
from repalign.features.decoded import split_transform, store_key, store_path, write_store, write_store_feeding
from repalign.features.extractor import POOLINGS, available_cpus, cache_key, extract, feature_path, select_device
from repalign.features.gpu_decode import select_decoder
from repalign.features.stimuli import load_stimulus_set
from repalign.models import get_spec, planned_transform
from repalign.models.layers import check_layers
from repalign.stages import Stage
from repalign.store import write_table
from repalign.task import Task

DTYPES = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class FeatureFile:
    """One (model, layer, stimulus set) features file a feature task writes.

    name: the representation name ``<alias>/<layer>@<set>``; task: the key of the task
    that writes ``path``. ``repalign.representations`` turns these into Representations."""

    name: str
    model: str
    layer: str
    stimuli: str
    task: str
    path: Path


# --- helpers ---------------------------------------------------------------------------------
_STIM_CACHE: dict[str, tuple[StimulusSet, str]] = {}
_UNREADABLE: dict[str, list[tuple[str, str, str]]] = {}  # manifest hash → (id, path, reason) of images PIL cannot open


def _unreadable_images(s: StimulusSet, h: str) -> list[tuple[str, str, str]]:
    """Image files of a set that PIL cannot open (header only: cheap), checked at
    plan time so that a broken file fails before any task runs."""
    if h not in _UNREADABLE:
        from PIL import Image

        bad = []
        for sid, path in zip(s.ids, s.paths or ()):
            try:
                with Image.open(path):
                    pass
            except Exception as exc:  # PIL raises several types for unreadable files
                bad.append((sid, str(path), str(exc)))
        _UNREADABLE[h] = bad
    return _UNREADABLE[h]


def _load_stimuli(section: dict) -> tuple[StimulusSet, str]:
    """(stimulus set, manifest hash) of a [[stimuli]] section, loaded once per process."""
    memo = json.dumps(section, sort_keys=True)
    if memo not in _STIM_CACHE:
        s = load_stimulus_set(section)
        _STIM_CACHE[memo] = (s, _manifest_hash(s))
    return _STIM_CACHE[memo]


_HASHES: dict[tuple, str] = {}  # (ids, (path, size, mtime) per image) → manifest hash, in this process


def _manifest_hash(s: StimulusSet) -> str:
    """``s.manifest_hash()`` (sha256 over ids and image bytes), computed once per process
    for files whose (path, size, modification time) have not changed since: the plan
    and every task run in the same process (``run_local``) hash the set's images once,
    not once each (≈ 0.1 s per 80 MB of JPEGs). Sets held in memory are hashed each time."""
    if s.paths is None:
        return s.manifest_hash()
    try:
        stats = tuple((str(p), st.st_size, st.st_mtime_ns) for p in s.paths for st in (Path(p).stat(),))
    except OSError:
        return s.manifest_hash()  # it names the file it cannot read
    memo = (s.name, tuple(s.ids), stats)
    if memo not in _HASHES:
        _HASHES[memo] = s.manifest_hash()
    return _HASHES[memo]


def stimulus_sets(
    config: Config, entries: Sequence[StimuliEntry]
) -> tuple[dict[str, tuple[dict, StimulusSet, str]], set[str]]:
    """({name: (section, StimulusSet, manifest hash)}, names of skipped sets) of the
    validated [[stimuli]] ``entries`` (``check_study``'s; ``config`` resolves their paths).

    A section with ``optional = true`` whose data are not available (not in
    REPALIGN_DATA_DIR and not downloadable) is skipped with a warning, and so
    is every model × that set."""
    out: dict[str, tuple[dict, StimulusSet, str]] = {}
    skipped: set[str] = set()
    for entry in entries:
        sec = entry.spec(exclude_unset=True)  # as written: the memo and the task's section
        optional = bool(sec.pop("optional", False))
        if "path" in sec:
            sec["path"] = str(config.resolve(sec["path"]))
        try:
            s, h = _load_stimuli(sec)
        except DataError as exc:
            if not optional:
                raise
            name = str(sec.get("name", sec.get("source")))
            warnings.warn(f"optional stimulus set {name!r} skipped: {exc}", stacklevel=2)
            skipped.add(name)
            continue
        if s.name in out:
            raise ValidationError(f"{config.path}: two [[stimuli]] sections named {s.name!r}")
        out[s.name] = (sec, s, h)
    return out, skipped


def stimulus_content(section: dict) -> str:
    """sha256 of a [[stimuli]] set's content: ids, image bytes and labels (what a
    task reading the set's images and labels depends on)."""
    s, h = _load_stimuli({k: v for k, v in section.items() if k != "optional"})
    labels = s.labels.to_csv().encode()
    return hashlib.sha256(h.encode() + b"\0" + labels).hexdigest()


def _model_entries(config: Config, stim: dict, skipped: set[str], models: Sequence[ModelEntry]) -> list[dict]:
    entries = []
    for i, m in enumerate(models):
        where = f"{config.path} [[models]] #{i + 1} ({m.name})"
        spec = get_spec(m.name)
        if spec.modality != "image":
            raise ValidationError(
                f'{where}: {spec.name!r} is a text model; use [[representations]] source = "minilm-things"'
            )
        layers = m.layers if m.layers is not None else [spec.default_layer]
        if isinstance(layers, str):
            layers = [layers]
        check_layers(spec, list(layers), where)  # unknown names fail here, not at extraction
        pooling = m.pooling
        if pooling not in POOLINGS:
            raise ValidationError(f"{where}: unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        sets = m.stimuli if m.stimuli is not None else list(stim)
        if isinstance(sets, str):
            sets = [sets]
        sets = [s for s in sets if s not in skipped]
        unknown = [s for s in sets if s not in stim]
        if unknown:
            raise ValidationError(
                f"{where}: unknown stimulus set(s) {unknown}; [[stimuli]] names: {', '.join(stim) or 'none'}"
            )
        if not sets:
            if skipped:
                continue  # every set it asked for is an unavailable optional set
            raise ValidationError(f"{where}: no stimulus sets (add a [[stimuli]] section)")
        entries.append(
            {
                "spec": spec,
                "layers": list(dict.fromkeys(layers)),
                "pooling": pooling,
                "stimuli": sets,
                "alias": m.alias if m.alias is not None else spec.name,
                "batch_size": m.batch_size,
                "device": m.device,
                "dtype": m.dtype,
                "where": where,
                "skip_bad": m.skip_bad,
                "num_workers": m.num_workers,
                "decode_once": m.decode_once,
                "decode": m.decode,
            }
        )
    return entries


def plan_device(device: str, dtype: str, where: str) -> tuple[str, str]:
    """(device, compute dtype) a feature task will use, fixed at plan time.

    ``device = "auto"`` means CUDA if the planning machine has it, else the CPU. A CUDA
    device named on a machine without one needs an explicit ``dtype`` (its default,
    bfloat16 or float16, depends on the GPU, and the dtype is part of the cache key);
    on the CPU only float32 is used."""
    if dtype not in DTYPES:
        raise ValidationError(f"{where}: unknown dtype {dtype!r}; valid: {', '.join(DTYPES)}")
    if str(device).startswith("cuda") and dtype != "auto" and not _cuda_available():
        return str(device), dtype
    try:
        dev, natural = select_device(device)
    except ValidationError as exc:
        raise ValidationError(
            f"{where}: {exc}; to plan for GPU workers here, also set dtype = "
            '"bfloat16" (or "float16"), the dtype they will compute in'
        ) from None
    if dtype == "auto":
        return str(dev), natural
    if dev.type != "cuda" and dtype != "float32":
        raise ValidationError(
            f"{where}: dtype {dtype!r} needs a CUDA device; on {str(dev)!r} features are computed in float32"
        )
    return str(dev), dtype


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _out(config: Config) -> Path:
    return config.output / "features"


def run_extract_task(
    model: str,
    stimuli_section: dict,
    layers: list[str],
    pooling: str,
    out_dir: str,
    batch_size: int,
    device: str | None,
    skip_bad: bool,
    num_workers: int | None,
    dtype: str | None = None,
    decoded: str | None = None,
    decode: str = "cpu",
    batches=None,
    stimuli: tuple[StimulusSet, str] | None = None,
) -> dict:
    """Task body (module level, picklable): one model over one stimulus set, on the
    device and in the dtype the plan fixed; ``decoded``: the set's decoded store to read
    instead of decoding the images (``decode = "gpu"``: a store decoded on the GPU).
    batches, stimuli: the store as it is written and the (set, manifest hash) loaded
    already, when the decode task runs this reader (``run_decode_task``)."""
    if stimuli is None:
        s = load_stimulus_set(stimuli_section)
        stimuli = (s, _manifest_hash(s))
    return extract(
        model,
        stimuli[0],
        layers=layers,
        pooling=pooling,
        out_dir=out_dir,
        batch_size=batch_size,
        device=device,
        skip_bad=skip_bad,
        num_workers=num_workers,
        dtype=dtype,
        decoded=decoded,
        decode=decode,
        stimuli_hash=stimuli[1],
        batches=batches,
    )


def run_decode_task(
    stimuli_section: dict,
    geometry: list,
    path: str,
    key: str,
    num_workers: int | None,
    decoder: str = "cpu",
    device: str | None = None,
    first: dict | None = None,
    skip_bad: bool = False,
) -> str:
    """Task body: decode and resize a stimulus set once into its decoded store
    (``repalign.features.decoded.write_store``; decoder "gpu": JPEGs on ``device``), for
    every model of that geometry.

    first: {"task": key, "kwargs": run_extract_task's kwargs} of the store's first
    reader, which is then fed the images as they are decoded
    (``decoded.write_store_feeding``), its forward passes overlapping the decoding; it
    writes that reader's features files, stamped with its task key, so its own task
    finds them done (on any executor: a task whose outputs are current is not run). If
    the reader fails (e.g. an unreadable image it may not skip) the store is still
    finished, and the reader's task meets the error again from it. skip_bad: the
    reader's (``repalign features --skip-bad`` sets it here too)."""
    import multiprocessing

    s = load_stimulus_set(stimuli_section)
    if multiprocessing.current_process().daemon:
        workers = 0  # a daemonic process (e.g. a Dask worker) may not start worker processes
    else:
        # the main process only writes row groups here: a worker per CPU
        workers = available_cpus() if num_workers is None else int(num_workers)
    h = _manifest_hash(s)
    if first is None or decoder != "cpu":
        write_store(s, geometry, path, key, num_workers=workers, decoder=decoder, device=device, stimuli_hash=h)
        return path
    from repalign.store import task_context

    reader = dict(first["kwargs"], skip_bad=skip_bad, decoded=path)
    split = split_transform(planned_transform(get_spec(reader["model"])))
    if split is None or [list(g) for g in split.geometry] != [list(g) for g in geometry]:
        raise ValidationError(f"decode task {key[:12]}: its first reader {reader['model']!r} has another geometry")

    def consume(batches):
        with task_context(first["task"]):  # the reader's key, as if its own task wrote the files
            return run_extract_task(**reader, batches=batches, stimuli=(s, h))

    write_store_feeding(
        s, geometry, path, key, consume, split.size, int(reader["batch_size"]), num_workers=workers, stimuli_hash=h
    )
    return path


def fed_readers(tasks: Sequence[Task], status: Mapping[str, str]) -> set[str]:
    """Keys of the feature tasks that a decode task of this run fed (its ``first``
    reader, ``run_decode_task``) and that were then found done ("skipped" in
    ``status``, the ``run_local`` result): work this run did, not work found done.
    A reader whose feed failed meets its error in its own task, so it is not counted."""
    return {
        t.kwargs["first"]["task"]
        for t in tasks
        if t.fn is run_decode_task
        and t.kwargs.get("first")
        and status.get(t.key) == "done"
        and status.get(t.kwargs["first"]["task"]) == "skipped"
    }


def _describe(geometry) -> str:
    """A geometry in a few words, for the plan: ``resize 256 bilinear, crop 224×224``."""
    words = []
    for step in geometry:
        if step[0] == "resize" and step[1] == "shorter":
            words.append(f"resize {step[2]} {step[3]}")
        elif step[0] == "resize":
            words.append(f"resize {step[2]}×{step[3]} {step[4]}")
        else:
            words.append(f"crop {step[1]}×{step[2]}")
    return ", ".join(words)


def _share_decoding(
    tasks: list[Task], shareable: dict[str, tuple], sections: dict[str, tuple[dict, str]], out_dir: Path
) -> list[Task]:
    """Decode once: feature tasks not yet done whose models share a geometry on one set
    read a decoded store that one decode task writes (it is planned when at least two
    such tasks need it, or when it exists already). Returns the tasks, the decode tasks
    first, the readers depending on them; every other task unchanged.

    shareable: task key → (stimulus set name, geometry, decoder) of tasks allowed to share.
    A store decoded on the GPU is planned even for one reader: its features need it."""
    groups: dict[tuple[str, str], list[Task]] = {}
    geometry_of: dict[tuple[str, str], tuple] = {}
    for t in tasks:
        if t.key not in shareable:
            continue
        sname, geometry, decoder = shareable[t.key]
        key = store_key(geometry, sections[sname][1], decoder)
        groups.setdefault((sname, key), []).append(t)
        geometry_of[(sname, key)] = (geometry, decoder)
    readers: dict[str, tuple[str, Path]] = {}
    decode_tasks: list[Task] = []
    for (sname, key), members in groups.items():
        path = store_path(out_dir, sname, key)
        todo = [t for t in members if not t.done()]
        if not todo:
            continue
        workers = todo[0].kwargs.get("num_workers")
        geometry, decoder = geometry_of[(sname, key)]
        geometry = [list(s) for s in geometry]
        gpu = dict(decoder="gpu", device=todo[0].kwargs.get("device")) if decoder == "gpu" else {}
        # the first reader is fed as the images are decoded (its forwards overlap the decoding)
        first = (
            {}
            if gpu
            else dict(
                first={"task": todo[0].key, "kwargs": {k: v for k, v in todo[0].kwargs.items() if k != "skip_bad"}},
                skip_bad=bool(todo[0].kwargs.get("skip_bad", False)),
            )
        )
        dtask = Task(
            key="decode:" + key[:20],
            stage="features",
            outputs=(path,),
            fn=run_decode_task,
            kwargs=dict(
                stimuli_section=sections[sname][0],
                geometry=geometry,
                path=str(path),
                key=key,
                num_workers=workers,
                **gpu,
                **first,
            ),
            label=(
                f"decode {sname} once ({_describe(geometry)}{', JPEGs on the GPU' if gpu else ''}) "
                f"for {len(todo)} models{'' if gpu else ', feeding ' + todo[0].kwargs['model'] + ' as it decodes'}"
            ),
            output_keys=(key,),
        )
        if len(todo) < 2 and not dtask.done() and not gpu:
            continue  # one reader: decoding in its own loader is as fast
        decode_tasks.append(dtask)
        for t in todo:
            readers[t.key] = (dtask.key, path)
    out = []
    for t in tasks:
        if t.key in readers:
            dkey, path = readers[t.key]
            t = replace(
                t,
                deps=tuple(t.deps) + (dkey,),
                kwargs=dict(t.kwargs, decoded=str(path)),
                label=f"{t.label} (from the decoded store)",
            )
        out.append(t)
    return decode_tasks + out


def _things_words() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from repalign.datasets import load_things_concepts

    c = load_things_concepts()
    return c.ids, c.words


def _text_key(ids, words) -> str:
    h = hashlib.sha256("\n".join(f"{i}\t{w}" for i, w in zip(ids, words)).encode()).hexdigest()
    return cache_key(get_spec("minilm"), "text", "mean", h, "float32")


def run_text_task(path: str, key: str) -> str:
    """Task body: MiniLM embeddings of the THINGS concept words → features file."""
    from repalign.features.extractor import _arrow_table
    from repalign.features.text import text_features

    ids, words = _things_words()
    emb = text_features(words, ids, model="minilm", device="cpu")
    prov = {
        "producer": "repalign.features.text_features",
        "cache_key": key,
        "model": "minilm",
        "layer": "text",
        "stimuli": "things",
        "words": "things_concepts.tsv Word",
    }
    write_table(_arrow_table(emb.ids, emb.values.astype(np.float32)), path, "features", prov)
    return path


def _extraction_task(
    spec,
    sname: str,
    section: dict,
    manifest_hash: str,
    dtype: str,
    layers: list[str],
    pooling: str,
    out_dir: Path,
    batch_size: int,
    device: str | None,
    skip_bad: bool,
    num_workers: int | None,
    decoder: str = "cpu",
) -> tuple[Task, dict[str, Path]]:
    """The task extracting ``layers`` of one model on one stimulus set, and {layer: the
    features file it writes}. Its key depends only on the layers' cache keys."""
    keys = {l: cache_key(spec, l, pooling, manifest_hash, dtype, decoder) for l in layers}
    paths = {l: feature_path(out_dir, spec.name, sname, l, pooling, keys[l]) for l in layers}
    tkey = "features:" + hashlib.sha256("".join(keys.values()).encode()).hexdigest()[:20]
    task = Task(
        key=tkey,
        stage="features",
        outputs=tuple(paths.values()),
        fn=run_extract_task,
        kwargs=dict(
            model=spec.name,
            stimuli_section=section,
            layers=layers,
            pooling=pooling,
            out_dir=str(out_dir),
            batch_size=batch_size,
            device=device,
            dtype=dtype,
            skip_bad=skip_bad,
            num_workers=num_workers,
            **({"decode": decoder} if decoder != "cpu" else {}),
        ),
        label=f"{spec.name} on {sname}",
        output_keys=tuple(keys.values()),
    )
    return task, paths


def plan_model_features(
    config: Config,
    model: str,
    stimuli_section: dict,
    layer: str | None = None,
    pooling: str = "auto",
    device: str | None = None,
) -> tuple[Task, str, Path]:
    """The features task of one zoo model's layer on one stimulus set asked for outside
    [[models]] (e.g. by a ``[[dynamics.simulate]]`` entry): the same task — key, output
    file — as a [[models]] entry with these values, so a run extracts it once.

    Returns (task, layer name — the model's default layer when ``layer`` is None —,
    features file the task writes)."""
    spec = get_spec(model)
    if spec.modality != "image":
        raise ValidationError(f"model {spec.name!r} is a {spec.modality} model; features of images need an image model")
    if pooling not in POOLINGS:
        raise ValidationError(f"model {spec.name!r}: unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
    layer = layer or spec.default_layer
    stimuli, h = _load_stimuli(stimuli_section)
    dev, dtype = plan_device(device or "auto", "auto", f"model {spec.name!r}")
    defaults = ModelEntry.model_fields
    task, paths = _extraction_task(
        spec,
        stimuli.name,
        stimuli_section,
        h,
        dtype,
        [layer],
        pooling,
        _out(config),
        defaults["batch_size"].default,
        dev,
        False,
        defaults["num_workers"].default,
    )
    return task, layer, paths[layer]


# --- the public functions --------------------------------------------------------------------
def model_features(
    config: Config, models: Sequence[ModelEntry], stimuli: tuple[dict, set[str]]
) -> tuple[list[Task], list[FeatureFile]]:
    """One task per ([[models]] entry, stimulus set) — all its layers in one forward
    pass — and the features file of every (model, layer, set). ``models``: the
    validated [[models]] entries (``check_study``'s) and ``stimuli`` the loaded sets
    (``stimulus_sets``).

    The device, and with it the compute dtype that is part of the cache key and the
    file name, is chosen here once (``device = "auto"``: CUDA if this machine has it)
    and handed to the task, so a task planned without a GPU writes the files the plan
    names even on a worker that has one."""
    stim, skipped = stimuli
    tasks: list[Task] = []
    files: list[FeatureFile] = []
    shareable: dict[str, tuple] = {}  # task key → (set, geometry) for models that may share decoding
    for e in _model_entries(config, stim, skipped, models):
        spec = e["spec"]
        dev, dtype = plan_device(e["device"], e["dtype"], e["where"])
        for sname in e["stimuli"]:
            sec, _s, h = stim[sname]
            bad = [] if e["skip_bad"] else _unreadable_images(_s, h)
            if bad:
                sid, path, why = bad[0]
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise ValidationError(
                    f"[[stimuli]] {sname!r}: cannot read image {path} (id {sid!r}): {why}{more}; "
                    f"fix or remove it, or set skip_bad = true in [[models]] {spec.name!r}"
                )
            # only image files are worth decoding once: sets held in memory (digits, skimage) are not
            split = split_transform(planned_transform(spec)) if e["decode_once"] and _s.paths is not None else None
            # decoding on the GPU feeds the decoded store: without one (a transform the store
            # cannot feed, a set in memory, decode_once = false) the model decodes on the CPU
            try:
                decoder = select_decoder(e["decode"], dev) if split is not None or e["decode"] == "gpu" else "cpu"
            except ValidationError as exc:
                raise ValidationError(f"{e['where']}: {exc}") from None
            decoder = decoder if split is not None else "cpu"
            task, paths = _extraction_task(
                spec,
                sname,
                sec,
                h,
                dtype,
                e["layers"],
                e["pooling"],
                _out(config),
                e["batch_size"],
                dev,
                e["skip_bad"],
                e["num_workers"],
                decoder,
            )
            if task.key not in {t.key for t in tasks}:
                tasks.append(task)
                if split is not None:
                    shareable[task.key] = (sname, split.geometry, decoder)
            for l in e["layers"]:
                files.append(FeatureFile(f"{e['alias']}/{l}@{sname}", spec.name, l, sname, task.key, paths[l]))
    if len(shareable) > 1 or any(d == "gpu" for _s, _g, d in shareable.values()):
        tasks = _share_decoding(tasks, shareable, {n: (sec, h) for n, (sec, _s, h) in stim.items()}, _out(config))
    return tasks, files


def text_features_task(config: Config) -> Task:
    """The task that writes MiniLM embeddings of the THINGS concept words (its one output)."""
    ids, words = _things_words()
    key = _text_key(ids, words)
    path = feature_path(_out(config), "minilm", "things", "text", "mean", key)
    return Task(
        key="features:text:" + key[:20],
        stage="features",
        outputs=(path,),
        fn=run_text_task,
        kwargs=dict(path=str(path), key=key),
        label="minilm on THINGS words",
        output_keys=(key,),
    )


def _plan_stage(config: Config, entries: dict, resolved, upstream: Sequence[Task]) -> list[Task]:
    """The registered planner: the feature tasks of the run's one resolution of its
    representations (``repalign.representations.resolve.resolve``, done by
    ``plan_all`` before any stage plans)."""
    return list(resolved.tasks)


STAGE = Stage(
    "features",
    ("models", "stimuli", "representations"),
    _plan_stage,
    models={"stimuli": StimuliEntry, "models": ModelEntry, "representations": RepresentationEntry},
    tasks=(run_extract_task, run_decode_task, run_text_task),
)
