"""Schema of ``[[learners]]`` entries (see ``repalign.learners.plan`` for what each
task kind does).

A learner task's key hashes the entry *as written* plus a few task-kind defaults
(``learner_spec``), so the planner dumps the validated entry with
``exclude_unset=True``; the defaults below are the ones the learners use when a key
is left out. ``variant`` ("default" | "published") enters the spec only when set to
"published".
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import Field, model_validator

from repalign.config import (
    Count,
    Number,
    Positive,
    Probability,
    Section,
    Seed,
    Variant,
    check_nonempty,
    key_error,
    memory_problem,
)

TASKS = (
    "things-decisions",
    "demircan-category",
    "demircan-reward",
    "learning-dynamics",
    "demo-category",
    "demo-reward",
    "stimuli-category",
)
STIMULI_TASK_KEYS = ("stimuli", "label", "positive", "participants", "trials", "generating")


def learner_kind(task: str) -> str:
    """category | reward | multiclass: the learner a task kind runs."""
    if task in ("demircan-category", "demo-category", "stimuli-category"):
        return "category"
    if task in ("demircan-reward", "things-decisions", "demo-reward"):
        return "reward"
    return "multiclass"


#: keys that a learner kind does not take
NOT_FOR_KIND = {
    "category": ("ard", "runs", "agent"),
    "reward": ("C", "C_grid", "selection", "runs", "agent"),
    "multiclass": ("C_grid", "selection", "ard", "tasks", "key", "variant", "choices"),
}


class SimulateSpec(Section):
    """``simulate = {temperature, lapse, seed}``: simulated choices (softmax with lapses)."""

    temperature: Positive = 1.0
    lapse: Probability = 0.05
    seed: Seed | None = None  # default: the run's seed


class LearnerEntry(Section):
    """``[[learners]]``: one learner kind on one task kind, for each representation."""

    task: str  # one of TASKS
    representations: str | list[str] | None = None  # default: every representation
    name: str = ""
    tasks: int | list[str | int] | None = None  # task ids, or N = the first N (demo-*: 4)
    runs: list[int] | None = None
    agent: str = "human"
    C: Positive | None = None  # category: 1.0 (default variant); reward/multiclass learners: see their classes
    C_grid: Literal["default", "published"] | list[Number] | None = None
    selection: Literal["prequential", "train_accuracy"] | None = None  # None: the variant's rule
    pca: Count | None = None
    ard: bool = False
    key: Literal["concept", "image", "path"] = "concept"  # path: "concept/image" ids of a THINGS folder
    simulate: SimulateSpec | None = None  # demo-*: {}
    device: str | None = None
    stimuli: str | None = None
    label: str = "category"
    positive: list[str | int] | None = None
    participants: Count = 20
    trials: Annotated[int, Field(ge=2)] = 100
    generating: str | None = None
    variant: Variant = "default"
    choices: str | None = None  # human choices in the paper's format (demircan-category / -reward)

    @model_validator(mode="after")
    def _applies(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}")
        given = self.model_fields_set
        if self.task == "stimuli-category":
            if "stimuli" not in given:
                raise ValueError("task 'stimuli-category' needs 'stimuli' (a [[stimuli]] name)")
            if "generating" in given and "simulate" not in given:
                raise ValueError("'generating' needs 'simulate' (temperature, lapse, seed)")
        else:
            bad = [k for k in STIMULI_TASK_KEYS if k in given]
            if bad:
                raise ValueError(f"key(s) {bad} apply only to task 'stimuli-category'")
        bad = [k for k in NOT_FOR_KIND[learner_kind(self.task)] if k in given]
        if bad:
            raise ValueError(f"key(s) {bad} do not apply to task {self.task!r}")
        self._ranges()
        return self

    def _ranges(self) -> None:
        check_nonempty(self, ("representations",), " (leave the key out for every representation)")
        check_nonempty(self, ("runs", "positive"), " (leave the key out for the default)")
        if isinstance(self.tasks, list) and not self.tasks or isinstance(self.tasks, int) and self.tasks < 1:
            raise key_error(
                "tasks", f"expected N ≥ 1 (the first N tasks) or a non-empty list of task ids, got {self.tasks!r}"
            )
        if isinstance(self.C_grid, list) and (
            not self.C_grid or not all(isinstance(c, (int, float)) and math.isfinite(c) and c > 0 for c in self.C_grid)
        ):
            raise key_error("C_grid", f"expected a non-empty list of finite numbers > 0, got {self.C_grid!r}")
        if self.task == "stimuli-category":
            # every fit of a sequence of t trials holds a t × t kernel and its factor
            problem = memory_problem(
                16.0 * self.trials**2,
                f"{self.trials} trials",
                "a trials × trials kernel and its factor, float64, per participant",
            )
            if problem:
                raise key_error("trials", problem)
            if self.pca is not None and self.pca > self.trials:
                raise key_error(
                    "pca",
                    f"expected at most {self.trials} components (the {self.trials} trials of a "
                    f"task have no more principal components), got {self.pca}",
                )
