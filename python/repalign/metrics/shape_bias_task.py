"""``[[metrics]] metric = "shape_bias"`` → one task: every agent's shape bias in one table.

The task reads the people's and raw-data networks' decisions
(``repalign.datasets.load_cue_conflict``), turns each model's ImageNet logits on the
cue-conflict images into 16-class decisions (the published aggregation,
``repalign.metrics.behaviour.imagenet16_decisions``), and writes two tables under
``<output>/metrics/``: ``shape_bias-<label>-<key>.parquet`` (metrics kind: shape
bias rows of ``repalign.metrics.shape_bias.shape_bias_rows`` plus the
classification measures — accuracy = share of shape decisions, error consistency —
on the conflict trials) and ``cue-decisions-<label>-<key>.parquet`` (decisions
kind, with the cue columns).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from repalign.config import Config
from repalign.errors import ValidationError
from repalign.task import Task, content_key, safe_name

if TYPE_CHECKING:
    from repalign.representations import Representation

SOURCE = "texture-shape-cue-conflict"


def _cue_sets(config: Config) -> set[str]:
    """Names of the config's [[stimuli]] sets with source texture-shape-cue-conflict."""
    return {str(s.get("name", SOURCE)) for s in config.section("stimuli", []) or [] if s.get("source") == SOURCE}


def shape_bias_task(spec: dict, refs: Mapping[str, Representation], config: Config, where: str) -> Task:
    """The entry's task; errors name the entry and the representation."""
    from repalign.metrics.plan import _VERSION, _imagenet_head_problem

    sets = _cue_sets(config)
    if spec["representations"] is None:  # every ImageNet head over a cue-conflict set
        names = sorted(n for n, r in refs.items() if r.stimuli in sets and _imagenet_head_problem(r) is None)
    else:
        names = list(spec["representations"])
    models: list[tuple[str, str, Representation]] = []  # (agent, layer, ref)
    for name in names:
        if name not in refs:
            raise ValidationError(
                f"{where}: unknown representation {name!r}; defined: {', '.join(sorted(refs)) or 'none'}"
            )
        ref = refs[name]
        if ref.stimuli not in sets:
            raise ValidationError(
                f"{where}: representation {name!r} is not over a [[stimuli]] set with source "
                f"{SOURCE!r} (its stimuli: {ref.stimuli!r})"
            )
        why = _imagenet_head_problem(ref)
        if why:
            raise ValidationError(f"{where}: representation {name!r} gives no 16-class decisions: {why}")
        if any(a == str(ref.model) for a, _, _ in models):
            raise ValidationError(f"{where}: two representations of model {ref.model!r}")
        models.append((str(ref.model), str(ref.layer), ref))
    ident = {
        "v": _VERSION,
        "spec": {k: v for k, v in spec.items() if k != "representations"},
        "models": sorted((a, l, r.cache_key) for a, l, r in models),
    }
    key = content_key(ident)
    label = safe_name(spec["name"]) if spec.get("name") else "cue-conflict"
    root = config.output / "metrics"
    paths = (root / f"shape_bias-{label}-{key}.parquet", root / f"cue-decisions-{label}-{key}.parquet")
    prov = {
        "producer": "repalign.metrics.shape_bias_task.run_shape_bias",
        "spec": spec,
        "key": key,
        "models": [[a, l, r.cache_key] for a, l, r in models],
    }
    deps = tuple(dict.fromkeys(d for *_, r in models for d in r.deps))
    return Task(
        f"metrics:shape_bias:{key}",
        "metrics",
        paths,
        run_shape_bias,
        (spec, models, tuple(map(str, paths)), prov),
        deps=deps,
        label=f"shape bias {label}",
    )


def run_shape_bias(spec: dict, models: list, paths: tuple[str, str], provenance: dict) -> tuple[str, str]:
    """Task body: decisions of every agent, the shape-bias table and the decisions table."""
    import pandas as pd

    from repalign.datasets import load_cue_conflict, load_imagenet16
    from repalign.metrics.behaviour import consistency_rows, imagenet16_decisions
    from repalign.metrics.shape_bias import common_images, model_decisions, select_networks, shape_bias_rows
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    cc = load_cue_conflict()
    mapping = load_imagenet16()
    dec, layers = {}, {}
    for agent, layer, ref in models:
        emb = ref.load()
        if emb.shape[1] != len(mapping.imagenet):
            raise ValidationError(
                f"shape_bias: {emb.name!r} has {emb.shape[1]} outputs, not the "
                f"{len(mapping.imagenet)} ImageNet classes: no 16-class decisions"
            )
        d16, _ = imagenet16_decisions(emb.values, mapping)
        dec[agent] = pd.Series(d16, index=list(emb.ids))
        layers[agent] = layer
    people_nets = select_networks(cc.decisions, spec["networks"])
    clash = sorted(set(dec) & set(people_nets["agent"]))
    if clash:
        raise ValidationError(f"shape_bias: model agent(s) {clash} clash with agents of the raw data")
    decisions = pd.concat([people_nets, model_decisions(cc.stimuli.labels, dec)], ignore_index=True)
    rows = shape_bias_rows(
        decisions, dataset=spec["dataset"], layers=layers, level=spec["level"], n_boot=spec["n_boot"], seed=spec["seed"]
    )
    # error consistency of shape decisions on the conflict trials that every agent saw
    conflict = common_images(decisions[decisions["conflict"]])
    rows += consistency_rows(
        conflict,
        dataset=spec["dataset"],
        layers=layers,
        level=spec["level"],
        n_boot=spec["n_boot"],
        seed=spec["seed"],
        variant=spec.get("variant", "default"),
    )
    table = metrics_table(rows)
    if spec.get("name"):
        table["entry"] = spec["name"]
    write_table(decisions, paths[1], kind="decisions", provenance=provenance)
    write_table(table, paths[0], kind="metrics", provenance=provenance)
    return paths
