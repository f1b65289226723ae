"""Shared machinery of the triplet-trained embeddings (SPoSE, VICE).

Both models explain odd-one-out choices with a non-negative embedding X (n_objects × d)
and the softmax choice rule: for a triplet (i, j, k) the probability that (i, j) is the
most similar pair — so that k is the odd one out — is

    exp(x_i·x_j) / (exp(x_i·x_j) + exp(x_i·x_k) + exp(x_j·x_k)).

Triplets are int arrays (n, 3) of object indices with the chosen odd item LAST (the
convention of ``repalign.datasets.load_triplets``), so the target of every triplet is
pair 0 = (first, second).

``TripletEmbedding`` holds the training loop (seeded minibatches, a validation split,
a stopping rule, a per-epoch training curve); subclasses define the parameters, the
loss and the final embedding.

Two stopping rules (``variant``):

* ``"default"`` (repalign): early stopping on the validation loss (``patience``,
  ``min_delta``), at most ``max_epochs`` (default 100) epochs;
* ``"published"`` (florianmahner/object-dimensions, ``objdim/core/engine.py``,
  ``EmbeddingTrainer.evaluate_convergence``; LukasMut/VICE ``optimization/trainer.py``
  ``Trainer.fit``/``convergence`` is the same rule with ``burnin``/``ws`` except that it
  checks from 0-based epoch > burnin and also needs a non-zero count): after epoch
  ``burnin`` (500), stop as soon as the number of kept dimensions has been the same for
  the last ``stability_window`` (500) epochs; the validation loss is only recorded and
  the last state is kept; at most ``max_epochs`` epochs (published default 1000 for
  VICE, ``configs/train_dnn.toml``; 2000 for SPoSE, ``configs/train_spose_behavior.toml``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from repalign.config import check_variant
from repalign.device import resolve_device
from repalign.errors import ValidationError
from repalign.metrics import odd_one_out_accuracy


def as_triplet_array(triplets: Any, n_objects: int | None = None, *, where: str = "triplets") -> np.ndarray:
    """Validate triplets → int64 array (n, 3) (odd item last). Accepts a
    ``repalign.datasets.Triplets`` or anything array-like."""
    arr = getattr(triplets, "triplets", triplets)
    arr = np.asarray(arr)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValidationError(f"{where}: expected an array of shape (n, 3), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValidationError(f"{where}: no triplets")
    if not np.issubdtype(arr.dtype, np.integer):
        raise ValidationError(f"{where}: object indices must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.min() < 0 or (n_objects is not None and arr.max() >= n_objects):
        bad = int(np.flatnonzero(((arr < 0) | (arr >= (n_objects or np.iinfo(np.int64).max))).any(axis=1))[0])
        raise ValidationError(
            f"{where}: row {bad} has an object index outside 0..{(n_objects or 0) - 1}: {arr[bad].tolist()}"
        )
    rep = np.flatnonzero((arr[:, 0] == arr[:, 1]) | (arr[:, 0] == arr[:, 2]) | (arr[:, 1] == arr[:, 2]))
    if rep.size:
        raise ValidationError(f"{where}: row {int(rep[0])} repeats an object: {arr[rep[0]].tolist()}")
    return arr


def pair_logits(x: torch.Tensor) -> torch.Tensor:
    """x: (B, 3, d) embeddings of the triplets' objects → (B, 3) logits of the pairs
    (0,1), (0,2), (1,2); with odd item last the target is always pair 0."""
    s01 = (x[:, 0] * x[:, 1]).sum(-1)
    s02 = (x[:, 0] * x[:, 2]).sum(-1)
    s12 = (x[:, 1] * x[:, 2]).sum(-1)
    return torch.stack((s01, s02, s12), dim=1)


def triplet_nll(X: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
    """Mean negative log-likelihood (nats) of the batch's choices under X (n, d)."""
    logits = pair_logits(X[batch])
    return F.cross_entropy(logits, torch.zeros(len(batch), dtype=torch.long, device=X.device))


@torch.no_grad()
def evaluate(X: torch.Tensor, triplets: torch.Tensor, chunk: int = 65536) -> tuple[float, float]:
    """(mean NLL, accuracy) of X on all triplets; accuracy = fraction whose most
    similar pair under X is the humans' pair (ties count as wrong)."""
    nll, correct = 0.0, 0
    for start in range(0, len(triplets), chunk):
        b = triplets[start : start + chunk]
        logits = pair_logits(X[b])
        nll += float(F.cross_entropy(logits, torch.zeros(len(b), dtype=torch.long, device=X.device), reduction="sum"))
        correct += int((logits[:, 0] > logits[:, 1:].max(dim=1).values).sum())
    return nll / len(triplets), correct / len(triplets)


