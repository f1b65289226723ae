"""Learners batched across models (``repalign.learners.across_models``), on torch's CPU
device: the one batched solve over models of different widths gives each model's
per-model outputs (the numba CPU kernels: the learners' reference path) within the
solvers' tolerance; the back-end rule; mismatched inputs are named."""

from __future__ import annotations

import numpy as np
import pandas as pd
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


# --- the [[learners]] plan on CUDA: one task per group of models -----------------------------------
_STUDY = """[run]
output = "out"
seed = 2

[[representations]]
name = "spose"
source = "spose49"

[[representations]]
name = "spose14"
source = "spose14"

[[representations]]
name = "noise"
source = "random"
dims = 20
seed = 5

[[learners]]
task = "demo-category"
tasks = 3
C_grid = [0.1, 10.0]

[[learners]]
task = "demo-reward"
tasks = 2

[[learners]]
task = "demo-category"
tasks = 2
variant = "published"
"""


def _plans(tmp_path, monkeypatch):
    """(per-model tasks as planned here on the CPU, tasks planned "as on CUDA"): the
    plan's device resolver answers CUDA and the crossover lets any batch through."""
    from repalign.config import load_config
    from repalign.learners import across_models
    from repalign.learners import plan as learner_plan
    from repalign.pipeline.plan import plan_stage

    p = tmp_path / "study.toml"
    p.write_text(_STUDY)
    cfg = load_config(p)
    cpu = plan_stage(cfg, "learners")
    monkeypatch.setattr(learner_plan, "resolve_device", lambda device=None: torch.device("cuda"))
    for kind in GPU_MIN_SEQUENCES:
        monkeypatch.setitem(across_models.GPU_MIN_SEQUENCES, kind, 1)
    return cfg, cpu, plan_stage(cfg, "learners")


@pytest.mark.data
def test_cuda_plan_groups_models_with_the_per_model_outputs_and_keys(tmp_path, monkeypatch):
    _, cpu, cuda = _plans(tmp_path, monkeypatch)
    assert len(cpu) == 9 and all(t.key.startswith("learners:") for t in cpu)
    grouped = [t for t in cuda if t.key.startswith("learners-batch:")]
    # category and reward: one task for the 3 models each; the published variant is not batched
    assert [t.label for t in grouped] == ["demo-category 3 models", "demo-reward 3 models"]
    published = [t for t in cpu if t.kwargs["job"].spec.get("variant") == "published"]
    assert [t for t in cuda if not t.key.startswith("learners-batch:")] == published
    by_path = {t.outputs[0]: t for t in cpu}
    assert sorted(p for t in cuda for p in t.outputs) == sorted(by_path)  # the same files, named as today
    for g in grouped:
        assert list(g.output_keys) == [by_path[p].key for p in g.outputs]
        assert set(g.deps) == {d for p in g.outputs for d in by_path[p].deps}


@pytest.mark.data
def test_grouped_task_writes_each_models_per_model_table(tmp_path, monkeypatch):
    """The grouped bodies, run here with torch on the CPU (the path CUDA takes), write
    every model's table equal to its per-model task's within TOL, and a CPU plan then
    finds every table current."""
    from repalign.store import read_table, table_info
    from repalign.task import run_local

    _, cpu, cuda = _plans(tmp_path, monkeypatch)
    grouped = [t for t in cuda if t.key.startswith("learners-batch:")]
    assert all(t.kwargs["backend"] == "torch" for t in grouped)
    assert run_local(cuda, progress=False) == {t.key: "done" for t in cuda}
    assert run_local(cpu, progress=False) == {t.key: "skipped" for t in cpu}  # keys as the per-model tasks'
    checked = 0
    for t in cpu:
        if not any(t.outputs[0] in g.outputs for g in grouped):
            continue
        assert table_info(t.outputs[0])["provenance"]["task"] == t.key
        ref_path = tmp_path / f"ref-{checked}.parquet"
        t.fn(**dict(t.kwargs, path=str(ref_path)))  # the per-model body
        got, ref = read_table(t.outputs[0], kind="trials"), read_table(ref_path, kind="trials")
        assert list(got.columns) == list(ref.columns) and len(got) == len(ref) > 0
        close = [c for c in ref.columns if c in ("value", "value_left", "value_right", "p_choice")]
        for c in ref.columns:
            if c in close:
                assert np.abs(got[c].to_numpy() - ref[c].to_numpy()).max() <= TOL, c
            else:
                pd.testing.assert_series_equal(got[c], ref[c], check_exact=True)
        checked += 1
    assert checked == 6


def test_simulate_models_refuses_what_does_not_batch():
    from repalign.datasets import CategoryTask, Embedding
    from repalign.learners import CategoryLearner, RewardLearner
    from repalign.learners.across_models import simulate_category_models, simulate_reward_models

    emb = Embedding(("a", "b", "c", "d"), np.eye(4))
    task = CategoryTask("t1", ("a", "b", "c", "d"), ("a", "b", "c", "d"), np.array([0, 1, 0, 1]))
    with pytest.raises(ValidationError, match="CategoryLearner with variant 'published' is not batched"):
        simulate_category_models(CategoryLearner(variant="published"), [task], [emb], [("m", "")])
    with pytest.raises(ValidationError, match="selection 'train_accuracy' is not batched"):
        simulate_category_models(
            CategoryLearner(C_grid=[0.1, 1.0], selection="train_accuracy"), [task], [emb], [("m", "")]
        )
    with pytest.raises(ValidationError, match="RewardLearner with ard is not batched"):
        simulate_reward_models(RewardLearner(ard=True), [], [emb], [("m", "")])
    with pytest.raises(ValidationError, match="2 feature sets for 1 names"):
        simulate_category_models(CategoryLearner(), [task], [emb, emb], [("m", "")])
