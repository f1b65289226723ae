"""The ``[[metrics]]`` config section → independent, content-keyed tasks.

One task per (metrics entry, representation) writes one ``metrics`` table under
``<output>/metrics/``; a metric kind registered with an ``entry_task``
(repalign.metrics.config.KINDS: classification, shape_bias) plans one task per entry
instead. Representations are named as in the config and resolved once per run
(``repalign.representations.resolve``: name → ``Representation`` with ``.load()`` →
``Embedding``); a metrics task depends on the task that produces its representation.
The entries arrive validated (every value checked by their models); a task receives
its frozen entry in a ``MetricJob`` (or, one task per entry, the entry and its
``Agent`` records) by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repalign.config import Config
from repalign.errors import ValidationError
from repalign.metrics.config import METRIC_KINDS, MetricKind, metric_model
from repalign.metrics.decisions_task import decisions_task
from repalign.metrics.own_classification import run_own_classification
from repalign.metrics.shape_bias_task import run_shape_bias
from repalign.stages import Stage
from repalign.task import Task
from repalign.task import content_key as _key
from repalign.task import safe_name as _safe

if TYPE_CHECKING:
    from repalign.features.config import StimuliEntry
    from repalign.metrics.config import MetricEntry
    from repalign.metrics.own_human import OwnHuman
    from repalign.representations import Representation

_VERSION = 2  # bump when a metric's numbers change for the same inputs (2: min-max TwoNN, naturalcogsci separation)


@dataclass(frozen=True)
class MetricJob:
    """What one metric task runs: its validated, frozen ``[[metrics]]`` entry and the
    values the plan fixed for it. A task receives this (picklable) and nothing else of
    the config.

    entry: the entry (repalign.metrics.config) with ``seed`` (the run's, where the entry
    sets none) and, for dimensionality without a dataset, the representation's stimulus
    set filled in; representation: what is measured (None: the human data alone, e.g.
    the noise ceiling); reference: CKA's reference representation; model, layer: the
    names the table gives the representation; human: the entry's own human data
    (repalign.metrics.own_human), checked when planned.
    """

    entry: MetricEntry
    representation: Representation | None = None
    reference: Representation | None = None
    model: str = "human"
    layer: str = ""
    human: OwnHuman | None = None

    @property
    def kind(self) -> MetricKind:
        return METRIC_KINDS[self.entry.metric]

    def key_fields(self) -> dict[str, Any]:
        """What the task key hashes, under the names it has always had (so existing
        outputs keep their keys): the entry's values, the representation's and the
        reference's content, the own human data's content."""
        out: dict[str, Any] = {"v": _VERSION, "spec": self.entry.key_fields()}
        if self.representation is not None:
            out["rep"] = self.representation.cache_key
            out["reference"] = self.reference.cache_key if self.reference is not None else None
        if self.human is not None:
            out["human"] = self.human.key
        return out


def with_seed(entry: MetricEntry, seed: int) -> MetricEntry:
    """The entry with the run's ``seed`` where it sets none (what its tasks use and are keyed on)."""
    return entry if entry.seed is not None else entry.model_copy(update={"seed": seed})


def _ref_names(ref: Representation, name: str) -> tuple[str, str, str]:
    """(model, layer, stimuli) for the table."""
    return str(ref.model or name), str(ref.layer or ""), str(ref.stimuli or "")


def _default_names(entry: MetricEntry, refs: Mapping[str, Representation]) -> list[str]:
    """Without ``representations``: every representation of the stimuli the metric's
    human data are about (THINGS concepts for triplets, the mur92 set for RSA), or
    every representation for CKA and dimensionality."""
    from repalign.metrics.own_human import uses_own

    m = entry.metric
    if uses_own(entry):
        want = entry.dataset  # the stimulus set the own human data are about
    elif m in ("odd_one_out", "probe") or (m == "separation" and entry.dataset == "things"):
        want = "things"
    elif m in ("rsa", "separation"):
        want = "mur92"
    elif m == "cka" and entry.reference in refs and refs[entry.reference].stimuli is not None:
        # CKA compares the same stimuli: only the reference's stimulus set can run
        want = refs[entry.reference].stimuli
        return sorted(n for n, r in refs.items() if r.stimuli == want and n != entry.reference)
    else:
        return sorted(n for n in refs if m != "cka" or n != entry.reference)
    return sorted(n for n, r in refs.items() if r.stimuli == want)


