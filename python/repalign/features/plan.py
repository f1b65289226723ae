"""Config → feature tasks (``plan_features``) and named representations
(``resolve_representations``), the inputs of every later stage.

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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from repalign.config import Config, parse_entries
from repalign.datasets import Embedding, StimulusSet
from repalign.errors import DataError, ValidationError
from repalign.features.config import ModelEntry, RepresentationEntry, StimuliEntry
from repalign.features.extractor import POOLINGS, cache_key, extract, feature_path, select_device
from repalign.features.io import concept_features, load_features
from repalign.features.stimuli import load_stimulus_set
from repalign.models import get_spec
from repalign.task import Task
from repalign.store import write_table

MODEL_KEYS = tuple(ModelEntry.model_fields)
REPR_KEYS = tuple(RepresentationEntry.model_fields)


@dataclass(frozen=True)
class Ref:
    """A named representation: where it comes from and how to load it.

    name: unique name; model: zoo name (or spose49/spose14/random/…); layer;
    stimuli: stimulus set name ("things" for THINGS concepts); task: key of the
    task that produces it (None if nothing must run first); kind: features |
    text | spose | random | concepts; path: its Parquet file (features/text).
    ``load()`` → Embedding (float64 values, one row per stimulus id).
    """

    name: str
    model: str
    layer: str
    stimuli: str
    task: str | None
    kind: str
    path: Path | None = None
    params: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def cache_key(self) -> str:
        """What identifies this representation's numbers, independent of where the
        run's output lives (downstream stages key their outputs on it)."""
        if self.kind in ("features", "text") and self.path is not None:
            return f"{self.kind}:{Path(self.path).name}"  # the file name holds the extraction cache key
        if self.kind == "concepts":
            mapping = json.dumps(sorted(dict(self.params["concept_of_id"]).items()))
            return f"concepts:{self.params['of'].cache_key}:{hashlib.sha256(mapping.encode()).hexdigest()[:16]}"
        params = {k: v for k, v in self.params.items() if k in ("dims", "seed")}
        ids = self.params.get("ids")
        if ids is not None:
            params["ids"] = hashlib.sha256("\0".join(ids).encode()).hexdigest()[:16]
        return f"{self.kind}:{self.model}:{json.dumps(params, sort_keys=True)}"

    def load(self) -> Embedding:
        if self.kind in ("features", "text"):
            if self.path is None or not self.path.is_file():
                raise ValidationError(f"representation {self.name!r} is not extracted yet ({self.path}); "
                                      "run `repalign features --config …` first")
            emb = load_features(self.path, name=self.name)
            return emb
        if self.kind == "spose":
            from repalign.datasets import load_spose

            e = load_spose(int(self.params["dims"]))
            return Embedding(e.ids, e.values, self.name, dict(e.meta))
        if self.kind == "random":
            ids = self.params.get("ids")
            if ids is None:
                from repalign.datasets import load_things_ids

                ids = load_things_ids()
            rng = np.random.default_rng(int(self.params["seed"]))
            return Embedding(tuple(ids), rng.standard_normal((len(ids), int(self.params["dims"]))), self.name,
                             {"model": "random", "seed": int(self.params["seed"])})
        if self.kind == "concepts":
            base: Ref = self.params["of"]
            return concept_features(base.load(), dict(self.params["concept_of_id"]), name=self.name)
        raise ValidationError(f"representation {self.name!r}: unknown kind {self.kind!r}")


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
        _STIM_CACHE[memo] = (s, s.manifest_hash())
    return _STIM_CACHE[memo]


def _stimuli(config: Config) -> tuple[dict[str, tuple[dict, StimulusSet, str]], set[str]]:
    """({name: (section, StimulusSet, manifest hash)}, names of skipped sets).

    A section with ``optional = true`` whose data are not available (not in
    REPALIGN_DATA_DIR and not downloadable) is skipped with a warning, and so
    is every model × that set."""
    out: dict[str, tuple[dict, StimulusSet, str]] = {}
    skipped: set[str] = set()
    for entry in parse_entries(StimuliEntry, config.section("stimuli", []) or [], "stimuli"):
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


