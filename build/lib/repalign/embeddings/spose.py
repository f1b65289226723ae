"""SPoSE: Sparse Positive Similarity Embedding (Hebart et al. 2020, Zheng et al. 2019).

A non-negative embedding X (n_objects × d) fitted by maximising the softmax
odd-one-out likelihood with an L1 penalty, by projected minibatch Adam (after every
step X is clipped at 0). Dimensions whose weights all fall below ``prune_threshold``
are removed at the end.
"""

from __future__ import annotations

import numpy as np
import torch

from repalign.embeddings.training import TripletEmbedding, triplet_nll
from repalign.errors import ValidationError


class SPoSE(TripletEmbedding):
    """Sparse positive similarity embedding.

    Objective: the negative log-likelihood summed over the n_train training triplets
    (nats) + ``l1`` × Σ|X| — the MAP estimate under a Laplace (exponential, since X ≥ 0)
    prior of rate ``l1`` per weight; per minibatch, both terms are divided by n_train so
    ``l1`` does not depend on the batch size. ``prune_threshold``: a dimension is kept when
    at least one object's weight exceeds it. Other parameters: see ``TripletEmbedding``.
    """

    def __init__(self, n_dims: int = 50, *, l1: float = 1.0, prune_threshold: float = 0.1, lr: float = 0.01,
                 batch_size: int = 256, max_epochs: int = 100, patience: int = 5, min_delta: float = 1e-4,
                 val_fraction: float = 0.1, init_scale: float = 0.1, seed: int = 0, device: str = "auto",
                 num_threads: int | None = 1, verbose: bool = False):
        super().__init__(n_dims, lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                         min_delta=min_delta, val_fraction=val_fraction, init_scale=init_scale, seed=seed,
                         device=device, num_threads=num_threads, verbose=verbose)
        self.l1 = l1
        self.prune_threshold = prune_threshold

    def _check_params(self) -> None:
        super()._check_params()
        if self.l1 < 0:
            raise ValidationError(f"SPoSE: l1 must be >= 0, got {self.l1}")

    def _init_params(self, n_objects, gen, device):
        # Small positive weights: every dimension starts active and symmetric ones are
        # broken by the random draw.
        X = torch.rand(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32)
        return {"X": (X * 2 * self.init_scale).requires_grad_(True)}

    def _loss(self, params, batch, n_train, gen):
        X = params["X"]
        return triplet_nll(X, batch) + self.l1 * X.abs().sum() / n_train

    @torch.no_grad()
    def _after_step(self, params):
        params["X"].clamp_(min=0.0)

    def _point_estimate(self, params):
        return params["X"].detach().clamp(min=0.0)

    def _active_dims(self, params):
        return (params["X"].detach().amax(dim=0) > self.prune_threshold).cpu().numpy()
