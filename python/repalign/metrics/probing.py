"""Linear probing of a representation on odd-one-out triplets.

A probe learns W (d×k) so that similarities of the transformed features x·W predict
human odd-one-out choices (softmax over the three pair similarities, cross-entropy
against the human choice). Two penalties:

* ``penalty="zero"``: alpha·‖W‖²_F, shrinking toward zero (Muttenthaler et al. 2023);
* ``penalty="identity"``: alpha·‖W − w̄·I‖²_F with w̄ the mean of diag(W), shrinking
  toward a scaled identity, i.e. toward the original space (gLocal-style; needs k = d).

``variant="published"`` is the probe of Muttenthaler et al. (2023),
LukasMut/human_alignment ``main_probing.py`` with ``utils/probing/transforms.py``
(``Linear``) and ``utils/probing/triplet_loss.py``: features z-scored with ONE global
mean and standard deviation; a square W drawn from N(0, σ = 1e-3); loss = cross-entropy
of the dot-product similarities + λ·‖W‖_F (the Frobenius norm itself, not squared, no
1/d); Adam, lr 1e-3, batches of 256, gradient norm clipped at 1; early stopping on the
held-out fold's cross-entropy (patience 10 epochs, min_delta 1e-4, 10 to 100 epochs),
the weights of the last epoch kept, ONE stopper shared by the folds as in the seed (so
folds 2 and 3 stop at or soon after 10 epochs; ``probe_cv(early_stopping="per_fold")``
gives each fold its own); objects split by scikit-learn's shuffled ``KFold``;
λ chosen as the one with the lowest mean held-out cross-entropy over folds
(``find_best_probes.py``), and the probing accuracy = the unweighted mean of the folds'
accuracies, a triplet whose softmax probabilities tie (or all round to the same two
decimals) scored wrong. Early stopping and the choice of λ both look at the test folds
(as published); the default variant keeps them apart (inner CV). The seed trains under
PyTorch Lightning (by default 4 DDP processes on CPU); this is the single-process loop.

Held-out evaluation splits the *objects* into folds: a fold's test triplets have all
three objects in the fold and its training triplets none, so a probe is always scored
on objects it never saw. An inner object-disjoint CV over the training objects picks
alpha.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import feature_matrix, features_and_triplets
from repalign.metrics.odd_one_out import odd_one_out_correct

PENALTIES = ("zero", "identity")
PROBE_SIMILARITIES = ("dot", "cosine")
EARLY_STOPPING = ("shared", "per_fold")  # published probe_cv: the seed's one stopper for all folds, or one per fold
# The published probe's settings (LukasMut/human_alignment main_probing.py defaults).
PUBLISHED = {
    "lr": 1e-3,
    "batch_size": 256,
    "epochs": 100,
    "min_epochs": 10,
    "patience": 10,
    "min_delta": 1e-4,
    "sigma": 1e-3,
    "clip": 1.0,
}


@dataclass
class EarlyStopper:
    """Early stopping on a validation loss (lower is better), as PyTorch Lightning's
    ``EarlyStopping(monitor="val_loss", mode="min", min_delta=1e-4, patience=10,
    check_finite=True)`` that LukasMut/human_alignment ``main_probing.py``
    (``get_callbacks``) hands its trainers.

    best: the lowest loss seen (an improvement must beat it by more than min_delta);
    wait: epochs since the last improvement. ``update`` returns whether this epoch asks
    to stop (wait reached patience, or a non-finite loss). The state lives in the object:
    the seed builds one per run and reuses it for every fold, so a later fold starts
    with the previous fold's best loss and a wait count already at patience."""

    min_delta: float = PUBLISHED["min_delta"]
    patience: int = int(PUBLISHED["patience"])
    best: float = float("inf")
    wait: int = 0

    def update(self, loss: float) -> bool:
        if not np.isfinite(loss):
            return True
        if loss < self.best - self.min_delta:
            self.best, self.wait = float(loss), 0
            return False
        self.wait += 1
        return self.wait >= self.patience


