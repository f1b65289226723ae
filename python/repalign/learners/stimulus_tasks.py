"""Category-learning tasks built from any labelled stimulus set (e.g. the offline
demo's scikit-learn digits): each simulated participant learns which stimuli
belong to category 1 from a seeded random sequence of trials."""

from __future__ import annotations

import numpy as np

from repalign.datasets import CategoryTask, StimulusSet
from repalign.errors import ValidationError

__all__ = ["stimulus_category_tasks"]


def stimulus_category_tasks(
    stimuli: StimulusSet,
    *,
    label: str = "category",
    positive=None,
    participants: int = 20,
    trials: int = 100,
    seed: int = 0,
) -> list[CategoryTask]:
    """One CategoryTask per participant over ``stimuli``.

    Category 1 holds the stimuli whose ``labels[label]`` is in ``positive``
    (default: a seeded random half of the label values, sorted). Each participant
    sees ``trials`` stimuli drawn without replacement (cycling through fresh
    permutations when ``trials`` exceeds the set) in their own seeded order.
    Task ids = participant ids ``p01``, ``p02`` …; ``concepts`` holds stimulus ids,
    so learners read features with ``key="concept"``.
    """
    if label not in stimuli.labels.columns:
        raise ValidationError(
            f"stimulus set {stimuli.name!r} has no label column {label!r}; "
            f"columns: {', '.join(map(str, stimuli.labels.columns))}"
        )
    if participants < 1 or trials < 2:
        raise ValidationError(
            f"stimulus category task: participants ≥ 1 and trials ≥ 2 required, got {participants}, {trials}"
        )
    values = np.asarray(stimuli.labels[label].astype(str))
    levels = sorted(set(values))
    if len(levels) < 2:
        raise ValidationError(f"stimulus set {stimuli.name!r}: label {label!r} has one value only ({levels})")
    rng = np.random.default_rng(seed)
    if positive is None:
        positive = sorted(rng.choice(levels, size=len(levels) // 2, replace=False).tolist())
    positive = {str(p) for p in positive}
    unknown = sorted(positive - set(levels))
    if unknown:
        raise ValidationError(
            f"stimulus category task: positive values {unknown} are not values of {label!r} ({levels})"
        )
    cats = np.isin(values, list(positive)).astype(np.int64)
    if cats.min() == cats.max():
        raise ValidationError("stimulus category task: positive must leave both categories non-empty")
    n = len(stimuli)
    tasks = []
    width = max(2, len(str(participants)))
    for p in range(participants):
        order = np.concatenate([rng.permutation(n) for _ in range(-(-trials // n))])[:trials]
        ids = tuple(stimuli.ids[i] for i in order)
        tasks.append(CategoryTask(task_id=f"p{p + 1:0{width}d}", images=ids, concepts=ids, categories=cats[order]))
    return tasks
