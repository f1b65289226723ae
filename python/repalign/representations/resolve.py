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
        # ("things" or a [[stimuli]] name, whose every id it must hold; without it: the one
        # [[stimuli]] set its ids cover, else "things" if every id is a THINGS id, else an error);
        # model, layer: the names the result tables give it (default: name, "file")

Representation names: ``<alias or model>/<layer>@<stimulus set>`` for [[models]], the
``name`` key for [[representations]].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from repalign.config import Config, memory_problem
from repalign.datasets.things import N_CONCEPTS
from repalign.errors import ValidationError
from repalign.features.config import REPR_SOURCE_KEYS, ModelEntry, RepresentationEntry, StimuliEntry
from repalign.features.plan import FeatureFile, model_features, stimulus_sets, text_features_task
from repalign.representations.files import check_covers, read_file
from repalign.representations.reference import Representation
from repalign.stages import Stage
from repalign.task import Task

REPR_KEYS = tuple(RepresentationEntry.model_fields)
SOURCES = REPR_SOURCE_KEYS  # source → the keys (besides name, source) it takes (the schema's)


@dataclass(frozen=True)
class Resolved:
    """The run's representations, resolved once (``resolve``): reps {name:
    Representation}; tasks: the feature tasks (and the MiniLM text task) that
    produce them; stimuli: the loaded [[stimuli]] sets ({name: (section as written,
    StimulusSet, manifest hash)}) and skipped: the optional sets not available."""

    reps: dict[str, Representation]
    tasks: tuple[Task, ...] = ()
    stimuli: dict = field(default_factory=dict)
    skipped: frozenset[str] = frozenset()


def resolve(
    config: Config,
    stimuli: Sequence[StimuliEntry],
    models: Sequence[ModelEntry],
    representations: Sequence[RepresentationEntry],
) -> Resolved:
    """Every representation the config defines, by name (see the module doc), with
    the tasks producing them: the validated entries of [[stimuli]], [[models]] and
    [[representations]] (``check_study``'s). Every entry is checked (files read and
    checked in full) before any work. ``plan_all`` calls it once per run (through
    ``repalign.pipeline.plan.resolve_study``, also the route of a caller outside the
    stages) and hands the result to every stage."""
    stim = stimulus_sets(config, stimuli)
    tasks, files = model_features(config, models, stim)
    reps = _resolve(config, stim, files, representations)
    text = [text_features_task(config)] if any(r.source == "minilm-things" for r in representations) else []
    return Resolved(reps, tuple(tasks + text), stim[0], frozenset(stim[1]))


def _plan_stage(config: Config, entries: dict, resolved: Resolved, upstream: Sequence[Task]) -> list[Task]:
    return []  # every entry was checked by the run's one resolve()


def _resolve(
    config: Config, stimuli: tuple[dict, set[str]], files: Sequence[FeatureFile], entries: Sequence[RepresentationEntry]
) -> dict[str, Representation]:
    stim, skipped = stimuli
    refs: dict[str, Representation] = {}

    def add(ref: Representation) -> None:
        if ref.name in refs:
            raise ValidationError(f"{config.path}: two representations named {ref.name!r}; give one an alias/name")
        refs[ref.name] = ref

    for f in files:
        add(Representation(f.name, f.model, f.layer, f.stimuli, f.task, "features", f.path))

    for i, r in enumerate(entries):
        where = f"{config.path} [[representations]] #{i + 1} ({r.name})"
        src, name = r.source, r.name
        if src in ("spose49", "spose14"):
            add(Representation(name, src, "embedding", "things", None, "spose", params={"dims": int(src[5:])}))
        elif src == "minilm-things":
            task = text_features_task(config)
            add(Representation(name, "minilm", "text", "things", task.key, "text", Path(task.outputs[0])))
        elif src == "random":
            over = r.stimuli if r.stimuli is not None else "things"
            if over != "things" and over not in stim:
                raise ValidationError(
                    f"{where}: unknown stimulus set {over!r}; use 'things' or one of: {', '.join(stim) or 'none'}"
                )
            n = N_CONCEPTS if over == "things" else len(stim[over][1].ids)
            problem = memory_problem(8.0 * n * r.dims, f"{r.dims} dims × {n} stimuli", "float64")
            if problem:
                raise ValidationError(f"{where} dims: {problem}")
            params = {
                "dims": r.dims,
                "seed": r.seed if r.seed is not None else config.seed,
                "ids": None if over == "things" else stim[over][1].ids,
            }
            add(Representation(name, "random", "gaussian", over, None, "random", params=params))
        elif src == "concepts":
            base = refs.get(r.of)
            if base is None:
                raise ValidationError(
                    f"{where}: unknown representation {r.of!r}; defined so far: {', '.join(refs) or 'none'}"
                )
            if base.stimuli not in stim:
                raise ValidationError(f"{where}: {r.of!r} is not over a [[stimuli]] image set")
            by = r.by if r.by is not None else "category"
            labels = stim[base.stimuli][1].labels
            if by not in labels.columns:
                raise ValidationError(
                    f"{where}: stimulus set {base.stimuli!r} has no label {by!r}; labels: "
                    f"{', '.join(map(str, labels.columns))}"
                )
            mapping = tuple(zip(map(str, labels.index), map(str, labels[by])))
            add(
                Representation(
                    name,
                    base.model,
                    base.layer,
                    f"{base.stimuli}:{by}",
                    base.task,
                    "concepts",
                    params={"of": base, "concept_of_id": mapping},
                )
            )
        else:  # file
            add(_file_representation(config, r, name, where, stim, skipped))
    return refs


