"""Config → feature tasks (``plan_features``) and the features files they write
(``model_features``); ``repalign.representations`` names them, with the other
representation sources, for every later stage.

Config keys::

    [[stimuli]]                     # repalign.features.stimuli
    name = "mur92"                  # the set's name (default: source)
    source = "mur92"                # mur92 | learning-dynamics | texture-shape-edges |
                                    # texture-shape-filled-silhouettes | folder | skimage | digits
    # path (folder), split (learning-dynamics: train|test), n (digits per class), limit (first N),
    # optional = true: skip (with a warning) when the data are not available locally

    [[models]]
    name = "efficientnet_lite0"     # zoo name (repalign models list)
    layers = ["penultimate"]        # default: the model's default layer
    pooling = "auto"                # auto | cls | mean | avg | flatten
    stimuli = ["mur92"]             # default: every [[stimuli]] set
    alias = "lite0"                 # representation-name prefix (default: name)
    batch_size = 64 ; device = "auto" ; skip_bad = false ; num_workers = 1
    dtype = "auto"                  # auto | float32 | bfloat16 | float16: the compute dtype; fixed
                                    # in the plan with the device (set it to plan device = "cuda"
                                    # on a machine without a GPU)

    [[representations]]
    name = "spose"  ; source = "spose49"           # or spose14
    name = "words"  ; source = "minilm-things"     # MiniLM on THINGS concept words
    name = "noise"  ; source = "random" ; dims = 64 ; stimuli = "mur92" ; seed = 1
                                                   # stimuli = a [[stimuli]] name or "things"
    name = "lite0-cat" ; source = "concepts" ; of = "lite0/penultimate@mur92" ; by = "category"
    name = "mine" ; source = "file" ; path = "mine.npy" ; ids_file = "ids.txt" ; stimuli = "mur92"
                                                   # (repalign.representations: .npy/.parquet/.csv)

Representation names: ``<alias or model>/<layer>@<stimulus set>`` for
[[models]], the ``name`` key for [[representations]].
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repalign.config import Config, check_keys
from repalign.datasets import StimulusSet
from repalign.errors import DataError, ValidationError
from repalign.features.extractor import POOLINGS, cache_key, extract, feature_path, select_device
from repalign.features.stimuli import load_stimulus_set
from repalign.models import get_spec
from repalign.task import Task
from repalign.store import write_table

MODEL_KEYS = ("name", "layers", "pooling", "stimuli", "alias", "batch_size", "device", "dtype", "skip_bad", "num_workers")
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


def _stimuli(config: Config) -> tuple[dict[str, tuple[dict, StimulusSet, str]], set[str]]:
    """({name: (section, StimulusSet, manifest hash)}, names of skipped sets).

    A section with ``optional = true`` whose data are not available (not in
    REPALIGN_DATA_DIR and not downloadable) is skipped with a warning, and so
    is every model × that set."""
    out: dict[str, tuple[dict, StimulusSet, str]] = {}
    skipped: set[str] = set()
    for sec in config.section("stimuli", []) or []:
        sec = dict(sec)
        optional = bool(sec.pop("optional", False))
        if "path" in sec:
            sec["path"] = str(config.resolve(sec["path"]))
        memo = json.dumps(sec, sort_keys=True)
        if memo not in _STIM_CACHE:
            try:
                s = load_stimulus_set(sec)
            except DataError as exc:
                if not optional:
                    raise
                name = str(sec.get("name", sec.get("source")))
                warnings.warn(f"optional stimulus set {name!r} skipped: {exc}", stacklevel=2)
                skipped.add(name)
                continue
            _STIM_CACHE[memo] = (s, s.manifest_hash())
        s, h = _STIM_CACHE[memo]
        if s.name in out:
            raise ValidationError(f"{config.path}: two [[stimuli]] sections named {s.name!r}")
        out[s.name] = (sec, s, h)
    return out, skipped


def _model_entries(config: Config, stim: dict, skipped: set[str] = frozenset()) -> list[dict]:
    entries = []
    for i, m in enumerate(config.section("models", []) or []):
        where = f"{config.path} [[models]] #{i + 1} ({m.get('name', '?')})"
        check_keys(m, MODEL_KEYS, where, required=("name",))
        spec = get_spec(m["name"])
        if spec.modality != "image":
            raise ValidationError(f"{where}: {spec.name!r} is a text model; use [[representations]] source = \"minilm-things\"")
        layers = m.get("layers", [spec.default_layer])
        if isinstance(layers, str):
            layers = [layers]
        pooling = m.get("pooling", "auto")
        if pooling not in POOLINGS:
            raise ValidationError(f"{where}: unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        sets = m.get("stimuli", list(stim))
        if isinstance(sets, str):
            sets = [sets]
        sets = [s for s in sets if s not in skipped]
        unknown = [s for s in sets if s not in stim]
        if unknown:
            raise ValidationError(f"{where}: unknown stimulus set(s) {unknown}; [[stimuli]] names: {', '.join(stim) or 'none'}")
        if not sets:
            if skipped:
                continue  # every set it asked for is an unavailable optional set
            raise ValidationError(f"{where}: no stimulus sets (add a [[stimuli]] section)")
        entries.append({"spec": spec, "layers": list(dict.fromkeys(layers)), "pooling": pooling, "stimuli": sets,
                        "alias": str(m.get("alias", spec.name)), "batch_size": int(m.get("batch_size", 64)),
                        "device": m.get("device", "auto"), "dtype": _dtype(m.get("dtype", "auto"), where),
                        "where": where, "skip_bad": bool(m.get("skip_bad", False)),
                        "num_workers": m.get("num_workers")})
    return entries


def _dtype(value: str, where: str) -> str:
    if value not in DTYPES:
        raise ValidationError(f"{where}: unknown dtype {value!r}; valid: {', '.join(DTYPES)}")
    return value


def plan_device(device: str, dtype: str, where: str) -> tuple[str, str]:
    """(device, compute dtype) a feature task will use, fixed at plan time.

    ``device = "auto"`` means CUDA if the planning machine has it, else the CPU. A CUDA
    device named on a machine without one needs an explicit ``dtype`` (its default,
    bfloat16 or float16, depends on the GPU, and the dtype is part of the cache key);
    on the CPU only float32 is used."""
    if str(device).startswith("cuda") and dtype != "auto" and not _cuda_available():
        return str(device), dtype
    try:
        dev, natural = select_device(device)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}; to plan for GPU workers here, also set dtype = "
                              "\"bfloat16\" (or \"float16\"), the dtype they will compute in") from None
    if dtype == "auto":
        return str(dev), natural
    if dev.type != "cuda" and dtype != "float32":
        raise ValidationError(f"{where}: dtype {dtype!r} needs a CUDA device; on {str(dev)!r} features are computed in float32")
    return str(dev), dtype


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _out(config: Config) -> Path:
    return config.output / "features"


def run_extract_task(model: str, stimuli_section: dict, layers: list[str], pooling: str, out_dir: str,
                     batch_size: int, device: str | None, skip_bad: bool, num_workers: int | None,
                     dtype: str | None = None) -> dict:
    """Task body (module level, picklable): one model over one stimulus set, on the
    device and in the dtype the plan fixed."""
    s = load_stimulus_set(stimuli_section)
    return extract(model, s, layers=layers, pooling=pooling, out_dir=out_dir, batch_size=batch_size,
                   device=device, skip_bad=skip_bad, num_workers=num_workers, dtype=dtype)


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
    prov = {"producer": "repalign.features.text_features", "cache_key": key, "model": "minilm", "layer": "text",
            "stimuli": "things", "words": "things_concepts.tsv Word"}
    write_table(_arrow_table(emb.ids, emb.values.astype(np.float32)), path, "features", prov)
    return path


# --- the public functions --------------------------------------------------------------------
def stimulus_sets(config: Config) -> tuple[dict[str, tuple[dict, StimulusSet, str]], set[str]]:
    """({name: (section, StimulusSet, manifest hash)}, names of skipped optional sets)."""
    return _stimuli(config)


def model_features(config: Config) -> tuple[list[Task], list[FeatureFile]]:
    """One task per ([[models]] entry, stimulus set) — all its layers in one forward
    pass — and the features file of every (model, layer, set).

    The device, and with it the compute dtype that is part of the cache key and the
    file name, is chosen here once (``device = "auto"``: CUDA if this machine has it)
    and handed to the task, so a task planned without a GPU writes the files the plan
    names even on a worker that has one."""
    stim, skipped = _stimuli(config)
    tasks: list[Task] = []
    files: list[FeatureFile] = []
    for e in _model_entries(config, stim, skipped):
        spec = e["spec"]
        dev, dtype = plan_device(e["device"], e["dtype"], e["where"])
        for sname in e["stimuli"]:
            sec, _s, h = stim[sname]
            keys = {l: cache_key(spec, l, e["pooling"], h, dtype) for l in e["layers"]}
            paths = {l: feature_path(_out(config), spec.name, sname, l, e["pooling"], keys[l]) for l in e["layers"]}
            tkey = "features:" + hashlib.sha256("".join(keys.values()).encode()).hexdigest()[:20]
            if tkey not in {t.key for t in tasks}:
                tasks.append(Task(
                    key=tkey, stage="features", outputs=tuple(paths.values()), fn=run_extract_task,
                    kwargs=dict(model=spec.name, stimuli_section=sec, layers=e["layers"], pooling=e["pooling"],
                                out_dir=str(_out(config)), batch_size=e["batch_size"], device=str(dev),
                                dtype=dtype, skip_bad=e["skip_bad"], num_workers=e["num_workers"]),
                    label=f"{spec.name} on {sname}"))
            for l in e["layers"]:
                files.append(FeatureFile(f"{e['alias']}/{l}@{sname}", spec.name, l, sname, tkey, paths[l]))
    return tasks, files


def text_features_task(config: Config) -> Task:
    """The task that writes MiniLM embeddings of the THINGS concept words (its one output)."""
    ids, words = _things_words()
    key = _text_key(ids, words)
    path = feature_path(_out(config), "minilm", "things", "text", "mean", key)
    return Task(key="features:text:" + key[:20], stage="features", outputs=(path,), fn=run_text_task,
                kwargs=dict(path=str(path), key=key), label="minilm on THINGS words")


def plan_features(config: Config) -> list[Task]:
    """Feature tasks only: one per ([[models]] entry, stimulus set) plus the text task
    when a [[representations]] entry asks for MiniLM. Outputs are content-keyed
    Parquet files under ``<output>/features/``. (Named representations:
    ``repalign.representations.resolve_representations``.)"""
    tasks = model_features(config)[0]
    if any(isinstance(r, dict) and r.get("source") == "minilm-things" for r in config.section("representations", []) or []):
        tasks.append(text_features_task(config))
    return tasks
