"""Binary category learner: trial-by-trial L2 logistic regression (liblinear
convention), batched over participants and the penalty grid.

Semantics (Demircan et al. 2024, made exact). At trial t (1-based) the learner
predicts p_t = P(category 1 | x_t) from the logistic regression fitted on trials
1..t−1; the features of those trials are standardised by their own mean and
population s.d. (constant feature → s.d. 1), and x_t by the same statistics. The
fit minimises

    ½‖w‖² + ½b² + C Σ_i log(1 + exp(−y_i (w·z_i + b))),   y_i ∈ {−1, +1},

i.e. scikit-learn's ``LogisticRegression(solver="liblinear", C=C)``, whose intercept
is a feature of constant value 1 and is penalised like a weight. Until both
categories have been seen the learner predicts 0.5.

How it is computed. By the representer theorem the weights lie in the span of
the (augmented) training points, so each fit is a t×t kernel problem with
K = Z Zᵀ + 1 (the +1 is the intercept feature). Newton's method in that dual
(Rasmussen & Williams 2006, alg. 3.1, with the likelihood scaled by C) is solved
to machine precision, warm-started from the previous trial's solution, for all
participants × C values at once. Cost per trial and Newton step: one t×t Cholesky
per (participant, C); the kernel is shared across C.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from repalign.datasets import CategoryTask, Embedding
from repalign.errors import ValidationError
from repalign.learners._common import DTYPE, as_task_list, group_by, resolve_device, standardize, task_features

__all__ = ["CategoryLearner", "DEFAULT_C_GRID", "category_probabilities"]

#: 17 penalties, log-spaced 1e-4 … 1e4 (two per decade).
DEFAULT_C_GRID = tuple(float(c) for c in np.logspace(-4, 4, 17))
SELECTIONS = ("prequential", "train_accuracy")
_STEPS = torch.tensor([2.0 ** -k for k in range(0, 31)], dtype=DTYPE)  # line-search step sizes


def _newton(K: torch.Tensor, a: torch.Tensor, y01: torch.Tensor, C: torch.Tensor, tol: float, max_iter: int) -> torch.Tensor:
    """Minimise ½aᵀKa + C Σ log(1+exp(−ỹ∘Ka)) over a, batched.

    K: (B, 1, n, n) kernel (shared over the C axis); a: (B, nC, n) start;
    y01: (B, 1, n) labels 0/1; C: (1, nC, 1). Returns the optimal a (B, nC, n).
    Newton steps with a backtracking line search on the objective (monotone).
    """
    sign = 2 * y01 - 1
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    steps = _STEPS.to(K.device)

    def objective(quad, f):
        return quad + (C * torch.nn.functional.softplus(-sign * f)).sum(-1)

    f = (K @ a.unsqueeze(-1)).squeeze(-1)
    for _ in range(max_iter):
        p = torch.sigmoid(f)
        w = C * p * (1 - p)
        s = w.sqrt()
        b = w * f + C * (y01 - p)
        Kb = (K @ b.unsqueeze(-1)).squeeze(-1)
        Bm = eye + s.unsqueeze(-1) * K * s.unsqueeze(-2)
        L, info = torch.linalg.cholesky_ex(Bm)
        v = torch.cholesky_solve((s * Kb).unsqueeze(-1), L).squeeze(-1)
        a_new = b - s * v
        delta = a_new - a
        Kd = (K @ delta.unsqueeze(-1)).squeeze(-1)
        # objective along a + η·delta for every step size at once
        q0 = 0.5 * (a * f).sum(-1, keepdim=True)
        q1 = (delta * f).sum(-1, keepdim=True)
        q2 = 0.5 * (delta * Kd).sum(-1, keepdim=True)
        eta = steps.view(1, 1, -1)
        quad = q0 + eta * q1 + eta**2 * q2  # (B, nC, S)
        fe = f.unsqueeze(-2) + eta.unsqueeze(-1) * Kd.unsqueeze(-2)  # (B, nC, S, n)
        obj = quad + (C.unsqueeze(-1) * torch.nn.functional.softplus(-sign.unsqueeze(-2) * fe)).sum(-1)
        base = objective(q0.squeeze(-1), f).unsqueeze(-1)
        ok = obj <= base + 1e-12 * base.abs()
        first = torch.where(ok.any(-1), ok.float().argmax(-1), torch.full_like(ok[..., 0], steps.numel(), dtype=torch.long))
        step = torch.cat([steps, steps.new_zeros(1)])[first]
        a = a + step.unsqueeze(-1) * delta
        f_new = f + step.unsqueeze(-1) * Kd
        change = (f_new - f).abs().max()
        f = f_new
        if change.item() < tol:
            break
    return a


def _objective(K: torch.Tensor, a: torch.Tensor, y01: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    f = (K @ a.unsqueeze(-1)).squeeze(-1)
    return 0.5 * (a * f).sum(-1) + (C * torch.nn.functional.softplus(-(2 * y01 - 1) * f)).sum(-1)


def category_probabilities(
    X: torch.Tensor, y: torch.Tensor, Cs, tol: float = 1e-9, max_iter: int = 200
) -> tuple[torch.Tensor, torch.Tensor]:
    """Trial-wise P(category 1) for a batch of sequences of equal length.

    X: (B, T, d) float64 features in trial order; y: (B, T) int 0/1 true
    categories; Cs: penalties (nC,). Returns (p (B, nC, T), final_train_accuracy
    (B, nC)): p[b, c, t] predicts trial t from trials < t; the accuracy is that of
    the fit on all T trials on those same trials (the reference's selection rule).

    Warm starts: at each trial the penalties are solved in ascending order; each
    starts from whichever is better (lower objective) of its own solution at the
    previous trial (extended by a zero) and the solution for the next-smaller C at
    this trial. Without the second candidate, weakly penalised (large C) fits of
    nearly separable data spend dozens of damped Newton steps after every error.
    """
    B, T, d = X.shape
    dev = X.device
    order = np.argsort(np.asarray(Cs, dtype=np.float64), kind="stable")
    Cv = np.asarray(Cs, dtype=np.float64)
    nC = len(Cv)
    yf = y.to(DTYPE)
    p = torch.full((B, nC, T), 0.5, dtype=DTYPE, device=dev)
    seen1 = torch.cumsum(yf, 1)
    seen0 = torch.cumsum(1 - yf, 1)
    sols = [torch.zeros((B, 1, 0), dtype=DTYPE, device=dev) for _ in range(nC)]
    acc = torch.full((B, nC), float("nan"), dtype=DTYPE, device=dev)
    for t in range(1, T + 1):  # t = number of training trials
        both = (seen1[:, t - 1] > 0) & (seen0[:, t - 1] > 0)
        sols = [torch.cat([a, a.new_zeros(B, 1, 1)], dim=-1) for a in sols]
        if not bool(both.any()):
            continue
        if t < T:
            Z, zt = standardize(X[:, :t], X[:, t : t + 1])
        else:
            (Z,) = standardize(X)
            zt = None
        K = (Z @ Z.transpose(-1, -2) + 1).unsqueeze(1)  # (B, 1, t, t)
        yt = yf[:, None, :t]
        below = None
        for j in order:
            C = torch.full((1, 1, 1), float(Cv[j]), dtype=DTYPE, device=dev)
            start = sols[j]
            if below is not None:
                better = _objective(K, below, yt, C) < _objective(K, start, yt, C)
                start = torch.where(better.unsqueeze(-1), below, start)
            a = _newton(K, start, yt, C, tol, max_iter)
            sols[j] = below = a
        a = torch.cat(sols, dim=1)  # (B, nC, t)
        if zt is not None:
            k = (Z @ zt.transpose(-1, -2)).squeeze(-1) + 1  # (B, t)
            f_t = (a * k.unsqueeze(1)).sum(-1)
            p[:, :, t] = torch.where(both.view(B, 1), torch.sigmoid(f_t), p[:, :, t])
        else:
            f = (K @ a.unsqueeze(-1)).squeeze(-1)
            acc = ((f > 0).to(DTYPE) == yf.unsqueeze(1)).to(DTYPE).mean(-1)
            acc = torch.where(both.view(B, 1), acc, torch.full_like(acc, float("nan")))
    return p, acc


@dataclass
class CategoryLearner:
    """Trial-by-trial binary category learner (see the module docstring).

    C: inverse penalty when ``C_grid`` is None. C_grid: penalties to choose from,
    per participant, by ``selection``: "prequential" (default; the summed
    log-probability of the trial-wise predictions of the true categories — uses
    no future trial) or "train_accuracy" (the reference rule: accuracy of the final
    fit on all trials on those trials — it leaks future trials into the choice).
    Ties go to the first C in grid order. pca: project features on k principal
    components of the task's stimuli. key: "concept" (THINGS concept ids, e.g.
    SPoSE) or "image" (image path stems, e.g. ``anvil_08n``) to look up features.
    batch_size: tasks per batch; device: torch device (None → CUDA if present).
    """

    C: float = 1.0
    C_grid: tuple | list | None = None
    selection: str = "prequential"
    pca: int | None = None
    key: str = "concept"
    batch_size: int = 64
    device: str | None = None
    tol: float = 1e-9

    def _check(self) -> None:
        if self.selection not in SELECTIONS:
            raise ValidationError(f"CategoryLearner: selection must be one of {SELECTIONS}, got {self.selection!r}")
        grid = self.C_grid if self.C_grid is not None else [self.C]
        if len(grid) == 0 or any(not np.isfinite(c) or c <= 0 for c in grid):
            raise ValidationError(f"CategoryLearner: penalties C must be positive and finite, got {list(grid)}")
        if self.key not in ("concept", "image"):
            raise ValidationError(f"CategoryLearner: key must be 'concept' or 'image', got {self.key!r}")

    def stimulus_ids(self, task: CategoryTask) -> list[str]:
        if self.key == "concept":
            return list(task.concepts)
        return [s.replace("\\/", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0] for s in task.images]

    def simulate(self, task_or_tasks, features: Embedding, model: str = "model", layer: str = "") -> pd.DataFrame:
        """Trial table (``trials`` schema) of the learner on each task: columns task,
        participant (= task id), trial (1-based), model, layer, stimulus_id, value =
        P(category 1), true_category (0/1), and C (the chosen one) when a grid is used."""
        self._check()
        tasks = as_task_list(task_or_tasks, CategoryTask, "CategoryLearner")
        for t in tasks:
            cats = np.asarray(t.categories)
            if len(t) < 2 or cats.shape != (len(t),):
                raise ValidationError(f"category task {t.task_id!r}: needs ≥2 trials with one category each")
            if len(np.unique(cats)) < 2 or not np.isin(cats, (0, 1)).all():
                raise ValidationError(f"category task {t.task_id!r}: categories must be 0/1 and both present")
        grid = list(self.C_grid) if self.C_grid is not None else [float(self.C)]
        dev = resolve_device(self.device)
        frames = [None] * len(tasks)
        for group in group_by(tasks, len):
            for start in range(0, len(group), self.batch_size):
                idx = group[start : start + self.batch_size]
                ids = [self.stimulus_ids(tasks[i]) for i in idx]
                X = np.stack([task_features(s, features, self.pca, f"category task {tasks[i].task_id!r}") for s, i in zip(ids, idx)])
                y = np.stack([np.asarray(tasks[i].categories, dtype=np.int64) for i in idx])
                p, acc = category_probabilities(torch.as_tensor(X, device=dev), torch.as_tensor(y, device=dev), grid, tol=self.tol)
                p, acc = p.cpu().numpy(), acc.cpu().numpy()
                if len(grid) > 1:
                    if self.selection == "prequential":
                        score = np.where(y[:, None, :] == 1, np.log(p), np.log1p(-p)).sum(-1)
                    else:
                        score = acc
                    best = np.argmax(score, axis=1)  # first maximum = first in grid order
                else:
                    best = np.zeros(len(idx), dtype=np.int64)
                for j, i in enumerate(idx):
                    task = tasks[i]
                    df = pd.DataFrame(
                        {
                            "task": task.task_id,
                            "participant": task.task_id,
                            "trial": np.arange(1, len(task) + 1, dtype=np.int64),
                            "model": model,
                            "layer": layer,
                            "stimulus_id": ids[j],
                            "value": p[j, best[j]],
                            "true_category": y[j],
                        }
                    )
                    if self.C_grid is not None:
                        df["C"] = float(grid[best[j]])
                    frames[i] = df
        return pd.concat(frames, ignore_index=True)