def _things_ids() -> frozenset[str] | None:
    """The THINGS concept ids, or None where the THINGS files are not available."""
    from repalign.datasets.things import load_things_ids
    from repalign.errors import RepalignError

    try:
        return frozenset(load_things_ids())
    except RepalignError:
        return None


def _file_stimuli(r: RepresentationEntry, ids: tuple[str, ...], where: str, stim: dict) -> str:
    """The stimulus set a file's rows are: ``stimuli =`` as written, else the one
    [[stimuli]] set whose every id the file holds, else "things" when every id is a
    THINGS concept id; anything else is an error saying what to add (never a silent
    "things" that would label other images as THINGS concepts)."""
    if r.stimuli is not None:
        return r.stimuli
    have = set(ids)
    covered = [s for s, entry in stim.items() if set(entry[1].ids) <= have]
    if len(covered) == 1:
        return covered[0]
    if len(covered) > 1:
        raise ValidationError(
            f"{where}: its ids cover several [[stimuli]] sets ({', '.join(covered)}); "
            f'add stimuli = "<one of them>" to say which its rows are'
        )
    things = _things_ids()
    if things is not None and have <= things:
        return "things"
    example = next((i for i in ids if things is None or i not in things), ids[0] if ids else "")
    sets = f"; [[stimuli]] sets: {', '.join(stim)}" if stim else ""
    why = (
        "are not THINGS concept ids"
        if things is not None
        else "cannot be checked against THINGS (its files are not available here)"
    )
    raise ValidationError(
        f"{where}: no stimuli = key, and its {len(ids)} ids (e.g. {example!r}) match no [[stimuli]] "
        f'set and {why}; add stimuli = "<a [[stimuli]] name>" or stimuli = "things"{sets}'
    )


def _file_representation(
    config: Config, r: RepresentationEntry, name: str, where: str, stim: dict, skipped: set
) -> Representation:
    over = r.stimuli
    if over is not None and over != "things" and over not in stim:
        hint = " (an optional set not available here)" if over in skipped else ""
        raise ValidationError(
            f"{where}: unknown stimulus set {over!r}{hint}; use 'things' or one of: {', '.join(stim) or 'none'}"
        )
    path = config.resolve(r.path)
    ids_file = config.resolve(r.ids_file) if r.ids_file is not None else None
    try:
        emb, content = read_file(path, ids=r.ids, ids_file=ids_file, name=name)
    except ValidationError as exc:
        raise ValidationError(f"{config.path} [[representations]] {exc}") from None
    over = _file_stimuli(r, tuple(map(str, emb.ids)), where, stim)
    try:
        if over != "things":
            check_covers(emb, stim[over][1].ids, over, f"representation {name!r}: {path}")
    except ValidationError as exc:
        raise ValidationError(f"{config.path} [[representations]] {exc}") from None
    params = {"ids": r.ids, "ids_file": ids_file, "content": content, "dims": emb.values.shape[1]}
    return Representation(
        name,
        r.model if r.model is not None else name,
        r.layer if r.layer is not None else "file",
        over,
        None,
        "file",
        path,
        params=params,
    )


STAGE = Stage(
    "representations",
    ("models", "stimuli", "representations"),
    _plan_stage,
    models={"representations": RepresentationEntry},
)
