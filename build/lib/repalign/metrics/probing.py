"""Linear probing of a representation on odd-one-out triplets.

A probe learns W (d×k) so that similarities of the transformed features x·W predict
human odd-one-out choices (softmax over the three pair similarities, cross-entropy
against the human choice). Two penalties:

* ``penalty="zero"``: alpha·‖W‖²_F, shrinking toward zero (Muttenthaler et al. 2023);
* ``penalty="identity"``: alpha·‖W − w̄·I‖²_F with w̄ the mean of diag(W), shrinking
  toward a scaled identity, i.e. toward the original space (gLocal-style; needs k = d).

Held-out evaluation splits the *objects* into folds: a fold's test triplets have all
three objects in the fold and its training triplets none, so a probe is always scored
on objects it never saw. An inner object-disjoint CV over the training objects picks
alpha.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
import torch

from repalign.errors import ValidationError
from repalign.metrics._inputs import features_and_triplets, feature_matrix
from repalign.metrics.odd_one_out import odd_one_out_correct

PENALTIES = ("zero", "identity")
PROBE_SIMILARITIES = ("dot", "cosine")


class TripletProbe:
    """Linear probe on triplets (scikit-learn style: parameters here, fitted ``W_`` after ``fit``).

    n_components: k (columns of W); None → d. penalty: "zero" | "identity"; alpha: its
    weight. similarity: "dot" | "cosine" on x·W. epochs, batch_size, lr: Adam on
    minibatches of triplets (seeded by ``seed``; same inputs → same W).
    Features are divided by their root-mean-square row norm (``scale_``) before
    fitting so that alpha and lr mean the same for every representation.
    """

    def __init__(
        self,
        n_components: int | None = None,
        penalty: str = "identity",
        alpha: float = 1e-3,
        similarity: str = "dot",
        epochs: int = 20,
        batch_size: int = 1024,
        lr: float = 1e-2,
        seed: int = 0,
        device: str = "cpu",
    ):
        self.n_components = n_components
        self.penalty = penalty
        self.alpha = alpha
        self.similarity = similarity
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.seed = seed
        self.device = device

    def _check(self, d: int) -> int:
        if self.penalty not in PENALTIES:
            raise ValidationError(f"unknown probe penalty {self.penalty!r}; valid: {', '.join(PENALTIES)}")
        if self.similarity not in PROBE_SIMILARITIES:
            raise ValidationError(f"unknown probe similarity {self.similarity!r}; valid: {', '.join(PROBE_SIMILARITIES)}")
        k = d if self.n_components is None else int(self.n_components)
        if k < 1:
            raise ValidationError(f"n_components must be >= 1, got {k}")
        if self.penalty == "identity" and k != d:
            raise ValidationError(f"penalty='identity' needs a square W (n_components = d = {d}), got {k}")
        if self.alpha < 0:
            raise ValidationError(f"alpha must be >= 0, got {self.alpha}")
        return k

    def fit(self, X: Any, triplets: Any) -> "TripletProbe":
        Xa, t = features_and_triplets(X, triplets)
        if t.shape[0] == 0:
            raise ValidationError("probe: no training triplets")
        d = Xa.shape[1]
        k = self._check(d)
        self.scale_ = float(np.sqrt(np.mean(np.einsum("ij,ij->i", Xa, Xa)))) or 1.0
        gen = torch.Generator().manual_seed(int(self.seed))
        dev = torch.device(self.device)
        Xt = torch.as_tensor(Xa / self.scale_, dtype=torch.float32, device=dev)
        T = torch.as_tensor(t, dtype=torch.long, device=dev)
        if k == d:
            W0 = torch.eye(d)
        else:  # a random orthonormal projection: starts from a faithful low-rank view
            W0 = torch.linalg.qr(torch.randn(d, k, generator=gen))[0]
        W = torch.nn.Parameter(W0.to(dev))
        opt = torch.optim.Adam([W], lr=self.lr)
        target = torch.full((min(self.batch_size, T.shape[0]),), 2, dtype=torch.long, device=dev)
        eye = torch.eye(d, device=dev)
        n = T.shape[0]
        for _ in range(int(self.epochs)):
            order = torch.randperm(n, generator=gen).to(dev)
            for i in range(0, n, self.batch_size):
                b = T[order[i : i + self.batch_size]]
                logits = _pair_logits(Xt, W, b, self.similarity)
                loss = torch.nn.functional.cross_entropy(logits, target[: b.shape[0]])
                if self.penalty == "zero":
                    reg = (W * W).sum()
                else:
                    reg = ((W - torch.diagonal(W).mean() * eye) ** 2).sum()
                loss = loss + self.alpha * reg / d
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.W_ = W.detach().cpu().numpy().astype(np.float64)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(n, k) probed features (x / scale_) · W."""
        return (feature_matrix(X) / self.scale_) @ self.W_

    def score(self, X: Any, triplets: Any) -> float:
        """Odd-one-out accuracy of the probed features."""
        Xa, t = features_and_triplets(X, triplets)
        return float(odd_one_out_correct(self.transform(Xa), t, self.similarity).mean())