def _model_entries(config: Config, stim: dict, skipped: set[str] = frozenset()) -> list[dict]:
    entries = []
    for i, m in enumerate(parse_entries(ModelEntry, config.section("models", []) or [], "models")):
        where = f"{config.path} [[models]] #{i + 1} ({m.name})"
        spec = get_spec(m.name)
        if spec.modality != "image":
            raise ValidationError(f"{where}: {spec.name!r} is a text model; use [[representations]] source = \"minilm-things\"")
        layers = m.layers if m.layers is not None else [spec.default_layer]
        if isinstance(layers, str):
            layers = [layers]
        pooling = m.pooling
        if pooling not in POOLINGS:
            raise ValidationError(f"{where}: unknown pooling {pooling!r}; valid: {', '.join(POOLINGS)}")
        sets = m.stimuli if m.stimuli is not None else list(stim)
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
                        "alias": m.alias if m.alias is not None else spec.name, "batch_size": m.batch_size,
                        "device": m.device, "skip_bad": m.skip_bad, "num_workers": m.num_workers})
    return entries


def _out(config: Config) -> Path:
    return config.output / "features"


def run_extract_task(model: str, stimuli_section: dict, layers: list[str], pooling: str, out_dir: str,
                     batch_size: int, device: str | None, skip_bad: bool, num_workers: int | None) -> dict:
    """Task body (module level, picklable): one model over one stimulus set."""
    s = load_stimulus_set(stimuli_section)
    return extract(model, s, layers=layers, pooling=pooling, out_dir=out_dir, batch_size=batch_size,
                   device=device, skip_bad=skip_bad, num_workers=num_workers)


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


def _extraction_task(spec, sname: str, section: dict, manifest_hash: str, dtype: str, layers: list[str], pooling: str,
                     out_dir: Path, batch_size: int, device: str | None, skip_bad: bool,
                     num_workers: int | None) -> tuple[Task, dict[str, Path]]:
    """The task extracting ``layers`` of one model on one stimulus set, and {layer: the
    features file it writes}. Its key depends only on the layers' cache keys."""
    keys = {l: cache_key(spec, l, pooling, manifest_hash, dtype) for l in layers}
    paths = {l: feature_path(out_dir, spec.name, sname, l, pooling, keys[l]) for l in layers}
    tkey = "features:" + hashlib.sha256("".join(keys.values()).encode()).hexdigest()[:20]
    task = Task(key=tkey, stage="features", outputs=tuple(paths.values()), fn=run_extract_task,
                kwargs=dict(model=spec.name, stimuli_section=section, layers=layers, pooling=pooling,
                            out_dir=str(out_dir), batch_size=batch_size, device=device, skip_bad=skip_bad,
                            num_workers=num_workers),
                label=f"{spec.name} on {sname}", output_keys=tuple(keys.values()))
    return task, paths


def plan_model_features(config: Config, model: str, stimuli_section: dict, layer: str | None = None,
                        pooling: str = "auto", device: str | None = None) -> tuple[Task, str, Path]:
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
    _dev, dtype = select_device(device)
    defaults = ModelEntry.model_fields
    task, paths = _extraction_task(spec, stimuli.name, stimuli_section, h, dtype, [layer], pooling, _out(config),
                                   defaults["batch_size"].default, device, False, defaults["num_workers"].default)
    return task, layer, paths[layer]


