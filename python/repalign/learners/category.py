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

from repalign.config import check_variant
from repalign.datasets import CategoryTask, Embedding
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.learners._common import (
    DTYPE,
    KEYS,
    as_task_list,
    image_id,
    simulate_in_batches,
    standardize,
    task_features,
)
from repalign.learners._cpu import run_cpu, use_cpu_kernels
from repalign.learners._published import PUBLISHED_C_GRID

__all__ = ["CategoryLearner", "DEFAULT_C_GRID", "PUBLISHED_C_GRID", "category_probabilities"]

#: 17 penalties, log-spaced 1e-4 … 1e4 (two per decade).
DEFAULT_C_GRID = tuple(float(c) for c in np.logspace(-4, 4, 17))
SELECTIONS = ("prequential", "train_accuracy")
_STEPS = torch.tensor([2.0**-k for k in range(0, 31)], dtype=DTYPE)  # line-search step sizes


def _objective(K, a, y01, C, mask):
    """½aᵀKa + C Σ_i mask_i log(1 + exp(−ỹ_i (Ka)_i)), batched over the leading axis."""
    f = (K @ a.unsqueeze(-1)).squeeze(-1)
    return 0.5 * (a * f).sum(-1) + (C * mask * torch.nn.functional.softplus(-(2 * y01 - 1) * f)).sum(-1)


def _newton(K, a, y01, C, mask, tol: float, max_iter: int) -> torch.Tensor:
    """Minimise ½aᵀKa + C Σ mask_i log(1+exp(−ỹ_i (Ka)_i)) over a, batched.

    K: (E, n, n) kernels, zero in padded rows/columns; a: (E, n) start (0 where
    padded); y01: (E, n) labels 0/1; C: (E, 1); mask: (E, n) 1 for real trials.
    Newton steps (Rasmussen & Williams alg. 3.1) with a backtracking line search
    on the objective, each element until its own full Newton step moves the
    logits by < tol (the error left is then ~tol², quadratic convergence); padded
    entries stay exactly 0.
    """
    a = a.clone()
    f_all = (K @ a.unsqueeze(-1)).squeeze(-1)
    idx = torch.arange(K.shape[0], device=K.device)
    eye = torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
    steps = _STEPS.to(K.device)
    for _ in range(max_iter):
        Ki, ai, fi = K[idx], a[idx], f_all[idx]
        Cm = C[idx] * mask[idx]
        sign = 2 * y01[idx] - 1
        p = torch.sigmoid(fi)
        w = Cm * p * (1 - p)
        s = w.sqrt()
        b = w * fi + Cm * (y01[idx] - p)
        Kb = (Ki @ b.unsqueeze(-1)).squeeze(-1)
        Bm = eye + s.unsqueeze(-1) * Ki * s.unsqueeze(-2)
        L, _ = torch.linalg.cholesky_ex(Bm)
        v = torch.cholesky_solve((s * Kb).unsqueeze(-1), L).squeeze(-1)
        delta = b - s * v - ai
        Kd = (Ki @ delta.unsqueeze(-1)).squeeze(-1)
        # objective along a + η·delta: quadratic part in closed form
        q0 = 0.5 * (ai * fi).sum(-1, keepdim=True)
        q1 = (delta * fi).sum(-1, keepdim=True)
        q2 = 0.5 * (delta * Kd).sum(-1, keepdim=True)
        base = q0 + (Cm * torch.nn.functional.softplus(-sign * fi)).sum(-1, keepdim=True)
        full = q0 + q1 + q2 + (Cm * torch.nn.functional.softplus(-sign * (fi + Kd))).sum(-1, keepdim=True)
        if bool((full <= base + 1e-12 * base.abs()).all()):
            step = torch.ones_like(base)
        else:  # some elements need a shorter step: try every step size at once
            eta = steps.view(1, -1)
            fe = fi.unsqueeze(-2) + eta.unsqueeze(-1) * Kd.unsqueeze(-2)  # (E, S, n)
            obj = (
                q0
                + eta * q1
                + eta**2 * q2
                + (Cm.unsqueeze(-2) * torch.nn.functional.softplus(-sign.unsqueeze(-2) * fe)).sum(-1)
            )
            ok = obj <= base + 1e-12 * base.abs()
            first = torch.where(
                ok.any(-1), ok.to(torch.int64).argmax(-1), torch.full_like(ok[..., 0], steps.numel(), dtype=torch.int64)
            )
            step = torch.cat([steps, steps.new_zeros(1)])[first].unsqueeze(-1)
        a[idx] = ai + step * delta
        f_all[idx] = fi + step * Kd
        # stop on the full Newton step (not the damped one): near the optimum
        # Newton converges quadratically, so the error left is ~ its square
        going = Kd.abs().amax(-1) >= tol
        if not bool(going.any()):
            break
        idx = idx[going]
    return a