class TripletEmbedding:
    """Base estimator: ``fit(triplets, n_objects)`` learns ``embedding_`` (n_objects ×
    n_dims_, non-negative float64, dimensions sorted by decreasing total weight).

    Fitted attributes: ``embedding_``, ``n_dims_``, ``history_`` (DataFrame, one row per
    epoch: epoch, train_loss, val_loss, val_accuracy, n_dims), ``best_epoch_``,
    ``kept_dims_`` (indices of the kept dimensions in the initial n_dims).

    variant: ``"default"`` or ``"published"`` (see the module doc and the subclasses).
    Parameters left at None take the variant's default (``DEFAULTS[variant]``); the
    values used are in ``resolved_params_`` after ``fit`` (and from ``resolved()``).
    burnin, stability_window: the published stopping rule (epochs; published 500, 500).
    """

    # Per-variant defaults of the parameters that default to None.
    DEFAULTS: dict[str, dict[str, Any]] = {
        "default": {"lr": 0.01, "max_epochs": 100},
        "published": {"lr": 0.001, "max_epochs": 1000},
    }

    def __init__(
        self,
        n_dims: int = 50,
        *,
        variant: str = "default",
        lr: float | None = None,
        batch_size: int = 256,
        max_epochs: int | None = None,
        patience: int = 5,
        min_delta: float = 1e-4,
        val_fraction: float = 0.1,
        init_scale: float = 0.1,
        burnin: int = 500,
        stability_window: int = 500,
        seed: int = 0,
        device: str = "auto",
        num_threads: int | None = 1,
        verbose: bool = False,
    ):
        self.n_dims = n_dims
        self.variant = variant
        self.burnin = burnin
        self.stability_window = stability_window
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.min_delta = min_delta
        self.val_fraction = val_fraction
        self.init_scale = init_scale
        self.seed = seed
        self.device = device
        self.num_threads = num_threads
        self.verbose = verbose

    # Early stopping: after ``patience`` epochs without a validation-loss improvement of
    # ``min_delta``, restore the best epoch (SPoSE). VICE overrides both: its pruning
    # needs the posterior widths to settle, so it also waits for a stable number of
    # dimensions and keeps the last state.
    _restore_best = True

    def _dims_stable(self, rows: list[dict]) -> bool:
        return True

    # --- to be defined by subclasses ------------------------------------------------
    def _init_params(self, n_objects: int, gen: torch.Generator, device: torch.device) -> dict[str, torch.Tensor]:
        raise NotImplementedError

    def _loss(
        self, params: dict[str, torch.Tensor], batch: torch.Tensor, n_train: int, gen: torch.Generator
    ) -> torch.Tensor:
        raise NotImplementedError

    def _point_estimate(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        """The embedding used for evaluation (n_objects, n_dims), non-negative."""
        raise NotImplementedError

    def _active_dims(self, params: dict[str, torch.Tensor]) -> np.ndarray:
        """Boolean (n_dims,) mask of the dimensions that survive pruning."""
        raise NotImplementedError

    def _dimension_weight(self, params: dict[str, torch.Tensor], X: np.ndarray) -> np.ndarray:
        """(n_dims,) weight by which the kept dimensions are sorted (decreasing): the
        column sums of the final embedding X; the published variants override it."""
        return X.sum(axis=0)

    def _after_step(self, params: dict[str, torch.Tensor]) -> None:
        """Hook after each optimiser step (e.g. projection onto X >= 0)."""

    # --- shared -----------------------------------------------------------------------
    def resolved(self) -> dict[str, Any]:
        """The parameters with every None replaced by the variant's default."""
        check_variant(self.variant, f"{type(self).__name__}")
        out = self.get_params()
        for k, v in self.DEFAULTS[self.variant].items():
            if out.get(k) is None:
                out[k] = v
        return out

    def _hp(self, name: str) -> Any:
        return self._resolved[name] if hasattr(self, "_resolved") else self.resolved()[name]

    def _check_params(self) -> None:
        p = self.resolved()
        for name in ("n_dims", "batch_size", "max_epochs", "burnin", "stability_window"):
            v = p[name]
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValidationError(f"{type(self).__name__}: {name} must be a positive integer, got {v!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValidationError(f"{type(self).__name__}: val_fraction must be in [0, 1), got {self.val_fraction}")
        if p["lr"] <= 0:
            raise ValidationError(f"{type(self).__name__}: lr must be > 0, got {p['lr']}")

    def _published_converged(self, counts: list[int]) -> bool:
        """object-dimensions ``evaluate_convergence``: at epoch e = len(counts) ≥ burnin,
        the last ``stability_window`` dimension counts are all equal."""
        w = int(self.stability_window)
        return len(counts) >= int(self.burnin) and len(counts) >= w and len(set(counts[-w:])) == 1

    def fit(self, triplets: Any, n_objects: int | None = None, *, validation: Any = None) -> TripletEmbedding:
        """Train on ``triplets`` (n, 3), odd item last.

        n_objects: number of objects (default: largest index + 1). validation: triplets
        for early stopping; default: a seeded ``val_fraction`` split of ``triplets``
        (val_fraction=0 and no validation → no early stopping; the curve then has NaN
        validation columns).
        """
        # The per-step tensors are small: on CPU, extra intra-op threads only add
        # synchronisation (20× slower on a loaded 2-core machine), and a fixed thread
        # count keeps results reproducible. The caller's setting is restored.
        previous = torch.get_num_threads()
        if self.num_threads is not None:
            torch.set_num_threads(int(self.num_threads))
        try:
            return self._fit(triplets, n_objects, validation)
        finally:
            torch.set_num_threads(previous)

    def _fit(self, triplets: Any, n_objects: int | None, validation: Any) -> TripletEmbedding:
        self._check_params()
        self._resolved = self.resolved()
        self.resolved_params_ = dict(self._resolved)
        published = self.variant == "published"
        tri = as_triplet_array(triplets, n_objects)
        n_objects = int(n_objects if n_objects is not None else tri.max() + 1)
        rng = np.random.default_rng(self.seed)
        if validation is not None:
            train, val = tri, as_triplet_array(validation, n_objects, where="validation triplets")
        elif self.val_fraction > 0:
            perm = rng.permutation(len(tri))
            n_val = max(1, int(round(self.val_fraction * len(tri))))
            val, train = tri[np.sort(perm[:n_val])], tri[np.sort(perm[n_val:])]
        else:
            train, val = tri, None
        if len(train) == 0:
            raise ValidationError("no training triplets left after the validation split")

        device = resolve_device(self.device)
        gen = torch.Generator(device=device).manual_seed(int(self.seed))
        cpu_gen = torch.Generator().manual_seed(int(self.seed) + 1)
        self.n_objects_ = n_objects
        params = self._init_params(n_objects, gen, device)
        opt = torch.optim.Adam(list(params.values()), lr=float(self._hp("lr")))
        t_train = torch.as_tensor(train, device=device)
        t_val = torch.as_tensor(val, device=device) if val is not None else None

        rows, best, best_state, bad_epochs = [], np.inf, None, 0
        for epoch in range(1, int(self._hp("max_epochs")) + 1):
            order = torch.randperm(len(t_train), generator=cpu_gen).to(device)
            total = 0.0
            for start in range(0, len(order), self.batch_size):
                batch = t_train[order[start : start + self.batch_size]]
                opt.zero_grad(set_to_none=True)
                loss = self._loss(params, batch, len(t_train), gen)
                loss.backward()
                opt.step()
                self._after_step(params)
                total += float(loss.detach()) * len(batch)
            X = self._point_estimate(params)
            if t_val is not None:
                val_loss, val_acc = evaluate(X, t_val)
            else:
                val_loss, val_acc = float("nan"), float("nan")
            active = int(self._active_dims(params).sum())
            rows.append(
                {
                    "epoch": epoch,
                    "train_loss": total / len(t_train),
                    "val_loss": val_loss,
                    "val_accuracy": val_acc,
                    "n_dims": active,
                }
            )
            if self.verbose:
                print(rows[-1])
            if published:  # stability of the dimension count only; the last state is kept
                if self._published_converged([r["n_dims"] for r in rows]):
                    break
                continue
            if t_val is None:
                continue
            if val_loss < best - self.min_delta:
                best, bad_epochs = val_loss, 0
                if self._restore_best:
                    best_state = {k: v.detach().clone() for k, v in params.items()}
                    self.best_epoch_ = epoch
            else:
                bad_epochs += 1
            if bad_epochs >= self.patience and self._dims_stable(rows):
                break
        self.converged_ = bool(published and self._published_converged([r["n_dims"] for r in rows]))
        if best_state is not None:
            params = best_state
        else:
            self.best_epoch_ = len(rows)
        self.history_ = pd.DataFrame(rows, columns=["epoch", "train_loss", "val_loss", "val_accuracy", "n_dims"])
        self._finalise(params)
        return self

    def _finalise(self, params: dict[str, torch.Tensor]) -> None:
        X = self._point_estimate(params).detach().cpu().double().numpy()
        keep = np.flatnonzero(self._active_dims(params))
        # Sort kept dimensions by decreasing total weight (as SPoSE-49 is sorted); the
        # stable sort keeps the order fixed among exact ties.
        keep = keep[np.argsort(-self._dimension_weight(params, X)[keep], kind="stable")]
        self.kept_dims_ = keep
        self.embedding_ = np.ascontiguousarray(X[:, keep])
        self.n_dims_ = int(len(keep))
        self.params_ = {k: v.detach().cpu().numpy() for k, v in params.items()}

    def score(self, triplets: Any) -> float:
        """Odd-one-out accuracy of ``embedding_`` on ``triplets`` (odd item last)."""
        X = self.embedding_
        if X.shape[1] == 0:  # every dimension pruned: all similarities 0 (metric's tie rule)
            X = np.zeros((X.shape[0], 1))
        return float(odd_one_out_accuracy(X, as_triplet_array(triplets, X.shape[0])))

    def get_params(self) -> dict[str, Any]:
        import inspect

        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {p: getattr(self, p) for p in names}
