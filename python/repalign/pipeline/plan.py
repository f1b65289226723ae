"""Collect the tasks of every stage named in a config."""

from __future__ import annotations

import importlib

from repalign.config import Config
from repalign.pipeline.config import StudyConfig, check_study
from repalign.stages import STAGES, Stage
from repalign.task import Task, order_tasks

#: the config sections that hold [[stimuli]], [[models]] and [[representations]]: resolved once per run
_REPRESENTATION_SECTIONS = ("stimuli", "models", "representations")


def registrations() -> tuple[Stage, ...]:
    """Every stage's registration (its module's ``STAGE``), in the order of ``repalign.stages.STAGES``."""
    return tuple(importlib.import_module(module).STAGE for _name, module, _package in STAGES)


def plan_all(config: Config) -> list[Task]:
    """Every task of the config, deduplicated by key, in dependency order.

    The config is validated once (``check_study``: a bad value fails before any stage
    plans) and its representations resolved once (``repalign.representations.resolve``);
    each stage whose section is present (even empty, e.g. a bare ``[dynamics]``) then
    gets its typed entries ({section: entries}), the resolution and the tasks planned
    before it (the R stage reads their tables)."""
    study = check_study(config)
    return plan_study(config, study)


def plan_study(config: Config, study: StudyConfig) -> list[Task]:
    """``plan_all`` of an already validated config."""
    from repalign.representations.resolve import Resolved, resolve

    resolved = Resolved({})
    if any(s in config.raw for s in _REPRESENTATION_SECTIONS):
        resolved = resolve(config, study.stimuli, study.models, study.representations)
    tasks: dict[str, Task] = {}
    for stage in registrations():
        if not any(s in config.raw for s in stage.sections):
            continue
        entries = {s: getattr(study, s) for s in stage.sections + stage.reads}
        for t in stage.plan(config, entries, resolved, list(tasks.values())):
            tasks.setdefault(t.key, t)
    return order_tasks(list(tasks.values()))
