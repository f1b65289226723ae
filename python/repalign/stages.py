"""The pipeline's stages, in data-flow order: the one list of them.

``STAGES`` names each stage (the ``Task.stage`` of its tasks), the module holding its
registration (``STAGE``, a ``Stage``: its config sections, section model(s), planner
and task functions) and the package it lives in. Everything that needs the order reads
it from here: ``repalign.pipeline.plan.plan_all`` (planning order: a stage sees the
tasks of the stages before it), the layering test (a stage imports only earlier ones),
and the docs' stage table (checked by a test).

This module imports nothing of repalign, so any layer may read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: (stage name, registration module, package) — earliest first
STAGES: tuple[tuple[str, str, str], ...] = (
    ("features", "repalign.features.plan", "features"),
    ("representations", "repalign.representations.resolve", "representations"),
    ("metrics", "repalign.metrics.plan", "metrics"),
    ("learners", "repalign.learners.plan", "learners"),
    ("embed", "repalign.embeddings.plan", "embeddings"),
    ("dynamics", "repalign.dynamics.plan", "dynamics"),
    ("r", "repalign.r_stage", "r_stage"),
)


@dataclass(frozen=True)
class Stage:
    """One stage's registration, in its own module (the one place per stage).

    name: as in ``STAGES``; sections: the config sections that switch it on (even
    empty, e.g. a bare ``[dynamics]``); models: {section: its pydantic model};
    plan(study, reps, upstream) -> tasks, where ``study`` is the validated
    ``StudyConfig`` with the run's ``Config`` (``repalign.pipeline.plan.Study``),
    ``reps`` the run's {name: Representation} (resolved once) and ``upstream``
    the tasks planned by the stages before it; tasks: the module-level functions
    its tasks run (what a worker imports); reads: other sections whose validated
    entries its planner reads (they do not switch it on), e.g. the [[stimuli]] sets.
    """

    name: str
    sections: tuple[str, ...]
    plan: Callable[..., list]
    models: dict[str, Any] = field(default_factory=dict)
    tasks: tuple[Callable[..., Any], ...] = ()
    reads: tuple[str, ...] = ()
