"""Reward learner: trial-by-trial Bayesian linear regression of option rewards,
batched over participants and trials.

Semantics (Demircan et al. 2024, made exact). Each trial shows two options
(left, right); after the choice both rewards are observed. The value of option o
at trial t is the posterior-mean prediction of a Bayesian linear regression
fitted on all option/reward pairs of trials 1..t−1 (2(t−1) samples; features
standardised by those samples' mean and population s.d., constant feature → 1),
with the noise and weight precisions set by evidence maximisation exactly as in
scikit-learn's ``BayesianRidge()`` with default settings (Gamma(1e-6, 1e-6) priors,
α₀ = 1/Var(y), λ₀ = 1, intercept by centring, stop when the L1 change of the
coefficients is < 1e-3 or after 300 iterations, then a final update). Values are
0 on trial 1. ``ard=True`` uses ``ARDRegression()`` instead (one precision per
feature; computed per trial with scikit-learn — exact but not batched).

How it is computed. For every (participant, trial) the MacKay fixed point only
needs the singular values and left singular vectors of the standardised training
data Z (n×d, n = 2(t−1)) — from the n×n Gram matrix when n ≤ d, never the full
d×d basis that scikit-learn builds then: each iteration is O(min(n, d)) per element, all
elements iterate together, and each element stops at its own iteration exactly
where scikit-learn's loop would. Coefficients in feature space (needed only for
scikit-learn's L1 stopping rule) are formed only when a cheap bound cannot decide
that rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from repalign.datasets import Embedding, RewardTask
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.learners._common import (
    DTYPE,
    as_task_list,
    image_id,
    scaler_stats,
    simulate_in_batches,
    task_features,
)
from repalign.learners._cpu import run_cpu, use_cpu_kernels

__all__ = ["RewardLearner", "reward_values"]

_EPS = float(np.finfo(np.float64).eps)
_A1 = _A2 = _L1 = _L2 = 1e-6  # BayesianRidge defaults
_TOL, _MAX_ITER = 1e-3, 300


def _evidence_loop(e, c, q, yy, yvar, n, l1_coef, tol=_TOL, max_iter=_MAX_ITER):
    """Run BayesianRidge's MacKay updates for a batch of eigen-problems.

    With the data's SVD Z = U S Vᵀ: e = S² (E, k); c = Uᵀy (E, k) for the
    centred targets y; q: (E, k) weights so that ‖coef‖² = Σ q u² (q = e), with
    u = c/(e + λ/α) and coef = V S u; yy: ‖y‖² (E,); yvar: Var(y) (E,); n: samples
    (E,); l1_coef(idx, du) → Σ|V S du| for the elements ``idx``. Returns u at the
    final α, λ (E, k).
    """
    # residual outside the data's row space: r-independent; exactly 0 when the
    # singular vectors span the samples (n ≤ d), where a difference would be noise
    perp = torch.where(n <= l1_coef.d, torch.zeros_like(yy), (yy - (c * c).sum(-1)).clamp_min(0.0))
    alpha = 1.0 / (yvar + _EPS)
    lam = torch.ones_like(alpha)
    active = torch.ones_like(alpha, dtype=torch.bool)
    u_old = None
    for it in range(max_iter):
        r = (lam / alpha).unsqueeze(-1)
        u = c / (e + r)
        coef2 = (q * u * u).sum(-1)
        sse = perp + (c * c * (r / (e + r)) ** 2).sum(-1)
        gamma = (alpha.unsqueeze(-1) * e / (lam.unsqueeze(-1) + alpha.unsqueeze(-1) * e)).sum(-1)
        lam_new = (gamma + 2 * _L1) / (coef2 + 2 * _L2)
        alpha_new = (n - gamma + 2 * _A1) / (sse + 2 * _A2)
        lam = torch.where(active, lam_new, lam)
        alpha = torch.where(active, alpha_new, alpha)
        if it != 0:
            du = u_old - u
            l2 = (q * du * du).sum(-1).sqrt()  # ‖Δcoef‖₂ ≤ ‖Δcoef‖₁ ≤ √d‖Δcoef‖₂
            conv = l2 * l1_coef.sqrt_d < tol
            undecided = active & ~conv & (l2 < tol)
            if bool(undecided.any()):
                idx = undecided.nonzero().squeeze(-1)
                conv[idx] = l1_coef(idx, du[idx]) < tol
            active = active & ~conv
        if not bool(active.any()):
            break
        u_old = u
    r = (lam / alpha).unsqueeze(-1)
    return c / (e + r)


class _CoefL1:
    """Σ|Δcoef| for selected elements, from the coefficient map of each route."""

    def __init__(self, fn, d):
        self.fn, self.d, self.sqrt_d = fn, d, float(np.sqrt(d))

    def __call__(self, idx, du):
        return self.fn(idx, du)


def reward_values(X: torch.Tensor, R: torch.Tensor, max_elems: int = 2**25, backend: str = "auto") -> torch.Tensor:
    """Option values for a batch of equal-length sequences.

    X: (B, T, 2, d) float64 option features; R: (B, T, 2) rewards. Returns
    (B, T, 2): value of each option at trial t from trials < t (0 at t = 0).
    backend: "auto" (CPU kernel for CPU tensors — one participant per thread,
    ``repalign.learners._reward_cpu`` — torch on other devices), "cpu" or
    "torch" (all participants × a chunk of trials batched; ``max_elems`` bounds
    the size of its per-chunk work tensors).
    """
    if use_cpu_kernels(backend, X):
        return _reward_values_cpu(X, R)
    return _reward_values_torch(X, R, max_elems)


def _reward_values_cpu(X: torch.Tensor, R: torch.Tensor) -> torch.Tensor:
    from repalign.learners._reward_cpu import reward_sequence

    B, T, _, d = X.shape
    Xn = np.ascontiguousarray(X.detach().cpu().numpy(), dtype=np.float64).reshape(B, 2 * T, d)
    Rn = np.ascontiguousarray(R.detach().cpu().numpy(), dtype=np.float64).reshape(B, 2 * T)
    out = np.zeros((B, T, 2))
    run_cpu(lambda b: reward_sequence(Xn[b], Rn[b], out[b]), B)
    return torch.as_tensor(out)


def _reward_values_torch(X: torch.Tensor, R: torch.Tensor, max_elems: int) -> torch.Tensor:
    B, T, _, d = X.shape
    dev = X.device
    out = torch.zeros((B, T, 2), dtype=DTYPE, device=dev)
    Xrows = X.reshape(B, 2 * T, d)  # samples in order: trial 1 left, right, trial 2 …
    t = 1
    while t < T:
        # a chunk of consecutive trials t..t_end-1, padded to the largest sample count
        t_end = t + 1
        while t_end < T and t_end - t < 32 and B * (t_end + 1 - t) * (2 * t_end) * min(2 * t_end, d) <= max_elems:
            t_end += 1
        ts = list(range(t, t_end))
        nm = 2 * (t_end - 1)
        gram = nm <= d
        E = B * len(ts)
        k = min(nm, d)
        e_all = X.new_zeros(E, k)
        c_all = X.new_zeros(E, k)
        h_all = X.new_zeros(E, k, 2)
        yy, yvar, ymean, nn = X.new_zeros(E), X.new_zeros(E), X.new_zeros(E), X.new_zeros(E)
        if gram:  # coef = Zᵀ U u = D⁻¹(Xᵀ v − μ Σv), v = U u: keep U, μ, D per element
            U_all, mu_all, sd_all = X.new_zeros(E, nm, nm), X.new_zeros(E, d), X.new_zeros(E, d)
        else:  # coef = V S u: keep V S (d × d) per element
            M_all = X.new_zeros(E, d, k)
        for j, tt in enumerate(ts):
            n = 2 * tt
            kk = min(n, d)
            sl = slice(j * B, (j + 1) * B)
            y = R[:, :tt].reshape(B, n)
            mu, sd = scaler_stats(Xrows[:, :n])
            Z = (Xrows[:, :n] - mu) / sd
            zt = (X[:, tt] - mu) / sd
            ym = y.mean(-1, keepdim=True)
            yc = y - ym
            yy[sl] = (yc * yc).sum(-1)
            yvar[sl] = (yc * yc).mean(-1)
            ymean[sl] = ym.squeeze(-1)
            nn[sl] = n
            if gram:
                # left singular vectors from the n×n Gram matrix (far cheaper than
                # an SVD of Z). Its small eigenvalues carry ±eps·‖Z‖² noise, so they
                # are recomputed as ‖Zᵀu‖²: tiny directions (centring, repeated
                # stimuli) then get ~0 as in scikit-learn's SVD
                ev, U = torch.linalg.eigh(Z @ Z.transpose(-1, -2))  # ascending
                small = ev < 1e-6 * ev[:, -1:].clamp_min(1e-300)
                r = int(small.sum(-1).max())
                if r:
                    Mr = Z.transpose(-1, -2) @ U[..., :r]
                    ev = ev.clone()
                    ev[:, :r] = torch.where(small[:, :r], (Mr * Mr).sum(-2), ev[:, :r])
                e_all[sl, :kk] = ev.clamp_min(0)
                c_all[sl, :kk] = (U.transpose(-1, -2) @ yc.unsqueeze(-1)).squeeze(-1)
                h_all[sl, :kk] = U.transpose(-1, -2) @ (Z @ zt.transpose(-1, -2))
                U_all[sl, :n, :n] = U
                mu_all[sl], sd_all[sl] = mu.squeeze(-2), sd.squeeze(-2)
            else:  # n > d: thin SVD of the tall data, as scikit-learn
                U, S, Vh = torch.linalg.svd(Z, full_matrices=False)
                e_all[sl, :kk] = S * S
                c_all[sl, :kk] = (U.transpose(-1, -2) @ yc.unsqueeze(-1)).squeeze(-1)
                h_all[sl, :kk] = S.unsqueeze(-1) * (Vh @ zt.transpose(-1, -2))
                M_all[sl, :, :kk] = Vh.transpose(-1, -2) * S.unsqueeze(-2)
        # the closures below run within this iteration, so they see its arrays (B023 does not apply)
        if gram:

            def coef_l1(idx, du):
                v = (U_all[idx] @ du.unsqueeze(-1)).squeeze(-1)  # noqa: B023  (m, nm)
                out_l1 = torch.empty(len(idx), dtype=DTYPE, device=dev)
                part = idx % B
                for b in part.unique().tolist():  # one matmul per participant
                    sel = (part == b).nonzero().squeeze(-1)
                    Xt = Xrows[b, :nm].transpose(0, 1) @ v[sel].transpose(0, 1)  # noqa: B023  (d, m_b)
                    centred = Xt.transpose(0, 1) - mu_all[idx[sel]] * v[sel].sum(-1, keepdim=True)  # noqa: B023
                    coef = centred / sd_all[idx[sel]]  # noqa: B023
                    out_l1[sel] = coef.abs().sum(-1)
                return out_l1
        else:

            def coef_l1(idx, du):
                return (M_all[idx] @ du.unsqueeze(-1)).squeeze(-1).abs().sum(-1)  # noqa: B023

        u = _evidence_loop(e_all, c_all, e_all, yy, yvar, nn, _CoefL1(coef_l1, d))
        vals = (h_all * u.unsqueeze(-1)).sum(-2) + ymean.unsqueeze(-1)  # (E, 2)
        for j, tt in enumerate(ts):
            out[:, tt] = vals[j * B : (j + 1) * B]
        t = t_end
    return out


def _ard_values(X: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Per-trial scikit-learn ARDRegression (exact, slow): X (T, 2, d), R (T, 2)."""
    from sklearn.linear_model import ARDRegression
    from sklearn.preprocessing import StandardScaler

    T, _, d = X.shape
    out = np.zeros((T, 2))
    for t in range(1, T):
        Xt, yt = X[:t].reshape(2 * t, d), R[:t].reshape(2 * t)
        sc = StandardScaler().fit(Xt)
        out[t] = ARDRegression().fit(sc.transform(Xt), yt).predict(sc.transform(X[t]))
    return out


