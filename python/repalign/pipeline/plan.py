"""Collect the tasks of every stage named in a config."""

from __future__ import annotations

import importlib

from repalign.config import Config
from repalign.pipeline.config import check_study
from repalign.task import Task, order_tasks

# (config section(s) that switch the stage on, module, planner); order = data flow.
STAGES: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("models", "stimuli", "representations"), "repalign.features", "plan_features"),
    (("models", "stimuli", "representations"), "repalign.representations", "plan_representations"),
    (("metrics",), "repalign.metrics", "plan_metrics"),
    (("learners",), "repalign.learners", "plan_learners"),
    (("embed",), "repalign.embeddings", "plan_embed"),
    (("dynamics",), "repalign.dynamics", "plan_dynamics"),
    (("r",), "repalign.r", "plan_r"),
)


def plan_all(config: Config) -> list[Task]:
    """Every task of the config, deduplicated by key, in dependency order. Every
    section is validated first (``check_study``): a bad value fails before any
    stage plans."""
    check_study(config)
    tasks: dict[str, Task] = {}
    for sections, module, planner in STAGES:
        # a section switches its stage on even when empty (e.g. a bare [dynamics])
        if not any(s in config.raw for s in sections):
            continue
        fn = getattr(importlib.import_module(module), planner)
        # the R stage reads the tables of every task planned before it
        planned = fn(config, upstream=list(tasks.values())) if planner == "plan_r" else fn(config)
        for t in planned:
            tasks.setdefault(t.key, t)
    return order_tasks(list(tasks.values()))