def _nothing_to_measure(entry: MetricEntry, refs: Mapping[str, Representation], where: str) -> str:
    """The error of an entry with no representation to measure: what the metric
    needs, and what the config defines instead."""
    m = entry.metric
    defined = ", ".join(f"{n} ({r.stimuli})" for n, r in sorted(refs.items())[:8]) or "none"
    from repalign.metrics.own_human import uses_own

    if uses_own(entry):
        return (
            f"{where} ({m}): needs representations of stimulus set {entry.dataset!r} (its human data are "
            f"about those ids); add [[models]] (their features of every [[stimuli]] set) or a [[representations]] "
            f"file with stimuli = {entry.dataset!r}. Defined representations (stimuli): {defined}"
        )
    if not refs:
        return f"{where}: no representations to measure (define [[models]] or [[representations]])"
    if m == "cka" and entry.reference in refs:
        stim = refs[entry.reference].stimuli
        return (
            f"{where} (cka): needs another representation of stimulus set {stim!r} (CKA compares the "
            f"reference {entry.reference!r} with representations of the same stimuli); add [[models]] or "
            f"a [[representations]] file of {stim!r}. Defined representations (stimuli): {defined}"
        )
    if m == "rsa" or (m == "separation" and entry.dataset != "things"):
        need = (
            "representations of the 92 Mur92 images (its human data: the subjects' RDMs)"
            if m == "rsa"
            else "representations of the 92 Mur92 images (labels from its category column)"
        )
        add = 'a [[stimuli]] set with source = "mur92" (and [[models]] to extract features of it)'
    else:
        need = "representations of the THINGS concepts (its human data: THINGS triplets and categories)"
        add = 'a THINGS representation, e.g. [[representations]] source = "spose49", or a file with stimuli = "things"'
    return f"{where} ({m}): needs {need}; add {add}. Defined representations (stimuli): {defined}"


def run_metric(job: MetricJob, path: str, provenance: dict) -> str:
    """Task body: load the representation(s), compute the metric (its registered rows
    function, repalign.metrics.config.KINDS), write the table atomically."""
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    extra: dict[str, Any] = {"human": job.human} if job.human is not None else {}
    if job.reference is not None:
        extra["reference"] = job.reference.load()
    emb = job.representation.load() if job.representation is not None else None
    rows = job.kind.function()(job.entry, emb, model=job.model, layer=job.layer, **extra)
    if job.entry.name:
        for r in rows:
            r["entry"] = job.entry.name
    write_table(metrics_table(rows), path, kind="metrics", provenance=provenance)
    return path


def _plan_stage(config: Config, entries: dict, resolved, upstream) -> list[Task]:
    return _plan(config, entries["metrics"], resolved, entries["stimuli"])


def _plan(config: Config, entries: Sequence[MetricEntry], resolved: Any, stimuli: Sequence[StimuliEntry]) -> list[Task]:
    """Tasks of the validated [[metrics]] ``entries`` over the run's ``resolved``
    representations (repalign.representations.resolve.Resolved, or {} for none) and
    its validated [[stimuli]] entries."""
    from repalign.metrics.own_human import resolve_own, uses_own

    refs: Mapping[str, Representation] = getattr(resolved, "reps", {})
    tasks: list[Task] = []
    for i, entry in enumerate(entries):
        where = f"[[metrics]] #{i + 1}"
        entry = with_seed(entry, config.seed)
        kind = METRIC_KINDS[entry.metric]
        human = resolve_own(entry, config, where, resolved) if uses_own(entry) else None
        if kind.entry_task is not None:  # one task for the whole entry
            tasks.append(kind.function()(entry, refs, config, where, human=human, stimuli=stimuli))
        elif not kind.of_representations:
            tasks.append(_human_task(MetricJob(entry, human=human), config))
        else:
            tasks += _representation_tasks(entry, refs, config, where, human)
    return tasks


def _human_task(job: MetricJob, config: Config) -> Task:
    """The task of a metric of the human data alone (the noise ceiling)."""
    e = job.entry
    key = _key(job.key_fields())
    path = config.output / "metrics" / f"{e.metric}-{_safe(e.dataset)}-{key}.parquet"
    prov = {"producer": "repalign.metrics.run_metric", "spec": e.spec_fields(), "key": key}
    return Task(
        f"metrics:{e.metric}:{key}",
        "metrics",
        (path,),
        run_metric,
        kwargs=dict(job=job, path=str(path), provenance=prov),
        label=f"noise ceiling {e.dataset}",
    )


