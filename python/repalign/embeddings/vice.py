"""VICE: Variational Interpretable Concept Embeddings (Muttenthaler et al. 2022), as used
by Mahner et al. (2025) for DNN triplets.

A mean-field Gaussian posterior q(X) = N(μ, σ²) over an embedding of n_objects × d,
trained by minimising NLL + β·KL(q‖p)/n_train (the evidence lower bound for β = 1) of
the softmax odd-one-out likelihood with one reparameterised sample per step; the
sampled X is made non-negative by ``relu``. After training, a dimension is kept when
enough objects have a weight that is reliably positive: P(x ≤ 0) = Φ(−μ/σ) is a
p-value per object, controlled for false discovery at level ``alpha``
(Benjamini–Hochberg) within each dimension. The final embedding is relu(μ) on the kept
dimensions.

Two variants (``variant``):

* ``"default"`` (repalign; the prior of LukasMut/VICE ``optimization/priors.py``): the
  spike-and-slab mixture p(x) = π·N(0, spike²) + (1 − π)·N(0, slab²), slab 1.0;
  μ ~ U(0, 2·init_scale), σ = ``init_sigma``; a dimension is kept when at least
  ``min_objects`` objects are reliably positive (Benjamini–Hochberg as in
  ``scipy.stats.false_discovery_control``); early stopping on the validation loss
  (see ``repalign.embeddings.training``); lr 0.01, at most 100 epochs.
* ``"published"`` (florianmahner/object-dimensions, ``objdim/core/embedding.py``
  ``VariationalEmbedding``, ``objdim/core/priors.py`` ``SpikeSlabPrior``,
  ``objdim/core/pruning.py`` ``NormalDimensionPruning``, ``objdim/core/engine.py``
  ``EmbeddingTrainer``; hyper-parameters of ``configs/train_dnn.toml``): the log prior
  is π·log N(x; 0, spike²) + (1 − π)·log N(x; 0, slab²) — a weighted sum of the two log
  densities, i.e. one Gaussian of precision π/spike² + (1 − π)/slab² (σ ≈ 0.35 for the
  published 0.25 / 2.0), not the mixture; μ ~ N(0, 2/d) (Kaiming, fan-in = d) and
  log σ = −1/sd(μ); the Benjamini–Hochberg step of the seed rejects the p-values with
  p₍ᵢ₎ ≤ i·α/n plus every p-value smaller than the first such one (the seed takes the
  *first* rejected index where statsmodels takes the last); a dimension is kept when
  *more than* ``min_objects`` objects are reliably positive; dimensions are sorted by
  Σ|μ|; stopping by the stability of the dimension count (burn-in 500, window 500);
  lr 0.001, at most 1000 epochs, slab 2.0.

β: object-dimensions uses β = 0.24 for DNN triplets (``configs/train_dnn.toml``) and 1.0
for human triplets (``configs/train_behavior.toml``); LukasMut/VICE has no β (= 1). The
estimator's default is the ELBO's β = 1; the ``[[embed]]`` stage defaults to 0.24 for
simulated network triplets and 1.0 for human ones, in both variants.
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


def _bh_reject_published(p: np.ndarray, alpha: float) -> np.ndarray:
    """Rejections (bool, same shape) of object-dimensions' Benjamini–Hochberg step
    (``objdim/core/pruning.py`` ``fdr_correction_torch``), column by column of p
    (n_objects, d): sorted p₍ᵢ₎ (i = 1..n) is rejected when p₍ᵢ₎ ≤ i·α/n, and every
    p-value ranked below the first rejected one is rejected too."""
    n = p.shape[0]
    order = np.argsort(p, axis=0, kind="stable")
    ps = np.take_along_axis(p, order, axis=0)
    rej_sorted = ps <= (np.arange(1, n + 1, dtype=np.float64) / n * alpha)[:, None]
    has = rej_sorted.any(axis=0)
    first = np.where(has, rej_sorted.argmax(axis=0), 0)
    rej_sorted |= np.arange(n)[:, None] < first[None, :]
    out = np.empty_like(rej_sorted)
    np.put_along_axis(out, order, rej_sorted, axis=0)
    return out


def reliable_counts(mu: np.ndarray, sigma: np.ndarray, alpha: float = 0.05, variant: str = "default") -> np.ndarray:
    """Per dimension, the number of objects whose weight is reliably > 0.

    mu, sigma: (n_objects, d). p-value of object i in dimension j: Φ(−μ_ij/σ_ij),
    the posterior probability that the weight is ≤ 0; Benjamini–Hochberg across
    objects within each dimension at false-discovery rate ``alpha`` (``variant =
    "published"``: object-dimensions' version of the step, see the module doc).
    Returns int (d,).
    """
    p = norm.cdf(-np.asarray(mu, np.float64) / np.asarray(sigma, np.float64))
    if variant == "published":
        return _bh_reject_published(p, alpha).sum(axis=0)
    q = false_discovery_control(p, axis=0, method="bh")
    return (q < alpha).sum(axis=0)


class VICE(TripletEmbedding):
    """Variational sparse positive embedding with spike-and-slab pruning.

    beta: weight of the KL term (1 = the ELBO; object-dimensions' DNN config 0.24);
    spike, slab: standard deviations of the prior's two components (slab None → 1.0,
    published 2.0); pi: weight of the spike; alpha: FDR level and min_objects: reliably
    positive objects needed to keep a dimension (published: more than min_objects);
    init_sigma: initial posterior standard deviation (default variant only). variant,
    burnin, stability_window and the training parameters: see ``TripletEmbedding``
    and the module doc.
    """

    DEFAULTS = {
        "default": {"lr": 0.01, "max_epochs": 100, "slab": 1.0},
        "published": {"lr": 0.001, "max_epochs": 1000, "slab": 2.0},
    }

    def __init__(
        self,
        n_dims: int = 50,
        *,
        variant: str = "default",
        beta: float = 1.0,
        spike: float = 0.25,
        slab: float | None = None,
        pi: float = 0.5,
        alpha: float = 0.05,
        min_objects: int = 5,
        init_sigma: float = 0.1,
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
        self.beta = beta
        self.spike = spike
        self.slab = slab
        self.pi = pi
        self.alpha = alpha
        self.min_objects = min_objects
        self.init_sigma = init_sigma

    def _check_params(self) -> None:
        super()._check_params()
        slab = self.resolved()["slab"]
        if not 0 < self.spike < slab:
            raise ValidationError(f"VICE: need 0 < spike < slab, got spike={self.spike}, slab={slab}")
        if not 0 < self.pi < 1:
            raise ValidationError(f"VICE: pi must be in (0, 1), got {self.pi}")
        if not 0 < self.alpha < 1:
            raise ValidationError(f"VICE: alpha must be in (0, 1), got {self.alpha}")
        if self.init_sigma <= 0:
            raise ValidationError(f"VICE: init_sigma must be > 0, got {self.init_sigma}")
        if not self.beta >= 0:
            raise ValidationError(f"VICE: beta must be >= 0, got {self.beta}")

    _restore_best = False

    def _dims_stable(self, rows):
        recent = [r["n_dims"] for r in rows[-(self.patience + 1) :]]
        return len(recent) == self.patience + 1 and len(set(recent)) == 1

    def _init_params(self, n_objects, gen, device):
        if self.variant == "published":
            # object-dimensions VariationalEmbedding._init_weights: Kaiming-normal means
            # (fan-in = d, ReLU gain) and log σ = −1 / sd(μ) for every weight.
            mu = torch.randn(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32)
            mu = mu * math.sqrt(2.0 / self.n_dims)
            log_sigma = torch.full_like(mu, -1.0 / float(mu.std()))
        else:
            mu = (
                torch.rand(n_objects, self.n_dims, generator=gen, device=device, dtype=torch.float32)
                * 2
                * self.init_scale
            )
            log_sigma = torch.full_like(mu, math.log(self.init_sigma))
        return {"mu": mu.requires_grad_(True), "log_sigma": log_sigma.requires_grad_(True)}

    def _log_prior(self, x: torch.Tensor) -> torch.Tensor:
        slab = float(self._hp("slab"))
        if self.variant == "published":  # weighted sum of log densities (object-dimensions priors.py)
            return self.pi * _log_normal(x, self.spike) + (1 - self.pi) * _log_normal(x, slab)
        return torch.logaddexp(
            math.log(self.pi) + _log_normal(x, self.spike), math.log1p(-self.pi) + _log_normal(x, slab)
        )

    def _loss(self, params, batch, n_train, gen):
        mu, log_sigma = params["mu"], params["log_sigma"]
        sigma = log_sigma.exp()
        eps = torch.randn(mu.shape, generator=gen, device=mu.device, dtype=mu.dtype)
        x = mu + sigma * eps
        # Monte-Carlo estimate of KL(q‖p) with the same sample; log q up to the sample's
        # own noise term: log N(x; μ, σ) = −ε²/2 − log σ − log√(2π).
        log_q = (-0.5 * eps**2 - log_sigma - _LOG_SQRT_2PI).sum()
        kl = log_q - self._log_prior(x).sum()
        # The ELBO over all n_train triplets, divided by n_train: the KL term is spread
        # over the minibatches of one epoch; beta weighs it (object-dimensions engine.py).
        return triplet_nll(F.relu(x), batch) + self.beta * kl / n_train

    def _point_estimate(self, params):
        return params["mu"].detach().clamp(min=0.0)

    def _counts(self, params) -> np.ndarray:
        return reliable_counts(
            params["mu"].detach().cpu().numpy(),
            params["log_sigma"].detach().exp().cpu().numpy(),
            self.alpha,
            self.variant,
        )

    def _active_dims(self, params):
        counts = self._counts(params)
        return counts > self.min_objects if self.variant == "published" else counts >= self.min_objects

    def _dimension_weight(self, params, X):
        if self.variant == "published":  # sorted_pruned_params: L1 norm of the means
            return np.abs(params["mu"].detach().cpu().double().numpy()).sum(axis=0)
        return X.sum(axis=0)

    def _finalise(self, params):
        super()._finalise(params)
        self.reliable_counts_ = self._counts(params)[self.kept_dims_]
