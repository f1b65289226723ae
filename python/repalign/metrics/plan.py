"""The ``[[metrics]]`` config section → independent, content-keyed tasks.

One task per (metrics entry, representation) writes one ``metrics`` table under
``<output>/metrics/``. Representations are named as in the config and resolved by
``repalign.representations.resolve_representations(config)`` (name → ``Representation``
with ``.load()`` → ``Embedding``); a metrics task depends on the task that produces its
representation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from repalign.config import Config, parse_entries, parse_section
from repalign.errors import ValidationError
from repalign.metrics.config import METRIC_MODELS, entry_spec, metric_model
from repalign.stages import Stage
from repalign.task import Task
from repalign.task import content_key as _key
from repalign.task import safe_name as _safe

if TYPE_CHECKING:
    from repalign.metrics.own_human import OwnHuman
    from repalign.representations import Representation

_VERSION = 2  # bump when a metric's numbers change for the same inputs (2: min-max TwoNN, naturalcogsci separation)

#: every metric's keys and defaults: repalign.metrics.config (one model per metric)
DEFAULTS: dict[str, dict[str, Any]] = {
    m: {k: f.default for k, f in cls.model_fields.items() if not f.is_required()} for m, cls in METRIC_MODELS.items()
}
# What variant = "published" changes where the entry does not set the key itself
# (Muttenthaler et al. 2023: cosine zero-shot on all THINGS triplets; the probe's λ grid
# and 100-epoch cap; see docs/fidelity.md).
PUBLISHED_DEFAULTS: dict[str, dict[str, Any]] = {
    "odd_one_out": {"dataset": ["train_90", "test_10"], "similarity": ["cosine"]},
    "probe": {
        "dataset": ["train_90", "test_10"],
        "penalty": "zero",
        "alphas": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "epochs": 100,
    },
}


def metric_spec(entry: Any, where: str, seed: int = 0) -> dict[str, Any]:
    """A ``[[metrics]]`` entry (validated, or as written: validated here) with every default filled in."""
    from repalign.metrics.own_human import check_own_entry

    if isinstance(entry, Mapping):
        entry = parse_section(metric_model(entry, where), entry, where)
    spec = entry_spec(entry, seed)
    spec.setdefault("variant", "default")
    check_own_entry(entry.model_dump(exclude_unset=True), spec, where)  # the keys as written
    if spec["variant"] == "published":  # the paper's values where the entry does not set them
        spec.update(
            {k: v for k, v in PUBLISHED_DEFAULTS.get(spec["metric"], {}).items() if k not in entry.model_fields_set}
        )
    if "similarity" in spec and isinstance(spec["similarity"], str):
        spec["similarity"] = [spec["similarity"]]
    if "methods" in spec and isinstance(spec["methods"], str):
        spec["methods"] = [spec["methods"]]
    if spec["metric"] == "classification":
        for key in ("networks",) if spec.get("decisions") else ("dataset", "networks"):
            if isinstance(spec[key], str):
                spec[key] = [spec[key]] if spec[key] else []
    if spec["metric"] == "shape_bias" and isinstance(spec["networks"], str):
        spec["networks"] = [spec["networks"]]
    if spec.get("representations") is not None and isinstance(spec["representations"], str):
        spec["representations"] = [spec["representations"]]
    _check_values(spec, where)
    return spec


def _check_values(spec: dict[str, Any], where: str) -> None:
    from repalign.metrics.cka import KERNELS
    from repalign.metrics.dimensionality import METHODS
    from repalign.metrics.odd_one_out import SIMILARITIES
    from repalign.metrics.probing import PENALTIES, PROBE_SIMILARITIES
    from repalign.metrics.rsa import COMPARISONS, RDM_METRICS

    def one_of(key, value, valid):
        if value not in valid:
            raise ValidationError(f"{where}: {key} = {value!r}; valid: {', '.join(map(str, valid))}")

    m = spec["metric"]
    if m in ("odd_one_out", "probe", "noise_ceiling") and not spec.get("triplets"):
        from repalign.datasets.things import TRIPLET_SOURCES

        # A list of triplet sources is read as one set (the published probe pools train_90 and test_10).
        for d in spec["dataset"] if isinstance(spec["dataset"], list) and m != "noise_ceiling" else [spec["dataset"]]:
            one_of("dataset", d, tuple(TRIPLET_SOURCES))
        if isinstance(spec["dataset"], list) and not spec["dataset"]:
            raise ValidationError(f"{where}: dataset must not be an empty list")
    for s in spec.get("similarity", []):
        one_of("similarity", s, PROBE_SIMILARITIES if m == "probe" else SIMILARITIES)
    if m == "probe":
        one_of("penalty", spec["penalty"], PENALTIES)
        if not spec["alphas"]:
            raise ValidationError(f"{where}: alphas must not be empty")
        if spec["variant"] == "published" and (
            spec["penalty"] != "zero" or spec["similarity"] != ["dot"] or spec["n_components"] is not None
        ):
            raise ValidationError(
                f'{where}: variant = "published" is the square probe with penalty = "zero" on dot products; '
                f"got penalty = {spec['penalty']!r}, similarity = {spec['similarity']!r}, n_components = "
                f"{spec['n_components']!r}"
            )
    if m == "rsa":
        if not spec.get("rdms"):  # with rdms: a stimulus set's name, checked when planned
            one_of("dataset", spec["dataset"], ("mur92",))
        one_of("rdm", spec["rdm"], RDM_METRICS)
        one_of("method", spec["method"], COMPARISONS)
        one_of("bootstrap", spec["bootstrap"], ("subjects", "stimuli", "none"))
    if m == "cka":
        one_of("kernel", spec["kernel"], KERNELS)
    if m == "dimensionality":
        for x in spec["methods"]:
            one_of("methods", x, METHODS)
    if m == "separation":
        from repalign.metrics.classification import FORMULAS

        # mur92, things, or a [[stimuli]] set's name (its labels; checked when planned)
        if not spec["dataset"]:
            raise ValidationError(f'{where}: dataset = ""; valid: mur92, things or a [[stimuli]] set\'s name')
        one_of("formula", spec["formula"], FORMULAS)
        if spec["dataset"] == "things":
            one_of("labels", spec["labels"], ("category", "concept"))
        if spec["variant"] == "published" and spec["formula"] != "naturalcogsci":
            raise ValidationError(
                f'{where}: variant = "published" is formula = "naturalcogsci", got {spec["formula"]!r}'
            )
    if m == "classification" and not spec.get("decisions"):
        from repalign.datasets.texture_shape import CONDITIONS

        for d in spec["dataset"]:
            one_of("dataset", d, CONDITIONS)
    if m == "shape_bias":
        one_of("dataset", spec["dataset"], ("cue-conflict",))
    if not 0 < float(spec["level"]) < 1:
        raise ValidationError(f"{where}: level must be in (0, 1), got {spec['level']}")


def _ref_names(ref: Representation, name: str) -> tuple[str, str, str]:
    """(model, layer, stimuli) for the table."""
    return str(ref.model or name), str(ref.layer or ""), str(ref.stimuli or "")


def _default_names(spec: Mapping[str, Any], refs: Mapping[str, Representation]) -> list[str]:
    """Without ``representations``: every representation of the stimuli the metric's
    human data are about (THINGS concepts for triplets, the mur92 set for RSA), or
    every representation for CKA and dimensionality."""
    from repalign.metrics.own_human import uses_own

    m = spec["metric"]
    if uses_own(spec):
        want = spec["dataset"]  # the stimulus set the own human data are about
    elif m in ("odd_one_out", "probe") or (m == "separation" and spec["dataset"] == "things"):
        want = "things"
    elif m in ("rsa", "separation"):
        want = "mur92"
    elif m == "cka" and spec["reference"] in refs and refs[spec["reference"]].stimuli is not None:
        # CKA compares the same stimuli: only the reference's stimulus set can run
        want = refs[spec["reference"]].stimuli
        return sorted(n for n, r in refs.items() if r.stimuli == want and n != spec["reference"])
    else:
        return sorted(n for n in refs if m != "cka" or n != spec["reference"])
    return sorted(n for n, r in refs.items() if r.stimuli == want)


def _nothing_to_measure(spec: Mapping[str, Any], refs: Mapping[str, Representation], where: str) -> str:
    """The error of an entry with no representation to measure: what the metric
    needs, and what the config defines instead."""
    m = spec["metric"]
    defined = ", ".join(f"{n} ({r.stimuli})" for n, r in sorted(refs.items())[:8]) or "none"
    from repalign.metrics.own_human import uses_own

    if uses_own(spec):
        return (
            f"{where} ({m}): needs representations of stimulus set {spec['dataset']!r} (its human data are "
            f"about those ids); add [[models]] (their features of every [[stimuli]] set) or a [[representations]] "
            f"file with stimuli = {spec['dataset']!r}. Defined representations (stimuli): {defined}"
        )
    if not refs:
        return f"{where}: no representations to measure (define [[models]] or [[representations]])"
    if m == "cka" and spec.get("reference") in refs:
        stim = refs[spec["reference"]].stimuli
        return (
            f"{where} (cka): needs another representation of stimulus set {stim!r} (CKA compares the "
            f"reference {spec['reference']!r} with representations of the same stimuli); add [[models]] or "
            f"a [[representations]] file of {stim!r}. Defined representations (stimuli): {defined}"
        )
    if m == "rsa" or (m == "separation" and spec.get("dataset") != "things"):
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


def run_metric(
    spec: dict,
    ref: Representation,
    reference: Representation | None,
    model: str,
    layer: str,
    path: str,
    provenance: dict,
    human: OwnHuman | None = None,
) -> str:
    """Task body: load the representation(s), compute the metric, write the table atomically.
    human: the entry's own human data (repalign.metrics.own_human), checked when planned."""
    from repalign.metrics import compute
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    m = spec["metric"]
    own = {"human": human} if human is not None else {}
    if m == "noise_ceiling":
        rows = compute.noise_ceiling_rows(spec, **own)
    else:
        emb = ref.load()
        if m == "cka":
            rows = compute.cka_rows(emb, reference.load(), spec, model, layer)
        else:
            rows = getattr(compute, f"{m}_rows")(emb, spec, model, layer, **own)
    if spec.get("name"):
        for r in rows:
            r["entry"] = spec["name"]
    write_table(metrics_table(rows), path, kind="metrics", provenance=provenance)
    return path