def _pair_logits(X: torch.Tensor, W: torch.Tensor, b: torch.Tensor, similarity: str) -> torch.Tensor:
    if X.shape[0] <= 3 * b.shape[0]:
        # Transforming every object once is cheaper than the batch's 3B rows; embedding()
        # has a much faster backward than fancy indexing on CPU.
        Z = torch.nn.functional.embedding(b, X @ W)
    else:
        Z = X[b] @ W  # (B, 3, k)
    if similarity == "cosine":
        Z = torch.nn.functional.normalize(Z, dim=-1)
    s12 = (Z[:, 1] * Z[:, 2]).sum(-1)
    s02 = (Z[:, 0] * Z[:, 2]).sum(-1)
    s01 = (Z[:, 0] * Z[:, 1]).sum(-1)
    return torch.stack([s12, s02, s01], dim=1)


def object_folds(n_objects: int, n_folds: int, seed: int = 0) -> np.ndarray:
    """Fold (0..n_folds-1) of each object, (n_objects,), balanced and seeded."""
    if n_folds < 2:
        raise ValidationError(f"n_folds must be >= 2, got {n_folds}")
    rng = np.random.default_rng(seed)
    folds = np.arange(n_objects) % n_folds
    rng.shuffle(folds)
    return folds


def disjoint_split(t: np.ndarray, in_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of triplets with all objects in the test set, and with none in it."""
    k = in_test[t].sum(axis=1)
    return np.flatnonzero(k == 3), np.flatnonzero(k == 0)


@dataclass(frozen=True)
class ProbeCVResult:
    """Outer-fold results: one row per fold with columns fold, alpha, n_train, n_test,
    zero_shot, probed (accuracies on the fold's held-out triplets)."""

    folds: pd.DataFrame

    @property
    def zero_shot(self) -> float:
        return _weighted(self.folds, "zero_shot")

    @property
    def probed(self) -> float:
        return _weighted(self.folds, "probed")


def _weighted(df: pd.DataFrame, col: str) -> float:
    return float((df[col] * df["n_test"]).sum() / df["n_test"].sum())


def probe_cv(
    X: Any,
    triplets: Any,
    n_folds: int = 3,
    alphas: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
    inner_folds: int = 2,
    seed: int = 0,
    zero_shot_similarity: str | None = None,
    **probe_params: Any,
) -> ProbeCVResult:
    """Object-disjoint k-fold CV of a ``TripletProbe``; alpha chosen by inner object-disjoint CV.

    Returns per-fold held-out accuracies of the probe and of the unprobed (zero-shot)
    representation on the same held-out triplets.
    """
    Xa, t = features_and_triplets(X, triplets)
    if not alphas:
        raise ValidationError("probe_cv: alphas must not be empty")
    sim = probe_params.get("similarity", "dot")
    zs_sim = zero_shot_similarity or sim
    folds = object_folds(Xa.shape[0], n_folds, seed)
    rows = []
    for f in range(n_folds):
        test_idx, train_idx = disjoint_split(t, folds == f)
        if test_idx.size == 0 or train_idx.size == 0:
            raise ValidationError(f"probe_cv: fold {f} has {train_idx.size} training and {test_idx.size} test triplets; use more triplets or fewer folds")
        t_train, t_test = t[train_idx], t[test_idx]
        alpha = _select_alpha(Xa, t_train, folds != f, alphas, inner_folds, seed + 1 + f, probe_params)
        probe = TripletProbe(alpha=alpha, seed=seed, **probe_params).fit(Xa, t_train)
        rows.append(
            {
                "fold": f,
                "alpha": alpha,
                "n_train": int(t_train.shape[0]),
                "n_test": int(t_test.shape[0]),
                "zero_shot": float(odd_one_out_correct(Xa, t_test, zs_sim).mean()),
                "probed": probe.score(Xa, t_test),
            }
        )
    return ProbeCVResult(pd.DataFrame(rows))


def _select_alpha(Xa, t_train, train_objects, alphas, inner_folds, seed, probe_params) -> float:
    if len(alphas) == 1:
        return float(alphas[0])
    objs = np.flatnonzero(train_objects)
    inner = np.full(Xa.shape[0], -1)
    inner[objs] = object_folds(objs.size, inner_folds, seed)
    scores = np.zeros(len(alphas))
    for g in range(inner_folds):
        val_idx, _ = disjoint_split(t_train, inner == g)
        fit_idx, _ = disjoint_split(t_train, (inner != g) & (inner >= 0))
        if val_idx.size == 0 or fit_idx.size == 0:
            continue
        for j, a in enumerate(alphas):
            p = TripletProbe(alpha=a, seed=seed, **probe_params).fit(Xa, t_train[fit_idx])
            scores[j] += p.score(Xa, t_train[val_idx]) * val_idx.size
    return float(alphas[int(np.argmax(scores))])
