"""VICE: Variational Interpretable Concept Embeddings (Muttenthaler et al. 2022).

A mean-field Gaussian posterior q(X) = N(μ, σ²) over an embedding of n_objects × d,
trained by maximising the evidence lower bound of the softmax odd-one-out likelihood
with one reparameterised sample per step; the sampled X is made non-negative by
``relu``. The prior is a spike-and-slab Gaussian mixture per weight,

    p(x) = π · N(0, spike²) + (1 − π) · N(0, slab²),

which pulls unneeded weights into the narrow spike at 0. After training, a dimension is
kept when at least ``min_objects`` objects have a weight that is reliably positive:
P(x ≤ 0) = Φ(−μ/σ) is treated as a p-value per object and controlled for false
discovery at level ``alpha`` (Benjamini–Hochberg) within each dimension. The final
embedding is relu(μ) on the kept dimensions.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import false_discovery_control, norm

from repalign.embeddings.training import TripletEmbedding, triplet_nll
from repalign.errors import ValidationError

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


def _log_normal(x: torch.Tensor, sd: float | torch.Tensor) -> torch.Tensor:
    sd = torch.as_tensor(sd, dtype=x.dtype, device=x.device)
    return -0.5 * (x / sd) ** 2 - torch.log(sd) - _LOG_SQRT_2PI


def reliable_counts(mu: np.ndarray, sigma: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Per dimension, the number of objects whose weight is reliably > 0.

    mu, sigma: (n_objects, d). p-value of object i in dimension j: Φ(−μ_ij/σ_ij),
    the posterior probability that the weight is ≤ 0; Benjamini–Hochberg across
    objects within each dimension at false-discovery rate ``alpha``. Returns int (d,).
    """
    p = norm.cdf(-np.asarray(mu, np.float64) / np.asarray(sigma, np.float64))
    q = false_discovery_control(p, axis=0, method="bh")
    return (q < alpha).sum(axis=0)


class VICE(TripletEmbedding):
    """Variational sparse positive embedding with spike-and-slab pruning.

    spike, slab: standard deviations of the prior's two components; pi: weight of the
    spike; alpha: FDR level and min_objects: reliably positive objects needed to keep a
    dimension; init_sigma: initial posterior standard deviation. Other parameters: see
    ``TripletEmbedding``.
    """

    def __init__(self, n_dims: int = 50, *, spike: float = 0.25, slab: float = 1.0, pi: float = 0.5,
                 alpha: float = 0.05, min_objects: int = 5, init_sigma: float = 0.1, lr: float = 0.01,
                 batch_size: int = 256, max_epochs: int = 100, patience: int = 5, min_delta: float = 1e-4,
                 val_fraction: float = 0.1, init_scale: float = 0.1, seed: int = 0, device: str = "auto",
                 num_threads: int | None = 1, verbose: bool = False):
        super().__init__(n_dims, lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                         min_delta=min_delta, val_fraction=val_fraction, init_scale=init_scale, seed=seed,
                         device=device, num_threads=num_threads, verbose=verbose)
        self.spike = spike
        self.slab = slab
        self.pi = pi
        self.alpha = alpha
        self.min_objects = min_objects
        self.init_sigma = init_sigma

    def _check_params(self) -> None:
        super()._check_params()
        if not 0 < self.spike < self.slab:
            raise ValidationError(f"VICE: need 0 < spike < slab, got spike={self.spike}, slab={self.slab}")
        if not 0 < self.pi < 1:
            raise ValidationError(f"VICE: pi must be in (0, 1), got {self.pi}")
        if not 0 < self.alpha < 1:
            raise ValidationError(f"VICE: alpha must be in (0, 1), got {self.alpha}")
        if self.init_sigma <= 0:
            raise ValidationError(f"VICE: init_sigma must be > 0, got {self.init_sigma}")

    _restore_best = False

    def _dims_stable(self, rows):
        recent = [r["n_dims"] for r in rows[-(self.patience + 1):]]
        return len(recent) == self.patience + 1 and len(set(recent)) == 1

    def _init_params(self, n_objects, gen, device):
        mu = torch.rand(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32) * 2 * self.init_scale
        log_sigma = torch.full_like(mu, math.log(self.init_sigma))
        return {"mu": mu.requires_grad_(True), "log_sigma": log_sigma.requires_grad_(True)}

    def _log_prior(self, x: torch.Tensor) -> torch.Tensor:
        return torch.logaddexp(math.log(self.pi) + _log_normal(x, self.spike),
                               math.log1p(-self.pi) + _log_normal(x, self.slab))

    def _loss(self, params, batch, n_train, gen):
        mu, log_sigma = params["mu"], params["log_sigma"]
        sigma = log_sigma.exp()
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        x = mu + sigma * eps
        # Monte-Carlo estimate of KL(q‖p) with the same sample; log q up to the sample's
        # own noise term: log N(x; μ, σ) = −ε²/2 − log σ − log√(2π).
        log_q = (-0.5 * eps ** 2 - log_sigma - _LOG_SQRT_2PI).sum()
        kl = log_q - self._log_prior(x).sum()
        # The ELBO over all n_train triplets, divided by n_train: the KL term is spread
        # over the minibatches of one epoch.
        return triplet_nll(F.relu(x), batch) + kl / n_train

    def _point_estimate(self, params):
        return params["mu"].detach().clamp(min=0.0)

    def _active_dims(self, params):
        counts = reliable_counts(params["mu"].detach().cpu().numpy(), params["log_sigma"].detach().exp().cpu().numpy(),
                                 self.alpha)
        return counts >= self.min_objects

    def _finalise(self, params):
        super()._finalise(params)
        sigma = params["log_sigma"].detach().exp().cpu().numpy()
        self.reliable_counts_ = reliable_counts(params["mu"].detach().cpu().numpy(), sigma, self.alpha)[self.kept_dims_]