def _grid_matrix(Cs, B: int) -> tuple[np.ndarray, np.ndarray]:
    """(B, nC) ascending penalties and, per column, the index in the caller's order."""
    Cv = np.asarray(Cs, dtype=np.float64)
    if Cv.ndim == 1:  # one grid for all: solve in ascending order
        order = np.argsort(Cv, kind="stable")
        return np.ascontiguousarray(np.broadcast_to(Cv[order], (B, len(Cv)))), order
    if Cv.ndim != 2 or Cv.shape[0] != B or (np.diff(Cv, axis=1) < 0).any():
        raise ValueError("per-sequence penalties must have shape (B, nC) with ascending rows")
    return np.ascontiguousarray(Cv), np.arange(Cv.shape[1])


def _as_numpy(X: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """C-contiguous float64 arrays for the CPU kernels."""
    return (
        np.ascontiguousarray(X.detach().cpu().numpy(), dtype=np.float64),
        np.ascontiguousarray(y.detach().cpu().numpy(), dtype=np.float64),
    )


def _warn_unconverged(stats: np.ndarray, where: str) -> None:
    bad = int(stats[:, 2].sum())
    if bad:
        import warnings

        warnings.warn(
            f"{where}: {bad} logistic-regression fit(s) stopped at max_iter before converging",
            RuntimeWarning,
            stacklevel=3,
        )


def category_probabilities(
    X: torch.Tensor, y: torch.Tensor, Cs, tol: float = 1e-6, max_iter: int = 200, backend: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Trial-wise P(category 1) for a batch of sequences of equal length.

    X: (B, T, d) float64 features in trial order; y: (B, T) int 0/1 true
    categories; Cs: penalties (nC,), or (B, nC) with ascending rows (a grid per
    sequence). Returns (p (B, nC, T), final_train_accuracy
    (B, nC)): p[b, c, t] predicts trial t from trials < t; the accuracy is that of
    the fit on all T trials on those same trials (the reference's selection rule).

    Warm starts and batching: the fit for (t trials, j-th smallest C) starts from
    whichever is better (lower objective) of the fit (t−1, j) extended by a zero
    and the fit (t, j−1). Without the second candidate, weakly penalised (large C)
    fits of nearly separable data spend dozens of damped Newton steps after each
    error. Both candidates lie on the previous anti-diagonal t + j − 1, so all
    fits of one anti-diagonal (every participant and every C) are solved as one
    batch, zero-padded to the largest t (torch backend), or each participant's
    fits in that order, participants in parallel threads (CPU backend, lazy
    Newton steps; ``repalign.learners._category_cpu``).

    backend: "auto" (the CPU kernels for CPU tensors, torch on other devices),
    "cpu" or "torch". Both solve every fit until a full step moves the logits by
    less than ``tol``; they agree to ~tol.
    """
    if use_cpu_kernels(backend, X):
        return _category_probabilities_cpu(X, y, Cs, tol, max_iter)
    return _category_probabilities_torch(X, y, Cs, tol, max_iter)


def _category_probabilities_cpu(X, y, Cs, tol, max_iter):
    from repalign.learners._category_cpu import category_sequence

    B, T, d = X.shape
    Cmat, order = _grid_matrix(Cs, B)
    Xn, yn = _as_numpy(X, y)
    nC = Cmat.shape[1]
    P = np.full((B, nC, T), 0.5)
    acc = np.full((B, nC), np.nan)
    stats = np.zeros((B, 3), dtype=np.int64)
    run_cpu(lambda b: category_sequence(Xn[b], yn[b], Cmat[b], float(tol), int(max_iter), P[b], acc[b], stats[b]), B)
    _warn_unconverged(stats, "category learner")
    back = np.argsort(order)  # columns back in the caller's order
    return torch.as_tensor(P[:, back]), torch.as_tensor(acc[:, back])


def _category_probabilities_torch(X, y, Cs, tol, max_iter):
    B, T, d = X.shape
    dev = X.device
    Cmat, order = _grid_matrix(Cs, B)
    Ct = torch.as_tensor(Cmat, dtype=DTYPE, device=dev)
    nC = Cmat.shape[1]
    yf = y.to(DTYPE)
    p = torch.full((B, nC, T), 0.5, dtype=DTYPE, device=dev)
    both = (torch.cumsum(yf, 1) > 0) & (torch.cumsum(1 - yf, 1) > 0)  # (B, T): after trial t+1
    acc = torch.full((B, nC), float("nan"), dtype=DTYPE, device=dev)
    kern: dict[int, tuple] = {}
    sol: list = [None] * nC  # sol[r]: (B, t) fit of the r-th smallest C at its latest t
    for step in range(1, T + nC):
        if step <= T:
            if step < T:
                Z, zt = standardize(X[:, :step], X[:, step : step + 1])
                kt = (Z @ zt.transpose(-1, -2)).squeeze(-1) + 1  # (B, t) kernel row of the predicted trial
            else:
                (Z,) = standardize(X)
                kt = None
            kern[step] = (Z @ Z.transpose(-1, -2) + 1, kt)
        kern.pop(step - nC, None)
        active = [(r, step - r) for r in range(nC) if 1 <= step - r <= T]
        n = max(t for _, t in active)
        E = B * len(active)
        K = X.new_zeros(E, n, n)
        mask = X.new_zeros(E, n)
        ys = X.new_zeros(E, n)
        C = X.new_empty(E, 1)
        own = X.new_zeros(E, n)
        lower = X.new_zeros(E, n)
        has_lower = torch.zeros(E, dtype=torch.bool, device=dev)
        for i, (r, t) in enumerate(active):
            sl = slice(i * B, (i + 1) * B)
            K[sl, :t, :t] = kern[t][0]
            mask[sl, :t] = 1
            ys[sl, :t] = yf[:, :t]
            C[sl] = Ct[:, r : r + 1]
            if sol[r] is not None:
                own[sl, : t - 1] = sol[r]
                # the new trial's coefficient from the optimality condition
                # a_i = C (y_i − p_i) at the previous fit's prediction of it
                own[sl, t - 1] = Ct[:, r] * (yf[:, t - 1] - p[:, int(order[r]), t - 1])
            if r > 0 and sol[r - 1] is not None and sol[r - 1].shape[-1] == t:
                lower[sl, :t] = sol[r - 1]
                has_lower[sl] = True
        start = own
        if bool(has_lower.any()):
            better = has_lower & (_objective(K, lower, ys, C, mask) < _objective(K, own, ys, C, mask))
            start = torch.where(better.unsqueeze(-1), lower, own)
        a = _newton(K, start, ys, C, mask, tol, max_iter)
        for i, (r, t) in enumerate(active):
            sl = slice(i * B, (i + 1) * B)
            sol[r] = a[sl, :t]
            j = int(order[r])
            Kt, kt = kern[t]
            ok = both[:, t - 1]
            if kt is not None:
                p[:, j, t] = torch.where(ok, torch.sigmoid((sol[r] * kt).sum(-1)), p[:, j, t])
            else:
                f = (Kt @ sol[r].unsqueeze(-1)).squeeze(-1)
                a_j = ((f > 0).to(DTYPE) == yf).to(DTYPE).mean(-1)
                acc[:, j] = torch.where(ok, a_j, torch.full_like(a_j, float("nan")))
    return p, acc


def final_fit_accuracy(
    X: torch.Tensor, y: torch.Tensor, Cs, tol: float = 1e-6, max_iter: int = 200, backend: str = "auto"
) -> torch.Tensor:
    """Training accuracy (B, nC) of the fit on all T trials for each C (the
    reference's selection rule), without the trial-wise sequence: the C values
    are solved in ascending order, each from the previous one's solution.
    backend as in ``category_probabilities``."""
    B, T, d = X.shape
    if use_cpu_kernels(backend, X):
        from repalign.learners._category_cpu import final_accuracy

        Cmat, order = _grid_matrix(np.asarray(Cs, dtype=np.float64).reshape(-1), B)
        Xn, yn = _as_numpy(X, y)
        acc = np.empty((B, Cmat.shape[1]))
        stats = np.zeros((B, 3), dtype=np.int64)
        run_cpu(lambda b: final_accuracy(Xn[b], yn[b], Cmat[b], float(tol), int(max_iter), acc[b], stats[b]), B)
        _warn_unconverged(stats, "category learner (final fits)")
        return torch.as_tensor(acc[:, np.argsort(order)])
    Cv = np.asarray(Cs, dtype=np.float64)
    (Z,) = standardize(X)
    K = Z @ Z.transpose(-1, -2) + 1
    yf = y.to(DTYPE)
    mask = torch.ones_like(yf)
    a = torch.zeros_like(yf)
    acc = torch.empty((B, len(Cv)), dtype=DTYPE, device=X.device)
    for j in np.argsort(Cv, kind="stable"):
        C = torch.full((B, 1), float(Cv[j]), dtype=DTYPE, device=X.device)
        a = _newton(K, a, yf, C, mask, tol, max_iter)
        f = (K @ a.unsqueeze(-1)).squeeze(-1)
        acc[:, j] = ((f > 0).to(DTYPE) == yf).to(DTYPE).mean(-1)
    return acc


#: penalties below the chosen C solved only to warm-start it (factors of √10)
_LADDER = 10.0 ** (-0.5 * np.arange(4, -1, -1))


@dataclass
class CategoryLearner:
    """Trial-by-trial binary category learner (see the module docstring).

    Source: Demircan et al. (2024), candemircan/naturalcogsci
    ``naturalcogsci/learners.py`` (CategoryLearner) and ``bin/run_learners.py``
    (``fit_regulariser``).

    variant: "default" (the exact semantics of the module docstring) or
    "published". The published variant reproduces the published code's in-place
    standardisation side effect, by which every fit changes the features that all
    later fits see, the 17 fits of the C search and the final fit included.
    It chooses C from ``PUBLISHED_C_GRID`` by the last fit's training accuracy and
    calls scikit-learn's liblinear with the seed's settings (max_iter 5000, default
    tol) on the CPU, one task at a time (details: ``repalign.learners._published``).

    C: inverse penalty when ``C_grid`` is None (default variant: 1.0 when not
    given; published variant: given → one pass at that C, no search). C_grid:
    penalties to choose from — a list, "default" (``DEFAULT_C_GRID``, 17 values
    1e-4…1e4) or "published" (``PUBLISHED_C_GRID``, the seed's 17 values
    1e-4…20; the published variant's grid when neither C nor C_grid is given) —
    per participant, by ``selection``: "prequential" (default variant's default;
    the summed log-probability of the trial-wise predictions of the true
    categories — uses no future trial) or "train_accuracy" (the reference rule,
    the only one of the published variant: accuracy of the final fit on all trials
    on those trials — it leaks future trials into the choice). Ties go to the
    first C in grid order. pca: default variant — project features on k principal
    components of the task's unique stimuli; published variant — as the seed's
    transform="pca": PCA(k) of the trials' rows as left by the C search, before
    the final pass. key: "concept" (THINGS concept ids, e.g. SPoSE), "image"
    (image path stems, e.g. ``anvil_08n``) or "path" (concept folder / stem,
    e.g. ``anvil/anvil_08n``: the ids of a ``[[stimuli]]`` folder set at THINGS'
    ``object_images``) to look up features. batch_size: tasks
    per batch; device: torch device (None → CUDA if present); tol: the default
    variant's convergence tolerance (1e-6 when not given).
    """

    C: float | None = None
    C_grid: tuple | list | str | None = None
    selection: str | None = None
    pca: int | None = None
    key: str = "concept"
    batch_size: int = 64
    device: str | None = None
    tol: float | None = None
    variant: str = "default"

    def _grid(self) -> list[float] | None:
        if isinstance(self.C_grid, str):
            if self.C_grid == "default":
                return list(DEFAULT_C_GRID)
            if self.C_grid == "published":
                return list(PUBLISHED_C_GRID)
            raise ValidationError(
                f"CategoryLearner: C_grid must be a list of C, 'default' or 'published', got {self.C_grid!r}"
            )
        if self.C_grid is None and self.C is None and self.variant == "published":
            return list(PUBLISHED_C_GRID)
        return None if self.C_grid is None else [float(c) for c in self.C_grid]

    def _selection(self) -> str:
        if self.selection is not None:
            return self.selection
        return "train_accuracy" if self.variant == "published" else "prequential"

    def _check(self) -> None:
        check_variant(self.variant, "CategoryLearner")
        if self._selection() not in SELECTIONS:
            raise ValidationError(f"CategoryLearner: selection must be one of {SELECTIONS}, got {self.selection!r}")
        if self.variant == "published":
            if self._selection() != "train_accuracy":
                raise ValidationError(
                    "CategoryLearner: variant='published' chooses C by training accuracy; "
                    f"selection must be 'train_accuracy' or unset, got {self.selection!r}"
                )
            if self.tol is not None:
                raise ValidationError(
                    "CategoryLearner: variant='published' uses scikit-learn's default tol; do not set tol"
                )
            if self.device not in (None, "cpu"):
                raise ValidationError(
                    "CategoryLearner: variant='published' runs scikit-learn on the CPU; device must be unset or "
                    f"'cpu', got {self.device!r}"
                )
            if self.C is not None and self.C_grid is not None:
                raise ValidationError(
                    "CategoryLearner: variant='published' takes either C (one pass) or C_grid (search), not both"
                )
        grid = self._grid()
        if grid is None:
            grid = [1.0 if self.C is None else self.C]
        if len(grid) == 0 or any(not np.isfinite(c) or c <= 0 for c in grid):
            raise ValidationError(f"CategoryLearner: penalties C must be positive and finite, got {list(grid)}")
        if self.key not in KEYS:
            raise ValidationError(f"CategoryLearner: key must be 'concept', 'image' or 'path', got {self.key!r}")
        if self.tol is not None and not (np.isfinite(self.tol) and self.tol > 0):
            raise ValidationError(f"CategoryLearner: tol must be positive, got {self.tol}")

    def stimulus_ids(self, task: CategoryTask) -> list[str]:
        if self.key == "concept":
            return list(task.concepts)
        return [image_id(s, self.key) for s in task.images]

    def simulate(self, task_or_tasks, features: Embedding, model: str = "model", layer: str = "") -> pd.DataFrame:
        """Trial table (``trials`` schema) of the learner on each task: columns task,
        participant (= task id), trial (1-based), model, layer, stimulus_id, value =
        P(category 1), true_category (0/1), and C (the chosen one) when a grid is used."""
        tasks = self._checked_tasks(task_or_tasks)
        if self.variant == "published":
            return self._simulate_published(tasks, features, model, layer)
        grid = self._grid()
        use_grid = grid is not None
        if grid is None:
            grid = [1.0 if self.C is None else float(self.C)]
        tol = 1e-6 if self.tol is None else float(self.tol)
        selection = self._selection()
        dev = resolve_device(self.device)

        def run_batch(idx: list[int]) -> list[pd.DataFrame]:
            ids = [self.stimulus_ids(tasks[i]) for i in idx]
            X = np.stack(
                [task_features(s, features, self.pca, f"category task {tasks[i].task_id!r}") for s, i in zip(ids, idx)]
            )
            y = np.stack([np.asarray(tasks[i].categories, dtype=np.int64) for i in idx])
            Xt, yt = torch.as_tensor(X, device=dev), torch.as_tensor(y, device=dev)
            if len(grid) > 1 and selection == "train_accuracy":
                # the rule needs only the final fits to choose C; then one
                # sequence per participant, warm-started along a short C ladder
                acc = final_fit_accuracy(Xt, yt, grid, tol=tol).cpu().numpy()
                best = np.argmax(acc, axis=1)  # first maximum = first in grid order
                ladder = np.asarray(grid)[best][:, None] * _LADDER[None, :]
                p = category_probabilities(Xt, yt, ladder, tol=tol)[0][:, -1:].cpu().numpy()
                pick = np.zeros(len(idx), dtype=np.int64)
            else:
                p, _ = category_probabilities(Xt, yt, grid, tol=tol)
                p = p.cpu().numpy()
                pick = best = prequential_best(p, y)
            return [
                _frame(tasks[i], ids[j], p[j, pick[j]], y[j], model, layer, float(grid[best[j]]) if use_grid else None)
                for j, i in enumerate(idx)
            ]

        return simulate_in_batches(tasks, len, self.batch_size, run_batch)

    def _checked_tasks(self, task_or_tasks) -> list[CategoryTask]:
        """The learner's settings and the tasks checked (every check before any work)."""
        self._check()
        tasks = as_task_list(task_or_tasks, CategoryTask, "CategoryLearner")
        for t in tasks:
            cats = np.asarray(t.categories)
            if len(t) < 2 or cats.shape != (len(t),):
                raise ValidationError(f"category task {t.task_id!r}: needs ≥2 trials with one category each")
            if len(np.unique(cats)) < 2 or not np.isin(cats, (0, 1)).all():
                raise ValidationError(f"category task {t.task_id!r}: categories must be 0/1 and both present")
        return tasks

    def _simulate_published(self, tasks, features: Embedding, model: str, layer: str) -> pd.DataFrame:
        """The seed's pipeline, task by task (scikit-learn on the CPU)."""
        from repalign.learners._published import published_category

        grid = self._grid()
        if self.pca is not None and isinstance(features, Embedding):
            for task in tasks:
                top = min(len(task), np.shape(features.values)[1])
                if not 1 <= int(self.pca) <= top:
                    raise ValidationError(
                        f"category task {task.task_id!r}: pca={self.pca} must be between 1 and min(#trials, "
                        f"#dims)={top}"
                    )
        frames = []
        for task in tasks:
            ids = self.stimulus_ids(task)
            X = task_features(ids, features, None, f"category task {task.task_id!r}")
            y = np.asarray(task.categories, dtype=np.int64)
            p, C = published_category(
                X, y, grid=grid or (), C=None if grid is not None else float(self.C), pca=self.pca
            )
            frames.append(_frame(task, ids, p, y, model, layer, C if grid is not None else None))
        return pd.concat(frames, ignore_index=True)


def prequential_best(p: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Index of the C with the best prequential log-likelihood of the true categories,
    per task: p (B, nC, T) P(category 1), y (B, T) 0/1 → (B,) int (0 when nC = 1;
    ties go to the first C in grid order)."""
    if p.shape[1] == 1:
        return np.zeros(p.shape[0], dtype=np.int64)
    score = np.where(y[:, None, :] == 1, np.log(p), np.log1p(-p)).sum(-1)
    return np.argmax(score, axis=1)


def _frame(task, ids, p, y, model: str, layer: str, C: float | None) -> pd.DataFrame:
    """One task's rows of the trial table."""
    df = pd.DataFrame(
        {
            "task": task.task_id,
            "participant": task.task_id,
            "trial": np.arange(1, len(task) + 1, dtype=np.int64),
            "model": model,
            "layer": layer,
            "stimulus_id": ids,
            "value": p,
            "true_category": y,
        }
    )
    if C is not None:
        df["C"] = float(C)
    return df
