"""Learners batched across models: one solve for every model × task of a study.

A study runs every model's features through the same category and reward task files
(naturalcogsci: 86 models × 1,050 category and 240 reward files). One model's tasks
do not fill a GPU (issue #31: the reward learner on an H200 was slower than 16 CPU
cores at one model's 25 participants; the category learner 2× faster at 128 tasks,
7.3× at 1,050), so on CUDA the sequences of several models are solved together:

* features of different widths are zero-padded to the widest. The learners
  standardise each feature by its own mean and s.d. (a constant feature gets s.d. 1),
  so a padded feature is 0 in every standardised row and adds nothing to any kernel
  (category: K = Z Zᵀ + 1) or Gram matrix (reward) — the same fits, to rounding;
* the models' sequences are stacked along the batch axis and solved by the learners'
  torch code (``category._category_probabilities_torch``,
  ``reward._reward_values_torch``) in one call, then split back per model.

Which back-end runs (``choose_backend``): the numba CPU kernels for CPU tensors (they
beat torch on the CPU), and on CUDA the batched torch solve once the batch reaches
``GPU_MIN_SEQUENCES`` (category: 128 sequences, where issue #31 measured the GPU 2×
faster than 16 cores; reward: 512, a rule not yet measured — ``make bench-gpu``
prints the ratio on a GPU node), below it the CPU kernels on host copies.

``simulate_category_models`` / ``simulate_reward_models`` are the learners' ``simulate``
for several models at once (the ``[[learners]]`` plan's grouped task on CUDA): each
model's trials table equals its own ``simulate`` within the solvers' tolerance (1e-6 on
the values; tests/python/test_learners_across_models.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from repalign.errors import ValidationError
from repalign.learners.category import category_probabilities
from repalign.learners.reward import reward_values

__all__ = [
    "GPU_MIN_SEQUENCES",
    "choose_backend",
    "category_probabilities_models",
    "reward_values_models",
    "simulate_category_models",
    "simulate_reward_models",
    "batchable",
]

#: smallest batch (models × tasks) solved by torch on CUDA; below it, the CPU kernels.
GPU_MIN_SEQUENCES = {"category": 128, "reward": 512}


def choose_backend(kind: str, sequences: int, device: str | torch.device) -> str:
    """ "cpu" (numba kernels) or "torch" for ``sequences`` sequences of learner ``kind``
    ("category" | "reward") whose features are on ``device``."""
    if kind not in GPU_MIN_SEQUENCES:
        raise ValidationError(f"unknown learner kind {kind!r}; valid: {', '.join(GPU_MIN_SEQUENCES)}")
    dev = torch.device(device)
    return "torch" if dev.type == "cuda" and sequences >= GPU_MIN_SEQUENCES[kind] else "cpu"


def _stack(features: Sequence[torch.Tensor], lead: int, where: str) -> tuple[torch.Tensor, list[int]]:
    """Features (B, …, d_m) per model → (M·B, …, max d) zero-padded, and the batch sizes."""
    if not features:
        raise ValidationError(f"{where}: no models")
    shapes = {tuple(x.shape[:lead]) for x in features}
    if len(shapes) != 1:
        raise ValidationError(
            f"{where}: the models' features must cover the same tasks and trials; leading shapes {sorted(shapes)}"
        )
    if len({x.device for x in features}) != 1:
        raise ValidationError(f"{where}: the models' features are on different devices")
    width = max(x.shape[-1] for x in features)
    padded = [torch.nn.functional.pad(x, (0, width - x.shape[-1])) for x in features]
    return torch.cat(padded, 0), [x.shape[0] for x in features]


def category_probabilities_models(
    features: Sequence[torch.Tensor], y: torch.Tensor, Cs, tol: float = 1e-6, max_iter: int = 200, backend: str = "auto"
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``category.category_probabilities`` for several models on the same tasks.

    features: per model (B, T, d_m) float64 (the same B tasks and T trials; widths may
    differ); y: (B, T) 0/1 categories; Cs: penalties (nC,). backend: "auto"
    (``choose_backend``), "cpu" (per model, CPU kernels) or "torch" (one batched solve).
    Returns per model (p (B, nC, T), final-fit accuracy (B, nC)); batched and per-model
    outputs agree within the solvers' tolerance (tests: 1e-6)."""
    X, sizes = _stack(features, 2, "category learner across models")
    if backend == "auto":
        backend = choose_backend("category", X.shape[0], X.device)
    if backend == "cpu":
        return [category_probabilities(x, y, Cs, tol, max_iter, backend="cpu") for x in features]
    p, acc = category_probabilities(X, y.repeat(len(features), 1), Cs, tol, max_iter, backend=backend)
    return list(zip(p.split(sizes), acc.split(sizes)))


def reward_values_models(
    features: Sequence[torch.Tensor], R: torch.Tensor, backend: str = "auto"
) -> list[torch.Tensor]:
    """``reward.reward_values`` for several models on the same tasks.

    features: per model (B, T, 2, d_m) float64; R: (B, T, 2) rewards. backend as in
    ``category_probabilities_models``. Returns per model (B, T, 2) option values."""
    X, sizes = _stack(features, 3, "reward learner across models")
    if backend == "auto":
        backend = choose_backend("reward", X.shape[0], X.device)
    if backend == "cpu":
        return [reward_values(x, R, backend="cpu") for x in features]
    out = reward_values(X, R.repeat(len(features), 1, 1), backend=backend)
    return list(out.split(sizes))


