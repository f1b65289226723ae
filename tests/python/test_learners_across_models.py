"""Learners batched across models (``repalign.learners.across_models``), on torch's CPU
device: the one batched solve over models of different widths gives each model's
per-model outputs (the numba CPU kernels: the learners' reference path) within the
solvers' tolerance; the back-end rule; mismatched inputs are named."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repalign.errors import ValidationError
from repalign.learners import DEFAULT_C_GRID
from repalign.learners.across_models import (
    GPU_MIN_SEQUENCES,
    category_probabilities_models,
    choose_backend,
    reward_values_models,
)
from repalign.learners.category import category_probabilities
from repalign.learners.reward import reward_values

TOL = 1e-6  # both back-ends solve each fit until a step moves the logits by < 1e-6


def _category_inputs(widths, B=4, T=36, seed=0):
    rng = np.random.default_rng(seed)
    y = np.stack([rng.permutation(np.r_[np.zeros(T // 2), np.ones(T - T // 2)]) for _ in range(B)]).astype(np.int64)
    feats = []
    for k, d in enumerate(widths):
        X = rng.normal(size=(B, T, d))
        X[..., 0] += (1.5 - 0.5 * k) * (2 * y - 1)  # models differ in how well feature 0 separates
        feats.append(torch.as_tensor(X))
    return feats, torch.as_tensor(y)


def test_category_batched_across_models_equals_per_model():
    feats, y = _category_inputs((8, 21, 5))
    Cs = DEFAULT_C_GRID[::4]
    batched = category_probabilities_models(feats, y, Cs, backend="torch")
    assert len(batched) == 3
    for x, (p, acc) in zip(feats, batched):
        p_ref, acc_ref = category_probabilities(x, y, Cs, backend="cpu")
        assert p.shape == p_ref.shape == (4, len(Cs), 36)
        assert float((p - p_ref).abs().max()) <= TOL
        assert torch.allclose(acc, acc_ref, atol=1e-12, equal_nan=True)
    # the models are told apart: the most separable one predicts the categories best
    ll = [float(torch.where(y[:, None, :] == 1, p.log(), (-p).log1p()).sum()) for p, _ in batched]
    assert ll[0] > ll[2]
    # per-model CPU kernels, chosen by the rule on CPU tensors, are the reference itself
    auto = category_probabilities_models(feats, y, Cs)
    assert all(torch.equal(a[0], category_probabilities(x, y, Cs, backend="cpu")[0]) for a, x in zip(auto, feats))


def test_reward_batched_across_models_equals_per_model():
    rng = np.random.default_rng(1)
    B, T = 3, 30
    feats = [torch.as_tensor(rng.normal(size=(B, T, 2, d))) for d in (4, 16, 40)]  # 2(t−1) crosses d
    w = rng.normal(size=4)
    R = torch.as_tensor(np.einsum("btod,d->bto", feats[0].numpy()[..., :4], w) + rng.normal(0, 0.3, (B, T, 2)))
    batched = reward_values_models(feats, R, backend="torch")
    for x, v in zip(feats, batched):
        ref = reward_values(x, R, backend="cpu")
        assert v.shape == ref.shape == (B, T, 2)
        assert float((v - ref).abs().max()) <= TOL * max(1.0, float(ref.abs().max()))
    # the model whose features made the rewards predicts them best (late trials)
    err = [float(((v - R)[:, T // 2 :] ** 2).mean()) for v in batched]
    assert err[0] == min(err)


def test_backend_rule_and_bad_inputs():
    assert choose_backend("category", 10_000, "cpu") == "cpu"
    assert choose_backend("category", GPU_MIN_SEQUENCES["category"], "cuda") == "torch"
    assert choose_backend("category", GPU_MIN_SEQUENCES["category"] - 1, "cuda:0") == "cpu"
    assert choose_backend("reward", GPU_MIN_SEQUENCES["reward"], "cuda") == "torch"
    with pytest.raises(ValidationError, match="unknown learner kind 'choice'"):
        choose_backend("choice", 1, "cpu")
    feats, y = _category_inputs((3, 4))
    with pytest.raises(ValidationError, match="same tasks and trials.*leading shapes"):
        category_probabilities_models([feats[0], feats[1][:, :10]], y, [1.0])
    with pytest.raises(ValidationError, match="no models"):
        reward_values_models([], torch.zeros(1, 2, 2))