@dataclass
class RewardLearner:
    """Trial-by-trial reward learner (see the module docstring).

    Source: Demircan et al. (2024), candemircan/naturalcogsci
    ``naturalcogsci/learners.py`` (RewardLearner) with ``bin/run_learners.py``.

    variant: "default" or "published". Without ``pca`` both give the seed's
    numbers (the default computes them batched; "published" refits scikit-learn
    per trial exactly as the seed, rounding included, a constant feature being
    one whose s.d. is exactly 0; measured equal to ≤ 1e-6). With ``pca`` they
    differ: the default projects on k principal components of the task's
    unique stimuli (full SVD), the published variant — as the seed's
    transform="pca" — on ``PCA(k).fit_transform`` of the task's 2T option rows
    (repeats included, scikit-learn's default solver).
    ard: ARD prior (one precision per feature) instead of one shared precision.
    pca: project features on k principal components (see variant).
    key: "concept" (THINGS concept ids, e.g. SPoSE), "image" (image path stems,
    ``anvil_08n``) or "path" (concept folder / stem, ``anvil/anvil_08n``: the ids
    of a ``[[stimuli]]`` folder set at THINGS' ``object_images``).
    batch_size: tasks per batch; device: torch device (None → CUDA if present).
    """

    ard: bool = False
    pca: int | None = None
    key: str = "concept"
    batch_size: int = 32
    device: str | None = None
    variant: str = "default"

    def stimulus_ids(self, task: RewardTask) -> np.ndarray:
        if self.key == "concept":
            return np.asarray(task.concepts, dtype=object)
        if self.key in ("image", "path"):
            f = np.vectorize(lambda s: image_id(s, self.key), otypes=[object])
            return f(np.asarray(task.images, dtype=object))
        raise ValidationError(f"RewardLearner: key must be 'concept', 'image' or 'path', got {self.key!r}")

    def _checked_tasks(self, task_or_tasks, features: Embedding) -> list[RewardTask]:
        """The learner's settings and the tasks checked (every check before any work)."""
        if self.variant not in ("default", "published"):
            raise ValidationError(f"RewardLearner: variant must be 'default' or 'published', got {self.variant!r}")
        if self.variant == "published" and self.device not in (None, "cpu"):
            raise ValidationError(
                "RewardLearner: variant='published' runs scikit-learn on the CPU; device must be unset or 'cpu', "
                f"got {self.device!r}"
            )
        tasks = as_task_list(task_or_tasks, RewardTask, "RewardLearner")
        for t in tasks:
            n = len(t)
            if n < 1 or np.shape(t.rewards) != (n, 2) or np.shape(t.concepts) != (n, 2) or np.shape(t.images) != (n, 2):
                raise ValidationError(
                    f"reward task {t.task_id!r}: concepts, images and rewards must all be (n_trials, 2)"
                )
            if not np.isfinite(np.asarray(t.rewards, dtype=np.float64)).all():
                raise ValidationError(f"reward task {t.task_id!r}: rewards hold NaN/inf")
            if t.choices is not None and np.shape(t.choices) != (n,):
                raise ValidationError(f"reward task {t.task_id!r}: {np.size(t.choices)} choices for {n} trials")
            if self.variant == "published" and self.pca is not None and isinstance(features, Embedding):
                top = min(2 * n, np.shape(features.values)[1])
                if not 1 <= int(self.pca) <= top:
                    raise ValidationError(
                        f"reward task {t.task_id!r}: pca={self.pca} must be between 1 and "
                        f"min(#option rows, #dims)={top}"
                    )
        return tasks

    def simulate(self, task_or_tasks, features: Embedding, model: str = "model", layer: str = "") -> pd.DataFrame:
        """Trial table (``trials`` schema): task, participant (task id, or the
        human's id for THINGSDecisions), trial (1-based), model, layer, left, right
        (stimulus ids), value_left, value_right, value = value_right − value_left,
        reward_left, reward_right, and choice (human, 1 = right) when the task has one."""
        tasks = self._checked_tasks(task_or_tasks, features)
        dev = resolve_device(self.device)
        published = self.variant == "published"

        def run_batch(idx: list[int]) -> list[pd.DataFrame]:
            ids = [self.stimulus_ids(tasks[i]) for i in idx]
            X = np.stack(
                [
                    task_features(
                        s.reshape(-1), features, None if published else self.pca, f"reward task {tasks[i].task_id!r}"
                    ).reshape(len(s), 2, -1)
                    for s, i in zip(ids, idx)
                ]
            )
            Rw = np.stack([np.asarray(tasks[i].rewards, dtype=np.float64) for i in idx])
            if published:
                from repalign.learners._published import published_reward

                V = np.stack([published_reward(X[j], Rw[j], ard=self.ard, pca=self.pca) for j in range(len(idx))])
            elif self.ard:
                V = np.stack([_ard_values(X[j], Rw[j]) for j in range(len(idx))])
            else:
                V = reward_values(torch.as_tensor(X, device=dev), torch.as_tensor(Rw, device=dev)).cpu().numpy()
            return [_frame(tasks[i], ids[j], V[j], Rw[j], model, layer) for j, i in enumerate(idx)]

        return simulate_in_batches(tasks, len, self.batch_size, run_batch)


def _frame(task: RewardTask, ids: np.ndarray, V: np.ndarray, Rw: np.ndarray, model: str, layer: str) -> pd.DataFrame:
    """One task's rows of the trial table: ids (T, 2) stimulus ids, V (T, 2) values, Rw (T, 2) rewards."""
    df = pd.DataFrame(
        {
            "task": task.task_id,
            "participant": task.participant if task.participant is not None else task.task_id,
            "trial": np.arange(1, len(task) + 1, dtype=np.int64),
            "model": model,
            "layer": layer,
            "left": ids[:, 0].astype(str),
            "right": ids[:, 1].astype(str),
            "value_left": V[:, 0],
            "value_right": V[:, 1],
            "value": V[:, 1] - V[:, 0],
            "reward_left": Rw[:, 0],
            "reward_right": Rw[:, 1],
        }
    )
    if task.choices is not None:
        df["choice"] = np.asarray(task.choices, dtype=np.int64)
    return df
