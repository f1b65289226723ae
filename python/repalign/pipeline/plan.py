"""Collect the tasks of every stage named in a config (``plan_all``), or of one stage
alone (``plan_stage``, the per-stage CLI commands): both validate the config once,
resolve its representations once and call the stages' registered planners."""

from __future__ import annotations

import importlib

from repalign.config import Config
from repalign.pipeline.config import StudyConfig, check_study, written_sections
from repalign.stages import STAGES, Stage
from repalign.task import Task, order_tasks

#: the config sections that hold [[stimuli]], [[models]] and [[representations]]: resolved once per run
_REPRESENTATION_SECTIONS = ("stimuli", "models", "representations")


def registrations() -> tuple[Stage, ...]:
    """Every stage's registration (its module's ``STAGE``), in the order of ``repalign.stages.STAGES``."""
    return tuple(importlib.import_module(module).STAGE for _name, module, _package in STAGES)


def registration(name: str) -> Stage:
    """The registration of the stage called ``name`` (as in ``repalign.stages.STAGES``)."""
    for stage_name, module, _package in STAGES:
        if stage_name == name:
            return importlib.import_module(module).STAGE
    raise KeyError(f"no stage {name!r}; stages: {', '.join(s for s, _m, _p in STAGES)}")


def plan_all(config: Config) -> list[Task]:
    """Every task of the config, deduplicated by key, in dependency order.

    The config is validated once (``check_study``: a bad value fails before any stage
    plans) and its representations resolved once (``repalign.representations.resolve``);
    each stage whose section is present (even empty, e.g. a bare ``[dynamics]``) then
    gets its typed entries ({section: entries}), the resolution and the tasks planned
    before it (the R stage reads their tables)."""
    study = check_study(config)
    return plan_study(config, study)


def resolve_study(config: Config, study: StudyConfig):
    """The run's one resolution of its representations
    (``repalign.representations.resolve.Resolved``; empty when the config has no
    [[stimuli]], [[models]] or [[representations]]) from the validated entries."""
    from repalign.representations.resolve import Resolved, resolve

    if not written_sections(config) & set(_REPRESENTATION_SECTIONS):
        return Resolved({})
    return resolve(config, study.stimuli, study.models, study.representations)


def resolve_config(config: Config):
    """``resolve_study`` of the config validated here (``check_study``): the route of a
    caller outside the stages (``repalign features``, tests) to the config's
    representations (``.reps``, {name: Representation}) and the feature tasks producing
    them (``.tasks``)."""
    return resolve_study(config, check_study(config))


def _entries(study: StudyConfig, stage: Stage) -> dict:
    """{section: validated entries} of the sections a stage plans from and reads."""
    return {s: getattr(study, s) for s in stage.sections + stage.reads}


def plan_study(config: Config, study: StudyConfig) -> list[Task]:
    """``plan_all`` of an already validated config."""
    resolved = resolve_study(config, study)
    written = written_sections(config)
    tasks: dict[str, Task] = {}
    for stage in registrations():
        if not written & set(stage.sections):
            continue
        for t in stage.plan(config, _entries(study, stage), resolved, list(tasks.values())):
            tasks.setdefault(t.key, t)
    return order_tasks(list(tasks.values()))


def plan_stage(config: Config, name: str, with_inputs: bool = False) -> list[Task]:
    """The tasks of the stage ``name`` alone (``repalign metrics``, ``repalign
    dynamics``, …), planned as ``plan_all`` plans it: the config validated once
    (``check_study``), its representations resolved once (``resolve_study``), the
    stage's registered planner called with no upstream tasks. ``with_inputs`` (what
    the per-stage commands run): when a planned task depends on another task (a
    representation to extract first), the resolution's tasks come first. [] when the
    config has none of the stage's sections."""
    study = check_study(config)
    stage = registration(name)
    if not written_sections(config) & set(stage.sections):
        return []
    resolved = resolve_study(config, study)
    tasks = list(stage.plan(config, _entries(study, stage), resolved, []))
    if with_inputs and any(t.deps for t in tasks):  # the extractions it reads: run before it
        keys = {t.key for t in tasks}
        tasks = [t for t in resolved.tasks if t.key not in keys] + tasks
    return tasks