def plan_metrics(config: Config) -> list[Task]:
    """Tasks for every ``[[metrics]]`` entry × representation (this stage alone;
    ``repalign.pipeline.plan_all`` hands the registered planner the run's entries)."""
    entries = parse_entries(metric_model, config.section("metrics") or [], "metrics")
    refs: dict[str, Representation] = {}
    if any(e.metric != "noise_ceiling" for e in entries):
        from repalign.representations import resolve_representations

        refs = dict(resolve_representations(config))
    return _plan(config, entries, refs)


def _plan_stage(config: Config, entries: dict, resolved, upstream) -> list[Task]:
    return _plan(config, entries["metrics"], resolved.reps)


def _plan(config: Config, entries: Sequence[Any], refs: Mapping[str, Representation]) -> list[Task]:
    """Tasks of the validated [[metrics]] ``entries`` over the representations ``refs``."""
    specs = [metric_spec(e, f"[[metrics]] #{i + 1}", config.seed) for i, e in enumerate(entries)]
    tasks: list[Task] = []
    root = config.output / "metrics"
    from repalign.metrics.own_human import resolve_own, uses_own

    for i, spec in enumerate(specs):
        where = f"[[metrics]] #{i + 1}"
        human = resolve_own(spec, config, where) if uses_own(spec) else None
        own = {"human": human} if human is not None else {}
        if spec["metric"] == "classification" and human is not None:
            from repalign.metrics.own_classification import own_classification_task

            tasks.append(own_classification_task(spec, refs, config, where, human))
            continue
        if spec["metric"] == "classification":
            tasks.append(_classification_task(spec, refs, config, where))
            continue
        if spec["metric"] == "shape_bias":
            from repalign.metrics.shape_bias_task import shape_bias_task

            tasks.append(shape_bias_task(spec, refs, config, where))
            continue
        if spec["metric"] == "noise_ceiling":
            key = _key({"v": _VERSION, "spec": spec, **({"human": human.key} if human is not None else {})})
            path = root / f"noise_ceiling-{_safe(spec['dataset'])}-{key}.parquet"
            prov = {"producer": "repalign.metrics.run_metric", "spec": spec, "key": key}
            tasks.append(
                Task(
                    f"metrics:noise_ceiling:{key}",
                    "metrics",
                    (path,),
                    run_metric,
                    (spec, None, None, "human", "", str(path), prov),
                    kwargs=own,
                    label=f"noise ceiling {spec['dataset']}",
                )
            )
            continue
        names = spec["representations"] if spec["representations"] is not None else _default_names(spec, refs)
        unknown = [n for n in names if n not in refs]
        if unknown:
            raise ValidationError(
                f"{where}: unknown representation(s) {unknown}; defined: {', '.join(sorted(refs)) or 'none'}"
            )
        if not names:
            raise ValidationError(_nothing_to_measure(spec, refs, where))
        if human is not None:
            # own human data are about one stimulus set's ids: only its representations can run
            wrong = [n for n in names if refs[n].stimuli != spec["dataset"]]
            if wrong:
                raise ValidationError(
                    f"{where} ({spec['metric']}): its human data are about stimulus set {spec['dataset']!r}; "
                    + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
                    + f"; use representations of {spec['dataset']!r}"
                )
        elif spec["metric"] == "rsa":
            # RSA compares with the Mur92 subjects' RDMs: only representations of those 92 images can run
            wrong = [n for n in names if refs[n].stimuli != "mur92"]
            if wrong:
                raise ValidationError(
                    f"{where} (rsa): compares with the 16 subjects' RDMs of the 92 Mur92 images; "
                    + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
                    + '; use representations of a [[stimuli]] set with source = "mur92"'
                )
        reference = None
        if spec["metric"] == "cka":
            if spec["reference"] not in refs:
                raise ValidationError(
                    f"{where}: unknown reference representation {spec['reference']!r}; defined: "
                    f"{', '.join(sorted(refs))}"
                )
            reference = refs[spec["reference"]]
            wrong = [
                n
                for n in names
                if reference.stimuli is not None
                and refs[n].stimuli is not None
                and refs[n].stimuli != reference.stimuli
            ]
            if wrong:
                raise ValidationError(
                    f"{where} (cka): reference {spec['reference']!r} represents stimulus set {reference.stimuli!r}; "
                    + ", ".join(f"{n!r} represents {refs[n].stimuli!r}" for n in wrong[:5])
                    + f"; CKA compares the same stimuli: use representations of {reference.stimuli!r}"
                )
        for name in names:
            ref = refs[name]
            model, layer, stimuli = _ref_names(ref, name)
            rspec = dict(spec)
            if rspec["metric"] == "dimensionality" and not rspec["dataset"]:
                rspec["dataset"] = stimuli or name
            ident = {
                "v": _VERSION,
                "spec": {k: v for k, v in rspec.items() if k != "representations"},
                "rep": ref.cache_key,
                "reference": reference.cache_key if reference is not None else None,
                **({"human": human.key} if human is not None else {}),
            }
            key = _key(ident)
            path = root / f"{spec['metric']}-{_safe(name)}-{key}.parquet"
            deps = ref.deps + (reference.deps if reference is not None else ())
            prov = {
                "producer": "repalign.metrics.run_metric",
                "spec": rspec,
                "representation": name,
                "representation_key": ident["rep"],
                "key": key,
            }
            tasks.append(
                Task(
                    f"metrics:{spec['metric']}:{_safe(name)}:{key}",
                    "metrics",
                    (path,),
                    run_metric,
                    (rspec, ref, reference, model, layer, str(path), prov),
                    kwargs=own,
                    deps=tuple(dict.fromkeys(deps)),
                    label=f"{spec['metric']} {name}",
                )
            )
    return tasks