class TripletProbe:
    """Linear probe on triplets (scikit-learn style: parameters here, fitted ``W_`` after ``fit``).

    n_components: k (columns of W); None → d. penalty: "zero" | "identity"; alpha: its
    weight. similarity: "dot" | "cosine" on x·W. epochs, batch_size, lr: Adam on
    minibatches of triplets (seeded by ``seed``; same inputs → same W).
    Features are divided by their root-mean-square row norm (``scale_``) before
    fitting so that alpha and lr mean the same for every representation.

    variant="published": Muttenthaler et al. (2023), see the module docstring; epochs,
    batch_size and lr default to 100, 256 and 1e-3 there, penalty is "zero" as the
    unsquared ‖W‖_F, similarity "dot", k = d; ``fit(..., validation=)`` stops early on
    the validation triplets' cross-entropy. After fit: ``W_``, ``mean_``/``std_`` (the
    global z-scoring), ``n_epochs_``, ``val_losses_``.
    """

    def __init__(
        self,
        n_components: int | None = None,
        penalty: str | None = None,
        alpha: float = 1e-3,
        similarity: str = "dot",
        epochs: int | None = None,
        batch_size: int | None = None,
        lr: float | None = None,
        seed: int = 0,
        device: str = "cpu",
        variant: str = "default",
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
        self.variant = variant

    def _settings(self) -> tuple[str, int, int, float]:
        """(penalty, epochs, batch_size, lr) with the variant's defaults filled in."""
        check_variant(self.variant, "probe")
        pub = self.variant == "published"
        penalty = self.penalty or ("zero" if pub else "identity")
        if pub and (penalty != "zero" or self.similarity != "dot" or self.n_components not in (None,)):
            raise ValidationError(
                "probe variant='published' is a square W with penalty 'zero' (unsquared ‖W‖_F) "
                f"on dot products; got penalty={penalty!r}, similarity={self.similarity!r}, "
                f"n_components={self.n_components!r}"
            )
        epochs = self.epochs if self.epochs is not None else (PUBLISHED["epochs"] if pub else 20)
        batch = self.batch_size if self.batch_size is not None else (PUBLISHED["batch_size"] if pub else 1024)
        lr = self.lr if self.lr is not None else (PUBLISHED["lr"] if pub else 1e-2)
        return penalty, int(epochs), int(batch), float(lr)

    def _check(self, d: int) -> int:
        penalty = self._settings()[0]
        if penalty not in PENALTIES:
            raise ValidationError(f"unknown probe penalty {penalty!r}; valid: {', '.join(PENALTIES)}")
        if self.similarity not in PROBE_SIMILARITIES:
            raise ValidationError(
                f"unknown probe similarity {self.similarity!r}; valid: {', '.join(PROBE_SIMILARITIES)}"
            )
        k = d if self.n_components is None else int(self.n_components)
        if k < 1:
            raise ValidationError(f"n_components must be >= 1, got {k}")
        if penalty == "identity" and k != d:
            raise ValidationError(f"penalty='identity' needs a square W (n_components = d = {d}), got {k}")
        if self.alpha < 0:
            raise ValidationError(f"alpha must be >= 0, got {self.alpha}")
        return k

    def fit(self, X: Any, triplets: Any, validation: Any = None, stopper: EarlyStopper | None = None) -> TripletProbe:
        """Fit W on the triplets (n, 3). validation: triplets (m, 3) for early stopping
        (variant="published" only; without it the published probe runs all epochs).
        stopper: the ``EarlyStopper`` to use; None → a fresh one. Passing the same one to
        several fits carries its best loss and wait count over, as the seed's one
        Lightning ``EarlyStopping`` object does across its CV folds."""
        Xa, t = features_and_triplets(X, triplets)
        if t.shape[0] == 0:
            raise ValidationError("probe: no training triplets")
        d = Xa.shape[1]
        k = self._check(d)
        penalty, epochs, batch_size, lr = self._settings()
        if self.variant == "published":
            v = None if validation is None else features_and_triplets(Xa, validation)[1]
            return self._fit_published(Xa, t, v, epochs, batch_size, lr, stopper)
        if validation is not None or stopper is not None:
            raise ValidationError("probe: validation triplets (early stopping) belong to variant='published'")
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
        opt = torch.optim.Adam([W], lr=lr)
        target = torch.full((min(batch_size, T.shape[0]),), 2, dtype=torch.long, device=dev)
        eye = torch.eye(d, device=dev)
        n = T.shape[0]
        for _ in range(epochs):
            order = torch.randperm(n, generator=gen).to(dev)
            for i in range(0, n, batch_size):
                b = T[order[i : i + batch_size]]
                logits = _pair_logits(Xt, W, b, self.similarity)
                loss = torch.nn.functional.cross_entropy(logits, target[: b.shape[0]])
                if penalty == "zero":
                    reg = (W * W).sum()
                else:
                    reg = ((W - torch.diagonal(W).mean() * eye) ** 2).sum()
                loss = loss + self.alpha * reg / d
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.W_ = W.detach().cpu().numpy().astype(np.float64)
        return self

    def _fit_published(self, Xa, t, t_val, epochs, batch_size, lr, stopper=None) -> TripletProbe:
        # Global z-scoring: one mean and one standard deviation over every entry.
        self.mean_, self.std_ = float(Xa.mean()), float(Xa.std())
        if self.std_ == 0:
            raise ValidationError(
                "probe: constant features; the published z-scoring divides by their standard deviation"
            )
        dev = torch.device(self.device)
        Z = torch.as_tensor((Xa - self.mean_) / self.std_, dtype=torch.float32, device=dev)
        d = Z.shape[1]
        gen = torch.Generator().manual_seed(int(self.seed))
        # One generator draws W₀ and then each epoch's order, as a DataLoader handed that generator.
        W0 = torch.normal(torch.zeros(d, d), torch.ones(d, d) * PUBLISHED["sigma"], generator=gen)
        W = torch.nn.Parameter(W0.to(dev))
        opt = torch.optim.Adam([W], lr=lr)
        T = torch.as_tensor(t, dtype=torch.long, device=dev)
        Tv = None if t_val is None else torch.as_tensor(t_val, dtype=torch.long, device=dev)
        stopper = EarlyStopper() if stopper is None else stopper
        losses: list[float] = []
        stop_requested = False  # as Lightning's trainer.should_stop: once set, never cleared in this fit
        n = T.shape[0]
        epoch = 0
        for epoch in range(1, epochs + 1):
            # As a DataLoader(shuffle=True, generator=gen): it draws a base seed, then the
            # order, and its sampler draws one more (unused) permutation when exhausted.
            torch.empty((), dtype=torch.int64).random_(generator=gen)
            order = torch.randperm(n, generator=gen).to(dev)
            torch.randperm(n, generator=gen)
            for i in range(0, n, batch_size):
                b = T[order[i : i + batch_size]]
                loss = _published_ce_batch(Z, W, b) + self.alpha * torch.linalg.norm(W)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_([W], PUBLISHED["clip"])
                opt.step()
            if Tv is None or Tv.shape[0] == 0:
                continue
            with torch.no_grad():
                v = float(_published_ce(Z @ W, Tv))
            losses.append(v)
            stop_requested = stopper.update(v) or stop_requested
            # Lightning's min_epochs: a stop requested earlier waits until the 10th epoch.
            if stop_requested and epoch >= PUBLISHED["min_epochs"]:
                break
        self.n_epochs_ = epoch
        self.val_losses_ = losses
        self.W_ = W.detach().cpu().numpy()
        self.scale_ = 1.0
        return self

    def transform(self, X: Any) -> np.ndarray:
        """(n, k) probed features: (x / scale_) · W; published: ((x − mean_) / std_) · W."""
        if self.variant == "published":
            Z = ((feature_matrix(X) - self.mean_) / self.std_).astype(np.float32)
            return Z @ self.W_.astype(np.float32)
        return (feature_matrix(X) / self.scale_) @ self.W_

    def score(self, X: Any, triplets: Any) -> float:
        """Odd-one-out accuracy of the probed features (published: the seed's tie rule)."""
        Xa, t = features_and_triplets(X, triplets)
        if self.variant == "published":
            return float(published_probe_correct(self.transform(Xa), t).mean())
        return float(odd_one_out_correct(self.transform(Xa), t, self.similarity).mean())

    def loss(self, X: Any, triplets: Any) -> float:
        """Mean cross-entropy (nats per triplet) of the human choices under the probe (no penalty)."""
        Xa, t = features_and_triplets(X, triplets)
        E = torch.as_tensor(self.transform(Xa), dtype=torch.float32)
        if self.variant == "published":
            return float(_published_ce(E, torch.as_tensor(t)))
        logits = _pair_logits(E, torch.eye(E.shape[1]), torch.as_tensor(t), self.similarity)
        return float(torch.nn.functional.cross_entropy(logits, torch.full((t.shape[0],), 2)))


def _published_sims(E: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B, 3) dot products of the pairs (0, 1), (0, 2), (1, 2) — the seed's order."""
    e = E[b]
    return torch.stack([(e[:, 0] * e[:, 1]).sum(-1), (e[:, 0] * e[:, 2]).sum(-1), (e[:, 1] * e[:, 2]).sum(-1)], dim=1)


def _published_ce_batch(Z: torch.Tensor, W: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of a batch: transforms only the batch's rows when they are fewer
    than the objects (the seed transforms every object, then picks rows with one-hot
    vectors — the same numbers, up to float rounding, at a fraction of the cost)."""
    if 3 * b.shape[0] < Z.shape[0]:
        e = (Z[b.reshape(-1)] @ W).reshape(b.shape[0], 3, -1)
        s = torch.stack([(e[:, 0] * e[:, 1]).sum(-1), (e[:, 0] * e[:, 2]).sum(-1), (e[:, 1] * e[:, 2]).sum(-1)], dim=1)
        return (torch.logsumexp(s, dim=1) - s[:, 0]).mean()
    return _published_ce(Z @ W, b)


def _published_ce(E: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    s = _published_sims(E, b)
    return (torch.logsumexp(s, dim=1) - s[:, 0]).mean()


def published_probe_correct(E: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Boolean (n,): the published probe's accuracy rule (``Linear.break_ties``): softmax of
    the pair similarities (0,1), (0,2), (1,2); a triplet counts as correct when the pair
    (0, 1) has the largest probability, unless two probabilities are equal or all three
    round to the same two decimals."""
    s = _published_sims(torch.as_tensor(E), torch.as_tensor(t)).softmax(dim=1)
    p = s.numpy()
    tie = (p[:, 0] == p[:, 1]) | (p[:, 0] == p[:, 2]) | (p[:, 1] == p[:, 2])
    r = np.round(p, 2)
    flat = (r[:, 0] == r[:, 1]) & (r[:, 1] == r[:, 2])
    return (np.argmax(p, axis=1) == 0) & ~tie & ~flat


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
    weighting: str = "n_test"  # "n_test": folds weighted by test triplets; "equal": plain mean (published)
    selection: pd.DataFrame | None = None  # published: per alpha, mean held-out loss and accuracy

    @property
    def zero_shot(self) -> float:
        return _weighted(self.folds, "zero_shot", self.weighting)

    @property
    def probed(self) -> float:
        return _weighted(self.folds, "probed", self.weighting)


def _weighted(df: pd.DataFrame, col: str, weighting: str = "n_test") -> float:
    if weighting == "equal":
        return float(df[col].mean())
    return float((df[col] * df["n_test"]).sum() / df["n_test"].sum())


def probe_cv(
    X: Any,
    triplets: Any,
    n_folds: int = 3,
    alphas: Sequence[float] = (1e-4, 1e-3, 1e-2, 1e-1),
    inner_folds: int = 2,
    seed: int = 0,
    zero_shot_similarity: str | None = None,
    early_stopping: str | None = None,
    **probe_params: Any,
) -> ProbeCVResult:
    """Object-disjoint k-fold CV of a ``TripletProbe``; alpha chosen by inner object-disjoint CV.

    Returns per-fold held-out accuracies of the probe and of the unprobed (zero-shot)
    representation on the same held-out triplets.

    variant="published" (Muttenthaler et al. 2023, LukasMut/human_alignment
    ``main_probing.py`` + ``find_best_probes.py``): objects split by scikit-learn's
    ``KFold(n_folds, shuffle=True, random_state=seed)``; for every alpha (the paper's λ)
    a published ``TripletProbe`` per fold, stopped early on that fold's held-out
    triplets; the alpha with the lowest mean held-out cross-entropy is reported, its
    accuracy the plain mean over folds. The zero-shot column uses the published
    zero-shot rule (cosine unless ``zero_shot_similarity`` says otherwise).

    early_stopping (published only): "shared" (its default) reproduces the seed, which
    hands ONE Lightning ``EarlyStopping`` object to every fold's trainer: fold 2 starts
    with fold 1's best loss and a wait count at patience, so it asks to stop after its
    first epoch that does not beat fold 1's best and stops at the minimum of 10 epochs
    (fold 3 likewise, at 10 or a few epochs later). "per_fold" gives each fold a fresh
    stopper (the sound version: each fold trains until its own loss stops improving).
    The default variant trains a fixed number of epochs and takes no early stopping.
    """
    if probe_params.get("variant", "default") == "published":
        stopping = "shared" if early_stopping is None else early_stopping
        if stopping not in EARLY_STOPPING:
            raise ValidationError(f"probe_cv: unknown early_stopping {stopping!r}; valid: {', '.join(EARLY_STOPPING)}")
        return _probe_cv_published(X, triplets, n_folds, alphas, seed, zero_shot_similarity, probe_params, stopping)
    if early_stopping is not None:
        raise ValidationError(
            f"probe_cv: early_stopping={early_stopping!r} belongs to variant='published' (the default variant trains "
            "fixed epochs)"
        )
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
            raise ValidationError(
                f"probe_cv: fold {f} has {train_idx.size} training and {test_idx.size} test triplets; use more "
                "triplets or fewer folds"
            )
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


def _probe_cv_published(
    X, triplets, n_folds, alphas, seed, zero_shot_similarity, probe_params, stopping="shared"
) -> ProbeCVResult:
    from sklearn.model_selection import KFold

    Xa, t = features_and_triplets(X, triplets)
    if not alphas:
        raise ValidationError("probe_cv: alphas must not be empty")
    if n_folds < 2:
        raise ValidationError(f"n_folds must be >= 2, got {n_folds}")
    zs_sim = zero_shot_similarity or "cosine"
    splits = []
    for f, (train_obj, _) in enumerate(
        KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.arange(Xa.shape[0]))
    ):
        in_train = np.zeros(Xa.shape[0], bool)
        in_train[train_obj] = True
        train_idx, test_idx = disjoint_split(t, in_train)  # all three in train / none in train
        if test_idx.size == 0 or train_idx.size == 0:
            raise ValidationError(
                f"probe_cv: fold {f} has {train_idx.size} training and {test_idx.size} test triplets; use more "
                "triplets or fewer folds"
            )
        splits.append((t[train_idx], t[test_idx]))
    runs = []
    for a in alphas:
        rows = []
        # One run of main_probing.py per λ: the seed's stopper lives for that run's folds.
        shared = EarlyStopper()
        for f, (t_train, t_test) in enumerate(splits):
            stopper = shared if stopping == "shared" else EarlyStopper()
            probe = TripletProbe(alpha=float(a), seed=seed, **probe_params).fit(
                Xa, t_train, validation=t_test, stopper=stopper
            )
            rows.append(
                {
                    "fold": f,
                    "alpha": float(a),
                    "n_train": int(t_train.shape[0]),
                    "n_test": int(t_test.shape[0]),
                    "epochs": probe.n_epochs_,
                    "loss": probe.loss(Xa, t_test),
                    "probed": probe.score(Xa, t_test),
                }
            )
        runs.append(pd.DataFrame(rows))
    selection = pd.DataFrame(
        {
            "alpha": [float(a) for a in alphas],
            "loss": [r["loss"].mean() for r in runs],
            "probed": [r["probed"].mean() for r in runs],
        }
    )
    # find_best_probes.py: skip non-finite losses, chance-level loss (log 3) and perfect accuracy.
    ok = np.isfinite(selection["loss"]) & (selection["loss"] != np.log(3)) & (selection["probed"] != 1.0)
    if not ok.any():
        raise ValidationError("probe_cv: every alpha gave a non-finite or chance-level held-out loss")
    best = int(selection["loss"].where(ok).idxmin())
    folds = runs[best].copy()
    folds["zero_shot"] = [float(odd_one_out_correct(Xa, tt, zs_sim, variant="published").mean()) for _, tt in splits]
    return ProbeCVResult(
        folds[["fold", "alpha", "n_train", "n_test", "zero_shot", "probed", "loss", "epochs"]],
        weighting="equal",
        selection=selection,
    )
