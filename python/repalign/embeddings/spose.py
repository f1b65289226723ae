"""SPoSE: Sparse Positive Similarity Embedding (Hebart et al. 2020, Zheng et al. 2019).

A non-negative embedding X (n_objects × d) fitted by maximising the softmax
odd-one-out likelihood with an L1 penalty. Dimensions whose weights all stay at or
below ``prune_threshold`` are removed at the end.

Two variants (``variant``):

* ``"default"`` (repalign): objective = NLL summed over the n_train training triplets +
  ``l1``·Σ|X| — the MAP estimate under an exponential prior of rate ``l1`` per weight;
  per minibatch both terms are divided by n_train, so the penalty per batch is
  ``l1``·Σ|X| / n_train. Projected minibatch Adam (X clipped at 0 after every step),
  X₀ ~ U(0, 2·init_scale), early stopping on the validation loss; l1 1.0, lr 0.01, at
  most 100 epochs.
* ``"published"`` (florianmahner/object-dimensions, ``objdim/core/engine.py``
  ``EmbeddingTrainer.calculate_spose_complexity`` and ``calculate_likelihood``,
  ``objdim/core/embedding.py`` ``DeterministicEmbedding``; hyper-parameters of
  ``configs/train_spose_behavior.toml``): per minibatch, mean NLL of relu(X) +
  (``l1`` / n_objects)·Σ|X| + 0.01·Σ relu(−X) (``l1`` is the seed's β, "same as
  lambda", 0.00385); X is not projected (the positivity penalty and the relu in the
  likelihood keep it ≥ 0 in effect); X₀ ~ N(0.1, 0.01²); dimensions sorted by Σ|X|;
  final embedding relu(X); the published stopping rule (burn-in 500, window 500 of the
  dimension count); lr 0.001, at most 2000 epochs.

For the same data the published penalty equals the default one with
l1_default = l1_published · n_train / n_objects.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from repalign.embeddings.training import TripletEmbedding, triplet_nll
from repalign.errors import ValidationError

POSITIVITY_WEIGHT = 0.01  # object-dimensions engine.py: 0.01 · Σ relu(−X)


def published_penalty(X: torch.Tensor, l1: float, n_objects: int) -> torch.Tensor:
    """object-dimensions' SPoSE complexity term: (l1 / n_objects)·Σ|X| + 0.01·Σ relu(−X)."""
    return (l1 / n_objects) * X.abs().sum() + POSITIVITY_WEIGHT * F.relu(-X).sum()


class SPoSE(TripletEmbedding):
    """Sparse positive similarity embedding.

    l1: penalty weight (None → 1.0 for the default variant, 0.00385 for the published
    one; see the module doc for the two objectives). ``prune_threshold``: a dimension is
    kept when at least one object's weight exceeds it. variant, burnin,
    stability_window and the training parameters: see ``TripletEmbedding``.
    """

    DEFAULTS = {
        "default": {"lr": 0.01, "max_epochs": 100, "l1": 1.0},
        "published": {"lr": 0.001, "max_epochs": 2000, "l1": 0.00385},
    }

    def __init__(
        self,
        n_dims: int = 50,
        *,
        variant: str = "default",
        l1: float | None = None,
        prune_threshold: float = 0.1,
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
        super().__init__(
            n_dims,
            variant=variant,
            lr=lr,
            batch_size=batch_size,
            max_epochs=max_epochs,
            patience=patience,
            min_delta=min_delta,
            val_fraction=val_fraction,
            init_scale=init_scale,
            burnin=burnin,
            stability_window=stability_window,
            seed=seed,
            device=device,
            num_threads=num_threads,
            verbose=verbose,
        )
        self.l1 = l1
        self.prune_threshold = prune_threshold

    def _check_params(self) -> None:
        super()._check_params()
        if self.resolved()["l1"] < 0:
            raise ValidationError(f"SPoSE: l1 must be >= 0, got {self.l1}")

    def _init_params(self, n_objects, gen, device):
        if self.variant == "published":  # DeterministicEmbedding._initialize_weights
            X = 0.1 + 0.01 * torch.randn(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32)
            return {"X": X.requires_grad_(True)}
        # Small positive weights: every dimension starts active and symmetric ones are
        # broken by the random draw.
        X = torch.rand(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32)
        return {"X": (X * 2 * self.init_scale).requires_grad_(True)}

    def _loss(self, params, batch, n_train, gen):
        X = params["X"]
        l1 = float(self._hp("l1"))
        if self.variant == "published":
            return triplet_nll(F.relu(X), batch) + published_penalty(X, l1, self.n_objects_)
        return triplet_nll(X, batch) + l1 * X.abs().sum() / n_train

    @torch.no_grad()
    def _after_step(self, params):
        if self.variant != "published":
            params["X"].clamp_(min=0.0)

    def _point_estimate(self, params):
        return params["X"].detach().clamp(min=0.0)

    def _active_dims(self, params):
        return (params["X"].detach().amax(dim=0) > self.prune_threshold).cpu().numpy()

    def _dimension_weight(self, params, X):
        if self.variant == "published":  # DeterministicEmbedding.prune_dimensions: L1 norm
            return np.abs(params["X"].detach().cpu().double().numpy()).sum(axis=0)
        return X.sum(axis=0)