# ---- classification: one task per entry, all its agents in one table --------------------------
_IMAGENET_BACKENDS = ("packaged", "timm", "torchvision")  # models (and random twins) with a 1000-class head


def _texture_conditions(config: Config) -> dict[str, str]:
    """[[stimuli]] name → texture-shape condition, for sets with source texture-shape-*."""
    out = {}
    for sec in config.section("stimuli", []) or []:
        src = str(sec.get("source", ""))
        if src.startswith("texture-shape-"):
            out[str(sec.get("name", src))] = src.removeprefix("texture-shape-")
    return out


def _imagenet_head_problem(ref: Representation) -> str | None:
    """Why a representation cannot give ImageNet decisions (None if it can)."""
    if ref.kind != "features" or ref.layer != "output":
        return "decisions come from layer 'output' (the logits) of an image classifier"
    from repalign.models import get_spec

    spec = get_spec(ref.model)
    if spec.backend not in _IMAGENET_BACKENDS:
        return f"model {ref.model!r} ({spec.backend}) has no ImageNet classification head"
    return None


def _classification_task(spec: dict, refs: Mapping[str, Representation], config: Config, where: str) -> Task:
    conditions = _texture_conditions(config)
    wanted = spec["dataset"] or ["edges", "filled-silhouettes"]
    if spec["representations"] is None:  # every ImageNet head over a texture-shape set of the wanted conditions
        names = sorted(
            n for n, r in refs.items() if conditions.get(r.stimuli) in wanted and _imagenet_head_problem(r) is None
        )
    else:
        names = list(spec["representations"])
    models: list[tuple[str, str, str, Representation]] = []  # (condition, agent, layer, ref)
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
        if any(c == cond and a == agent for c, a, _, _ in models):
            raise ValidationError(f"{where}: two representations of model {agent!r} on {cond}")
        models.append((cond, agent, str(ref.layer), ref))
    ident = {
        "v": _VERSION,
        "spec": {k: v for k, v in spec.items() if k != "representations"},
        "models": sorted((c, a, l, r.cache_key) for c, a, l, r in models),
    }
    key = _key(ident)
    label = _safe(spec["name"]) if spec.get("name") else "texture-shape"
    root = config.output / "metrics"
    paths = (root / f"classification-{label}-{key}.parquet", root / f"decisions-{label}-{key}.parquet")
    prov = {
        "producer": "repalign.metrics.run_classification",
        "spec": spec,
        "key": key,
        "models": [[c, a, l, r.cache_key] for c, a, l, r in models],
    }
    deps = tuple(dict.fromkeys(d for *_, r in models for d in r.deps))
    return Task(
        f"metrics:classification:{key}",
        "metrics",
        paths,
        run_classification,
        (spec, wanted, models, tuple(map(str, paths)), prov),
        deps=deps,
        label=f"classification {label}",
    )