def _representation_tasks(
    entry: MetricEntry, refs: Mapping[str, Representation], config: Config, where: str, human: OwnHuman | None
) -> list[Task]:
    """One task per representation the entry measures (checked against what its human data are about)."""
    m = entry.metric
    names = entry.representations if entry.representations is not None else _default_names(entry, refs)
    unknown = [n for n in names if n not in refs]
    if unknown:
        raise ValidationError(
            f"{where}: unknown representation(s) {unknown}; defined: {', '.join(sorted(refs)) or 'none'}"
        )
    if not names:
        raise ValidationError(_nothing_to_measure(entry, refs, where))
    if human is not None:
        # own human data are about one stimulus set's ids: only its representations can run
        wrong = [n for n in names if refs[n].stimuli != entry.dataset]
        if wrong:
            raise ValidationError(
                f"{where} ({m}): its human data are about stimulus set {entry.dataset!r}; "
                + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
                + f"; use representations of {entry.dataset!r}"
            )
    elif m == "rsa":
        # RSA compares with the Mur92 subjects' RDMs: only representations of those 92 images can run
        wrong = [n for n in names if refs[n].stimuli != "mur92"]
        if wrong:
            raise ValidationError(
                f"{where} (rsa): compares with the 16 subjects' RDMs of the 92 Mur92 images; "
                + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
                + '; use representations of a [[stimuli]] set with source = "mur92"'
            )
    reference = _cka_reference(entry, names, refs, where) if m == "cka" else None
    tasks: list[Task] = []
    for name in names:
        ref = refs[name]
        model, layer, stimuli = _ref_names(ref, name)
        e = entry
        if m == "dimensionality" and not e.dataset:
            e = e.model_copy(update={"dataset": stimuli or name})
        job = MetricJob(e, ref, reference, model, layer, human)
        key = _key(job.key_fields())
        path = config.output / "metrics" / f"{m}-{_safe(name)}-{key}.parquet"
        deps = ref.deps + (reference.deps if reference is not None else ())
        prov = {
            "producer": "repalign.metrics.run_metric",
            "spec": e.spec_fields(),
            "representation": name,
            "representation_key": ref.cache_key,
            "key": key,
        }
        tasks.append(
            Task(
                f"metrics:{m}:{_safe(name)}:{key}",
                "metrics",
                (path,),
                run_metric,
                kwargs=dict(job=job, path=str(path), provenance=prov),
                deps=tuple(dict.fromkeys(deps)),
                label=f"{m} {name}",
            )
        )
    return tasks


def _cka_reference(
    entry: MetricEntry, names: Sequence[str], refs: Mapping[str, Representation], where: str
) -> Representation:
    """CKA's reference representation, over the same stimuli as every representation it is compared with."""
    if entry.reference not in refs:
        raise ValidationError(
            f"{where}: unknown reference representation {entry.reference!r}; defined: {', '.join(sorted(refs))}"
        )
    reference = refs[entry.reference]
    wrong = [
        n
        for n in names
        if reference.stimuli is not None and refs[n].stimuli is not None and refs[n].stimuli != reference.stimuli
    ]
    if wrong:
        raise ValidationError(
            f"{where} (cka): reference {entry.reference!r} represents stimulus set {reference.stimuli!r}; "
            + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
            + f"; CKA compares the same stimuli: use representations of {reference.stimuli!r}"
        )
    return reference


# ---- classification: one task per entry, all its agents in one table --------------------------
_IMAGENET_BACKENDS = ("packaged", "timm", "torchvision")  # models (and random twins) with a 1000-class head


@dataclass(frozen=True)
class Agent:
    """A model deciding in a classification task (one entry's task holds all of them).

    name: the agent's name in the tables (its model's, or the representation's where
    one model gives several); layer: as in the tables; representation: its features or
    logits; condition: the texture-shape condition it decides on ("" elsewhere)."""

    name: str
    layer: str
    representation: Representation
    condition: str = ""


def stimulus_set_name(entry: StimuliEntry) -> str:
    """The name of a validated [[stimuli]] entry (its source where it has none)."""
    return entry.name if entry.name is not None else entry.source


def _texture_conditions(stimuli: Sequence[StimuliEntry]) -> dict[str, str]:
    """[[stimuli]] name → texture-shape condition, for sets with source texture-shape-*."""
    return {
        stimulus_set_name(e): e.source.removeprefix("texture-shape-")
        for e in stimuli
        if e.source.startswith("texture-shape-")
    }


def _imagenet_head_problem(ref: Representation) -> str | None:
    """Why a representation cannot give ImageNet decisions (None if it can)."""
    if ref.kind != "features" or ref.layer != "output":
        return "decisions come from layer 'output' (the logits) of an image classifier"
    from repalign.models import get_spec

    spec = get_spec(ref.model)
    if spec.backend not in _IMAGENET_BACKENDS:
        return f"model {ref.model!r} ({spec.backend}) has no ImageNet classification head"
    return None