def batchable(learner) -> str | None:
    """Why ``learner`` (a CategoryLearner or RewardLearner) cannot be batched across
    models, or None if it can: only the default variant's torch solves batch (the
    published variant is scikit-learn per task; the C search by training accuracy and
    the ARD reward learner take other paths)."""
    from repalign.learners.category import CategoryLearner

    if learner.variant != "default":
        return f"variant {learner.variant!r}"
    if isinstance(learner, CategoryLearner):
        grid = learner._grid()
        if grid is not None and len(grid) > 1 and learner._selection() == "train_accuracy":
            return "selection 'train_accuracy'"
        return None
    return "ard" if learner.ard else None


def _batches(tasks: Sequence, batch_size: int):
    """The task index batches ``simulate_in_batches`` runs: same length, ≤ batch_size."""
    from repalign.learners._common import group_by

    for group in group_by(tasks, len):
        for start in range(0, len(group), batch_size):
            yield group[start : start + batch_size]


def _check_models(learner, embeddings: Sequence, names: Sequence[tuple[str, str]]) -> None:
    why = batchable(learner)
    if why is not None:
        raise ValidationError(f"learners across models: {type(learner).__name__} with {why} is not batched")
    if len(embeddings) != len(names) or not embeddings:
        raise ValidationError(f"learners across models: {len(embeddings)} feature sets for {len(names)} names")


def simulate_category_models(
    learner, task_or_tasks, embeddings: Sequence, names: Sequence[tuple[str, str]], backend: str = "auto"
) -> list[pd.DataFrame]:
    """``CategoryLearner.simulate`` of each model (embeddings[m], names[m] = (model,
    layer)) on the same tasks, each batch of tasks solved for all models in one call
    (``category_probabilities_models``). Returns one trials table per model."""
    from repalign.device import resolve_device
    from repalign.learners._common import task_features
    from repalign.learners.category import _frame, prequential_best

    _check_models(learner, embeddings, names)
    tasks = learner._checked_tasks(task_or_tasks)
    grid = learner._grid()
    use_grid = grid is not None
    if grid is None:
        grid = [1.0 if learner.C is None else float(learner.C)]
    tol = 1e-6 if learner.tol is None else float(learner.tol)
    dev = resolve_device(learner.device)
    frames = [[None] * len(tasks) for _ in embeddings]
    for idx in _batches(tasks, learner.batch_size):
        ids = [learner.stimulus_ids(tasks[i]) for i in idx]
        y = np.stack([np.asarray(tasks[i].categories, dtype=np.int64) for i in idx])
        Xs = [
            torch.as_tensor(
                np.stack(
                    [
                        task_features(s, emb, learner.pca, f"category task {tasks[i].task_id!r} ({names[m][0]})")
                        for s, i in zip(ids, idx)
                    ]
                ),
                device=dev,
            )
            for m, emb in enumerate(embeddings)
        ]
        solved = category_probabilities_models(Xs, torch.as_tensor(y, device=dev), grid, tol=tol, backend=backend)
        for m, (p, _) in enumerate(solved):
            p = p.cpu().numpy()
            best = prequential_best(p, y)
            for j, i in enumerate(idx):
                C = float(grid[best[j]]) if use_grid else None
                frames[m][i] = _frame(tasks[i], ids[j], p[j, best[j]], y[j], *names[m], C)
    return [pd.concat(f, ignore_index=True) for f in frames]


def simulate_reward_models(
    learner, task_or_tasks, embeddings: Sequence, names: Sequence[tuple[str, str]], backend: str = "auto"
) -> list[pd.DataFrame]:
    """``RewardLearner.simulate`` (default variant, no ARD) of each model on the same
    tasks, each batch solved for all models in one call (``reward_values_models``).
    Returns one trials table per model."""
    from repalign.device import resolve_device
    from repalign.learners._common import task_features
    from repalign.learners.reward import _frame

    _check_models(learner, embeddings, names)
    tasks = learner._checked_tasks(task_or_tasks, embeddings[0])
    dev = resolve_device(learner.device)
    frames = [[None] * len(tasks) for _ in embeddings]
    for idx in _batches(tasks, learner.batch_size):
        ids = [learner.stimulus_ids(tasks[i]) for i in idx]
        Rw = np.stack([np.asarray(tasks[i].rewards, dtype=np.float64) for i in idx])
        Xs = [
            torch.as_tensor(
                np.stack(
                    [
                        task_features(
                            s.reshape(-1), emb, learner.pca, f"reward task {tasks[i].task_id!r} ({names[m][0]})"
                        ).reshape(len(s), 2, -1)
                        for s, i in zip(ids, idx)
                    ]
                ),
                device=dev,
            )
            for m, emb in enumerate(embeddings)
        ]
        solved = reward_values_models(Xs, torch.as_tensor(Rw, device=dev), backend=backend)
        for m, V in enumerate(solved):
            V = V.cpu().numpy()
            for j, i in enumerate(idx):
                frames[m][i] = _frame(tasks[i], ids[j], V[j], Rw[j], *names[m])
    return [pd.concat(f, ignore_index=True) for f in frames]
