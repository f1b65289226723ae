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

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from repalign.config import Config
from repalign.errors import ValidationError
from repalign.metrics.decisions_task import decisions_task
from repalign.task import Task, content_key, safe_name

if TYPE_CHECKING:
    from repalign.features.config import StimuliEntry
    from repalign.metrics.config import ShapeBiasMetric
    from repalign.metrics.plan import Agent
    from repalign.representations import Representation

SOURCE = "texture-shape-cue-conflict"


def shape_bias_task(
    entry: ShapeBiasMetric,
    refs: Mapping[str, Representation],
    config: Config,
    where: str,
    *,
    human: Any = None,
    stimuli: Sequence[StimuliEntry] = (),
) -> Task:
    """The entry's task over the cue-conflict sets among the validated [[stimuli]]
    entries; errors name the entry and the representation. (``human``: none; the
    people's decisions are the published ones.)"""
    from repalign.metrics.plan import _VERSION, Agent, _imagenet_head_problem, stimulus_set_name

    sets = {stimulus_set_name(e) for e in stimuli if e.source == SOURCE}
    if entry.representations is None:  # every ImageNet head over a cue-conflict set
        names = sorted(n for n, r in refs.items() if r.stimuli in sets and _imagenet_head_problem(r) is None)
    else:
        names = list(entry.representations)
    agents: list[Agent] = []
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
        if any(a.name == str(ref.model) for a in agents):
            raise ValidationError(f"{where}: two representations of model {ref.model!r}")
        agents.append(Agent(str(ref.model), str(ref.layer), ref))
    models = [(a.name, a.layer, a.representation.cache_key) for a in agents]
    key = content_key({"v": _VERSION, "spec": entry.key_fields(), "models": sorted(models)})
    label = safe_name(entry.name) if entry.name else "cue-conflict"
    return decisions_task(
        config,
        "shape_bias",
        key,
        label,
        ("shape_bias", "cue-decisions"),
        run_shape_bias,
        "repalign.metrics.shape_bias_task.run_shape_bias",
        entry=entry,
        agents=agents,
        provenance={"models": [list(m) for m in models]},
        title="shape bias",
    )


def run_shape_bias(
    entry: ShapeBiasMetric, agents: Sequence[Agent], paths: tuple[str, str], provenance: dict
) -> tuple[str, str]:
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
    for a in agents:
        emb = a.representation.load()
        if emb.shape[1] != len(mapping.imagenet):
            raise ValidationError(
                f"shape_bias: {emb.name!r} has {emb.shape[1]} outputs, not the "
                f"{len(mapping.imagenet)} ImageNet classes: no 16-class decisions"
            )
        d16, _ = imagenet16_decisions(emb.values, mapping)
        dec[a.name] = pd.Series(d16, index=list(emb.ids))
        layers[a.name] = a.layer
    people_nets = select_networks(cc.decisions, entry.networks)
    clash = sorted(set(dec) & set(people_nets["agent"]))
    if clash:
        raise ValidationError(f"shape_bias: model agent(s) {clash} clash with agents of the raw data")
    decisions = pd.concat([people_nets, model_decisions(cc.stimuli.labels, dec)], ignore_index=True)
    rows = shape_bias_rows(
        decisions, dataset=entry.dataset, layers=layers, level=entry.level, n_boot=entry.n_boot, seed=entry.seed
    )
    # error consistency of shape decisions on the conflict trials that every agent saw
    conflict = common_images(decisions[decisions["conflict"]])
    rows += consistency_rows(
        conflict,
        dataset=entry.dataset,
        layers=layers,
        level=entry.level,
        n_boot=entry.n_boot,
        seed=entry.seed,
        variant=entry.variant,
    )
    table = metrics_table(rows)
    if entry.name:
        table["entry"] = entry.name
    write_table(decisions, paths[1], kind="decisions", provenance=provenance)
    write_table(table, paths[0], kind="metrics", provenance=provenance)
    return paths