def run_classification(
    spec: dict, conditions: list[str], models: list, paths: tuple[str, str], provenance: dict
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
        for c, agent, layer, ref in models:
            if c != cond:
                continue
            emb = ref.load()
            if emb.shape[1] != len(mapping.imagenet):
                raise ValidationError(
                    f"classification: {emb.name!r} has {emb.shape[1]} outputs, not the "
                    f"{len(mapping.imagenet)} ImageNet classes: no 16-class decisions"
                )
            dec, _ = imagenet16_decisions(emb.values, mapping)
            model_dec[agent] = pd.Series(dec, index=list(emb.ids))
            layers[agent] = layer
        d = texture_shape_decisions(cond, spec["networks"], model_dec)
        rows += consistency_rows(
            d,
            dataset=cond,
            layers=layers,
            level=spec["level"],
            n_boot=spec["n_boot"],
            seed=spec["seed"],
            variant=spec.get("variant", "default"),
        )
        decisions.append(d)
    table = metrics_table(rows)
    if spec.get("name"):
        table["entry"] = spec["name"]
    write_table(pd.concat(decisions, ignore_index=True), paths[1], kind="decisions", provenance=provenance)
    write_table(table, paths[0], kind="metrics", provenance=provenance)
    return paths


STAGE = Stage(
    "metrics", ("metrics",), _plan_stage, models={"metrics": metric_model}, tasks=(run_metric, run_classification)
)
