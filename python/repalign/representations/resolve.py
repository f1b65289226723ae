"""Config → named Representations: every (model, layer, stimulus set) features file
of [[models]] and every [[representations]] entry.

Config keys::

    [[representations]]
    name = "spose"  ; source = "spose49"           # or spose14
    name = "words"  ; source = "minilm-things"     # MiniLM on THINGS concept words
    name = "noise"  ; source = "random" ; dims = 64 ; stimuli = "mur92" ; seed = 1
                                                   # stimuli = a [[stimuli]] name or "things"
    name = "lite0-cat" ; source = "concepts" ; of = "lite0/penultimate@mur92" ; by = "category"
    name = "mine" ; source = "file" ; path = "mine.parquet" ; ids = "stimulus_id" ; stimuli = "mur92"
    name = "mine" ; source = "file" ; path = "mine.npy" ; ids_file = "ids.txt" ; stimuli = "things"
        # file: .npy/.parquet/.csv (repalign.representations.files); ids: the ids column
        # (default stimulus_id) or ids_file (one id per line); stimuli: what its rows are
        # ("things" default, or a [[stimuli]] name, whose every id it must hold);
        # model, layer: the names the result tables give it (default: name, "file")

Representation names: ``<alias or model>/<layer>@<stimulus set>`` for [[models]], the
``name`` key for [[representations]].
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path

from repalign.config import Config, check_keys
from repalign.errors import ValidationError
from repalign.features.plan import model_features, stimulus_sets, text_features_task
from repalign.representations.files import check_covers, read_file
from repalign.representations.reference import Representation
from repalign.task import Task

REPR_KEYS = ("name", "source", "dims", "stimuli", "seed", "of", "by", "path", "ids", "ids_file", "model", "layer")
SOURCES: dict[str, tuple[str, ...]] = {  # source → the keys (besides name, source) it takes
    "spose49": (), "spose14": (), "minilm-things": (), "random": ("dims", "stimuli", "seed"),
    "concepts": ("of", "by"), "file": ("path", "ids", "ids_file", "stimuli", "model", "layer"),
}

_CACHE: "OrderedDict[str, dict[str, Representation]]" = OrderedDict()
_CACHE_SIZE = 16


def _fingerprint(config: Config) -> str:
    """Everything resolution reads: the sections, the output directory, the seed, the
    data directory and the size/mtime of every user file (so an edited file re-resolves)."""
    files = []
    for r in config.section("representations", []) or []:
        for k in ("path", "ids_file"):
            if isinstance(r, dict) and r.get("source") == "file" and isinstance(r.get(k), str):
                p = config.resolve(r[k])
                st = p.stat() if p.is_file() else None
                files.append([str(p), st.st_size if st else None, st.st_mtime_ns if st else None])
    return json.dumps({"path": str(config.path), "output": str(config.output), "seed": config.seed,
                       "sections": {s: config.section(s) for s in ("stimuli", "models", "representations")},
                       "data": os.environ.get("REPALIGN_DATA_DIR"), "files": files}, sort_keys=True, default=str)


def resolve_representations(config: Config) -> dict[str, Representation]:
    """Every representation the config defines, by name (see the module doc). Every
    entry is checked (files read and checked in full) before any work; the result is
    memoised per config content, so the stages that each ask for it share one plan."""
    key = _fingerprint(config)
    if key in _CACHE:
        _CACHE.move_to_end(key)
    else:
        _CACHE[key] = _resolve(config)
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return dict(_CACHE[key])


def plan_representations(config: Config) -> list[Task]:
    """The representations stage has no tasks of its own: it checks every entry
    (before any task runs) and returns []."""
    resolve_representations(config)
    return []


def _resolve(config: Config) -> dict[str, Representation]:
    stim, skipped = stimulus_sets(config)
    refs: dict[str, Representation] = {}

    def add(ref: Representation) -> None:
        if ref.name in refs:
            raise ValidationError(f"{config.path}: two representations named {ref.name!r}; give one an alias/name")
        refs[ref.name] = ref

    for f in model_features(config)[1]:
        add(Representation(f.name, f.model, f.layer, f.stimuli, f.task, "features", f.path))

    for i, r in enumerate(config.section("representations", []) or []):
        where = f"{config.path} [[representations]] #{i + 1} ({r.get('name', '?')})"
        check_keys(r, REPR_KEYS, where, required=("name", "source"))
        src, name = r["source"], str(r["name"])
        if src not in SOURCES:
            raise ValidationError(f"{where}: unknown source {src!r}; valid: {', '.join(SOURCES)}")
        extra = [k for k in r if k not in ("name", "source", *SOURCES[src])]
        if extra:
            raise ValidationError(f"{where}: key(s) {extra} do not apply to source {src!r}")
        if src in ("spose49", "spose14"):
            add(Representation(name, src, "embedding", "things", None, "spose", params={"dims": int(src[5:])}))
        elif src == "minilm-things":
            task = text_features_task(config)
            add(Representation(name, "minilm", "text", "things", task.key, "text", Path(task.outputs[0])))
        elif src == "random":
            if "dims" not in r or int(r["dims"]) < 1:
                raise ValidationError(f"{where}: source 'random' needs dims ≥ 1")
            over = str(r.get("stimuli", "things"))
            if over != "things" and over not in stim:
                raise ValidationError(f"{where}: unknown stimulus set {over!r}; use 'things' or one of: {', '.join(stim) or 'none'}")
            params = {"dims": int(r["dims"]), "seed": int(r.get("seed", config.seed)),
                      "ids": None if over == "things" else stim[over][1].ids}
            add(Representation(name, "random", "gaussian", over, None, "random", params=params))
        elif src == "concepts":
            if "of" not in r:
                raise ValidationError(f"{where}: source 'concepts' needs 'of' (a representation name)")
            base = refs.get(r["of"])
            if base is None:
                raise ValidationError(f"{where}: unknown representation {r['of']!r}; defined so far: {', '.join(refs) or 'none'}")
            if base.stimuli not in stim:
                raise ValidationError(f"{where}: {r['of']!r} is not over a [[stimuli]] image set")
            by = str(r.get("by", "category"))
            labels = stim[base.stimuli][1].labels
            if by not in labels.columns:
                raise ValidationError(f"{where}: stimulus set {base.stimuli!r} has no label {by!r}; labels: {', '.join(map(str, labels.columns))}")
            mapping = tuple(zip(map(str, labels.index), map(str, labels[by])))
            add(Representation(name, base.model, base.layer, f"{base.stimuli}:{by}", base.task, "concepts",
                               params={"of": base, "concept_of_id": mapping}))
        else:  # file
            add(_file_representation(config, r, name, where, stim, skipped))
    return refs


def _file_representation(config: Config, r: dict, name: str, where: str, stim: dict, skipped: set) -> Representation:
    if "path" not in r:
        raise ValidationError(f"{where}: source 'file' needs path (a .npy, .parquet or .csv file)")
    over = str(r.get("stimuli", "things"))
    if over != "things" and over not in stim:
        hint = " (an optional set not available here)" if over in skipped else ""
        raise ValidationError(f"{where}: unknown stimulus set {over!r}{hint}; use 'things' or one of: {', '.join(stim) or 'none'}")
    path = config.resolve(r["path"])
    ids_file = config.resolve(r["ids_file"]) if "ids_file" in r else None
    try:
        emb, content = read_file(path, ids=r.get("ids"), ids_file=ids_file, name=name)
        if over != "things":
            check_covers(emb, stim[over][1].ids, over, f"representation {name!r}: {path}")
    except ValidationError as exc:
        raise ValidationError(f"{config.path} [[representations]] {exc}") from None
    params = {"ids": r.get("ids"), "ids_file": ids_file, "content": content, "dims": emb.values.shape[1]}
    return Representation(name, str(r.get("model", name)), str(r.get("layer", "file")), over, None, "file", path,
                          params=params)