def classification_task(
    entry: MetricEntry,
    refs: Mapping[str, Representation],
    config: Config,
    where: str,
    *,
    human: OwnHuman | None = None,
    stimuli: Sequence[StimuliEntry] = (),
) -> Task:
    """The entry's one task: 16-way decisions on the texture-shape sets among the
    validated [[stimuli]] entries, or (``human``) the researcher's own decisions file."""
    if human is not None:
        from repalign.metrics.own_classification import own_classification_task

        return own_classification_task(entry, refs, config, where, human)
    conditions = _texture_conditions(stimuli)
    wanted = entry.dataset or ["edges", "filled-silhouettes"]
    if entry.representations is None:  # every ImageNet head over a texture-shape set of the wanted conditions
        names = sorted(
            n for n, r in refs.items() if conditions.get(r.stimuli) in wanted and _imagenet_head_problem(r) is None
        )
    else:
        names = list(entry.representations)
    agents: list[Agent] = []
    for name in names:
        if name not in refs:
            raise ValidationError(
                f"{where}: unknown representation {name!r}; defined: {', '.join(sorted(refs)) or 'none'}"
            )
        ref = refs[name]
        cond = conditions.get(ref.stimuli)
        if cond not in wanted:
            raise ValidationError(
                f"{where}: representation {name!r} is not over a texture-shape stimulus set of "
                f"{wanted} (its stimuli: {ref.stimuli!r})"
            )
        why = _imagenet_head_problem(ref)
        if why:
            raise ValidationError(f"{where}: representation {name!r} gives no 16-class decisions: {why}")
        agent = str(ref.model)
        if any(a.condition == cond and a.name == agent for a in agents):
            raise ValidationError(f"{where}: two representations of model {agent!r} on {cond}")
        agents.append(Agent(agent, str(ref.layer), ref, cond))
    models = [(a.condition, a.name, a.layer, a.representation.cache_key) for a in agents]
    key = _key({"v": _VERSION, "spec": entry.key_fields(), "models": sorted(models)})
    label = _safe(entry.name) if entry.name else "texture-shape"
    return decisions_task(
        config,
        "classification",
        key,
        label,
        ("classification", "decisions"),
        run_classification,
        "repalign.metrics.run_classification",
        entry=entry,
        agents=agents,
        provenance={"models": [list(m) for m in models]},
        title="classification",
        conditions=list(wanted),
    )


def run_classification(
    entry: MetricEntry, conditions: list[str], agents: Sequence[Agent], paths: tuple[str, str], provenance: dict
) -> tuple[str, str]:
    """Task body: 16-class decisions of every model, the people's and raw-data networks'
    decisions, one classification table (metrics kind) and one decisions table."""
    import pandas as pd

    from repalign.datasets import load_imagenet16
    from repalign.metrics.behaviour import consistency_rows, imagenet16_decisions, texture_shape_decisions
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    mapping = load_imagenet16()
    rows, decisions = [], []
    for cond in conditions:
        model_dec, layers = {}, {}
        for a in agents:
            if a.condition != cond:
                continue
            emb = a.representation.load()
            if emb.shape[1] != len(mapping.imagenet):
                raise ValidationError(
                    f"classification: {emb.name!r} has {emb.shape[1]} outputs, not the "
                    f"{len(mapping.imagenet)} ImageNet classes: no 16-class decisions"
                )
            dec, _ = imagenet16_decisions(emb.values, mapping)
            model_dec[a.name] = pd.Series(dec, index=list(emb.ids))
            layers[a.name] = a.layer
        d = texture_shape_decisions(cond, entry.networks, model_dec)
        rows += consistency_rows(
            d,
            dataset=cond,
            layers=layers,
            level=entry.level,
            n_boot=entry.n_boot,
            seed=entry.seed,
            variant=entry.variant,
        )
        decisions.append(d)
    table = metrics_table(rows)
    if entry.name:
        table["entry"] = entry.name
    write_table(pd.concat(decisions, ignore_index=True), paths[1], kind="decisions", provenance=provenance)
    write_table(table, paths[0], kind="metrics", provenance=provenance)
    return paths


STAGE = Stage(
    "metrics",
    ("metrics",),
    _plan_stage,
    models={"metrics": metric_model},
    tasks=(run_metric, run_classification, run_own_classification, run_shape_bias),
    reads=("stimuli",),
)