# --- the public functions --------------------------------------------------------------------
def _plan(config: Config) -> tuple[list[Task], dict[str, Ref]]:
    stim, skipped = _stimuli(config)
    tasks: list[Task] = []
    refs: dict[str, Ref] = {}

    def add(ref: Ref) -> None:
        if ref.name in refs:
            raise ValidationError(f"{config.path}: two representations named {ref.name!r}; give one an alias/name")
        refs[ref.name] = ref

    for i, e in enumerate(_model_entries(config, stim, skipped)):
        spec = e["spec"]
        _dev, dtype = select_device(e["device"])
        for sname in e["stimuli"]:
            sec, _s, h = stim[sname]
            bad = [] if e["skip_bad"] else _unreadable_images(_s, h)
            if bad:
                sid, path, why = bad[0]
                more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
                raise ValidationError(f"[[stimuli]] {sname!r}: cannot read image {path} (id {sid!r}): {why}{more}; "
                                      f"fix or remove it, or set skip_bad = true in [[models]] {spec.name!r}")
            task, paths = _extraction_task(spec, sname, sec, h, dtype, e["layers"], e["pooling"], _out(config),
                                           e["batch_size"], e["device"], e["skip_bad"], e["num_workers"])
            if task.key not in {t.key for t in tasks}:
                tasks.append(task)
            for l in e["layers"]:
                add(Ref(f"{e['alias']}/{l}@{sname}", spec.name, l, sname, task.key, "features", paths[l]))

    for i, r in enumerate(parse_entries(RepresentationEntry, config.section("representations", []) or [],
                                        "representations")):
        where = f"{config.path} [[representations]] #{i + 1} ({r.name})"
        src, name = r.source, r.name
        if src in ("spose49", "spose14"):
            add(Ref(name, src, "embedding", "things", None, "spose", params={"dims": int(src[5:])}))
        elif src == "minilm-things":
            ids, words = _things_words()
            key = _text_key(ids, words)
            path = feature_path(_out(config), "minilm", "things", "text", "mean", key)
            tkey = "features:text:" + key[:20]
            if tkey not in {t.key for t in tasks}:
                tasks.append(Task(key=tkey, stage="features", outputs=(path,), fn=run_text_task,
                                  kwargs=dict(path=str(path), key=key), label="minilm on THINGS words",
                                  output_keys=(key,)))
            add(Ref(name, "minilm", "text", "things", tkey, "text", path))
        elif src == "random":
            over = r.stimuli if r.stimuli is not None else "things"
            if over != "things" and over not in stim:
                raise ValidationError(f"{where}: unknown stimulus set {over!r}; use 'things' or one of: {', '.join(stim) or 'none'}")
            params = {"dims": r.dims, "seed": r.seed if r.seed is not None else config.seed,
                      "ids": None if over == "things" else stim[over][1].ids}
            add(Ref(name, "random", "gaussian", over, None, "random", params=params))
        else:  # concepts
            base = refs.get(r.of)
            if base is None:
                raise ValidationError(f"{where}: unknown representation {r.of!r}; defined so far: {', '.join(refs) or 'none'}")
            if base.stimuli not in stim:
                raise ValidationError(f"{where}: {r.of!r} is not over a [[stimuli]] image set")
            by = r.by if r.by is not None else "category"
            labels = stim[base.stimuli][1].labels
            if by not in labels.columns:
                raise ValidationError(f"{where}: stimulus set {base.stimuli!r} has no label {by!r}; labels: {', '.join(map(str, labels.columns))}")
            mapping = tuple(zip(map(str, labels.index), map(str, labels[by])))
            add(Ref(name, base.model, base.layer, f"{base.stimuli}:{by}", base.task, "concepts",
                    params={"of": base, "concept_of_id": mapping}))
    return tasks, refs


def plan_features(config: Config) -> list[Task]:
    """One task per ([[models]] entry, stimulus set) — all its layers in one
    forward pass — plus one per text representation. Outputs are content-keyed
    Parquet files under ``<output>/features/``."""
    return _plan(config)[0]


def resolve_representations(config: Config) -> dict[str, Ref]:
    """Every representation the config defines, by name (see module doc)."""
    return _plan(config)[1]
