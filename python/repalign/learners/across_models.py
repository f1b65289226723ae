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
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from repalign.errors import ValidationError
from repalign.learners.category import category_probabilities
from repalign.learners.reward import reward_values

__all__ = ["GPU_MIN_SEQUENCES", "choose_backend", "category_probabilities_models", "reward_values_models"]

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
