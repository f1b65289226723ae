"""The batched learners equal a plain per-trial scikit-learn implementation
(clone + fit at every trial), on random data and on the real task structures.

Tolerances (issue 5): reward values |Δ| ≤ 1e-6; category and multiclass
probabilities |Δ| ≤ 1e-4. The references (tests/python/reference_impls.py, shared with
bench/learners.py) are deliberately naive.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from reference_impls import ref_category, ref_category_final_accuracy, ref_multiclass, ref_reward

from repalign.datasets import CategoryTask, Embedding, RewardTask
from repalign.learners import CategoryLearner, MulticlassLearner, MulticlassTask, RewardLearner
from repalign.learners.category import category_probabilities, final_fit_accuracy
from repalign.learners.multiclass import multiclass_probabilities
from repalign.learners.reward import reward_values

# newton-cg at tol=1e-12 (the multiclass reference) reports line-search stalls at optimum
pytestmark = [
    pytest.mark.usefixtures("one_thread"),
    pytest.mark.filterwarnings("ignore:Line Search failed"),
    pytest.mark.filterwarnings("ignore:The line search algorithm did not converge"),
]


def _planted(rng, B, T, d, noise):
    X = rng.normal(size=(B, T, d))
    w = rng.normal(size=d)
    y = ((X @ w) / np.sqrt(d) + noise * rng.normal(size=(B, T)) > 0).astype(np.int64)
    y[:, 0], y[:, 1] = 0, 1
    return X, y


# --- category ----------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [49, 512])
def test_category_equals_per_trial_liblinear_on_random_data(d):
    rng = np.random.default_rng(d)
    X, y = _planted(rng, 2, 30, d, noise=0.5)
    Cs = [0.01, 1.0, 100.0]
    p, acc = category_probabilities(torch.as_tensor(X), torch.as_tensor(y), Cs)
    for b in range(2):
        for j, C in enumerate(Cs):
            assert np.abs(p[b, j].numpy() - ref_category(X[b], y[b], C)).max() <= 1e-4
            assert acc[b, j].item() == pytest.approx(ref_category_final_accuracy(X[b], y[b], C))


def test_category_cpu_kernels_equal_the_batched_torch_solver():
    # the CPU kernels (lazy Newton, reused factors) and the torch path (full
    # Newton, GPU-ready) solve the same fits: same probabilities and accuracies
    rng = np.random.default_rng(11)
    X, y = _planted(rng, 3, 40, 64, noise=0.3)
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)
    grid = [10.0, 1e-3, 1.0, 1e4]  # unsorted on purpose: outputs follow the caller's order
    p_cpu, a_cpu = category_probabilities(Xt, yt, grid, backend="cpu")
    p_t, a_t = category_probabilities(Xt, yt, grid, backend="torch")
    assert p_cpu.shape == p_t.shape == (3, 4, 40)
    assert np.abs(p_cpu.numpy() - p_t.numpy()).max() <= 1e-5
    assert np.array_equal(a_cpu.numpy(), a_t.numpy())
    ladder = np.array([[0.1, 1.0], [1.0, 10.0], [100.0, 1000.0]])  # a grid per sequence
    p_cpu, _ = category_probabilities(Xt, yt, ladder, backend="cpu")
    p_t, _ = category_probabilities(Xt, yt, ladder, backend="torch")
    assert np.abs(p_cpu.numpy() - p_t.numpy()).max() <= 1e-5
    f_cpu = final_fit_accuracy(Xt, yt, grid, backend="cpu").numpy()
    assert np.array_equal(f_cpu, final_fit_accuracy(Xt, yt, grid, backend="torch").numpy())
    assert np.array_equal(f_cpu, a_cpu.numpy())
    with pytest.raises(ValueError, match="backend"):
        category_probabilities(Xt, yt, grid, backend="gpu")


def test_category_warns_when_fits_hit_max_iter():
    rng = np.random.default_rng(12)
    X, y = _planted(rng, 1, 20, 30, noise=0.3)
    with pytest.warns(RuntimeWarning, match="max_iter"):
        category_probabilities(torch.as_tensor(X), torch.as_tensor(y), [1e4], max_iter=1, backend="cpu")


def test_category_predicts_half_until_both_categories_seen():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1, 12, 49))
    y = np.array([[1, 1, 1, 1, 0, 1, 0, 0, 1, 0, 1, 0]])
    p, _ = category_probabilities(torch.as_tensor(X), torch.as_tensor(y), [1.0])
    assert np.all(p[0, 0, :5].numpy() == 0.5)  # trials 1–5 see only category 1
    assert np.all(p[0, 0, 5:].numpy() != 0.5)
    assert np.abs(p[0, 0].numpy() - ref_category(X[0], y[0], 1.0)).max() <= 1e-4


def _truncate_category(task, n):
    return CategoryTask(task.task_id, task.images[:n], task.concepts[:n], task.categories[:n])


def _random_things_embedding(d, seed):
    from repalign.datasets import load_things_ids

    ids = load_things_ids()
    return Embedding(ids, np.random.default_rng(seed).normal(size=(len(ids), d)), f"random{d}")


@pytest.mark.data
@pytest.mark.parametrize("d", [49, 512])
def test_category_learner_equals_reference_on_demircan_condition_files(d):
    from repalign.datasets import load_category_tasks, load_spose

    tasks = [_truncate_category(t, 30) for t in load_category_tasks([3, 700])]
    emb = load_spose(49) if d == 49 else _random_things_embedding(512, 5)
    for C in (0.1, 10.0):
        df = CategoryLearner(C=C).simulate(tasks, emb, model="m", layer="l")
        for task in tasks:
            rows = df[df["task"] == task.task_id]
            X = emb.values[emb.index_of(task.concepts)]
            ref = ref_category(X, task.categories, C)
            assert np.abs(rows["value"].to_numpy() - ref).max() <= 1e-4
            assert rows["stimulus_id"].tolist() == list(task.concepts)
            assert (rows["true_category"].to_numpy() == task.categories).all()
    assert {"task", "participant", "trial", "model", "layer", "value"} <= set(df.columns)


@pytest.mark.data
def test_category_equals_reference_when_trials_outnumber_dimensions():
    # SPoSE-49 on a full 120-trial Demircan file: from trial 51 on the kernel
    # K = ZZᵀ + 1 is singular (rank ≤ 50); weak and strong penalties
    from repalign.datasets import load_category_tasks, load_spose

    sp = load_spose(49)
    (task,) = load_category_tasks([500])
    X = sp.values[sp.index_of(task.concepts)]
    Cs = [0.01, 1e4]
    p, _ = category_probabilities(torch.as_tensor(X[None]), torch.as_tensor(task.categories[None]), Cs)
    for j, C in enumerate(Cs):
        assert np.abs(p[0, j].numpy() - ref_category(X, task.categories, C)).max() <= 1e-4


def test_category_grid_selection_rules_match_reference_choices():
    rng = np.random.default_rng(7)
    d, T = 49, 30
    X, y = _planted(rng, 3, T, d, noise=1.0)
    ids = [f"s{i}" for i in range(3 * T)]
    emb = Embedding(tuple(ids), X.reshape(3 * T, d), "planted")
    tasks = [
        CategoryTask(f"t{b}", tuple(ids[b * T : (b + 1) * T]), tuple(ids[b * T : (b + 1) * T]), y[b]) for b in range(3)
    ]
    grid = [0.001, 0.1, 10.0, 1000.0]
    ref_p = {(b, C): ref_category(X[b], y[b], C) for b in range(3) for C in grid}
    for selection in ("prequential", "train_accuracy"):
        df = CategoryLearner(C_grid=grid, selection=selection).simulate(tasks, emb)
        for b in range(3):
            if selection == "prequential":
                scores = [np.sum(np.where(y[b] == 1, np.log(ref_p[b, C]), np.log1p(-ref_p[b, C]))) for C in grid]
            else:
                scores = [ref_category_final_accuracy(X[b], y[b], C) for C in grid]
            best = grid[int(np.argmax(scores))]
            rows = df[df["task"] == f"t{b}"]
            assert rows["C"].unique().tolist() == [best]
            assert np.abs(rows["value"].to_numpy() - ref_p[b, best]).max() <= 1e-4


# --- reward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [49, 512])
def test_reward_equals_per_trial_bayesian_ridge_on_random_data(d):
    rng = np.random.default_rng(d + 1)
    B, T = 2, 30
    X = rng.normal(size=(B, T, 2, d))
    R = X @ rng.normal(size=d) / np.sqrt(d) + 0.5 * rng.normal(size=(B, T, 2))
    V = reward_values(torch.as_tensor(X), torch.as_tensor(R)).numpy()
    for b in range(B):
        assert np.abs(V[b] - ref_reward(X[b], R[b])).max() <= 1e-6
    assert np.all(V[:, 0] == 0)


def test_reward_torch_chunking_and_cpu_kernel_agree():
    # d = 30 crosses from the Gram route (n ≤ d) to the SVD route (n > d) at trial 16
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3, 20, 2, 30))
    R = rng.normal(size=(3, 20, 2))
    a = reward_values(torch.as_tensor(X), torch.as_tensor(R), backend="torch").numpy()
    b = reward_values(
        torch.as_tensor(X), torch.as_tensor(R), max_elems=1, backend="torch"
    ).numpy()  # one trial per chunk
    c = reward_values(torch.as_tensor(X), torch.as_tensor(R), backend="cpu").numpy()
    assert np.abs(a - b).max() <= 1e-12
    assert np.abs(a - c).max() <= 1e-9
    assert np.abs(c[0] - ref_reward(X[0], R[0])).max() <= 1e-6
    with pytest.raises(ValueError, match="backend"):
        reward_values(torch.as_tensor(X), torch.as_tensor(R), backend="gpu")


@pytest.mark.data
@pytest.mark.parametrize("d", [49, 512])
def test_reward_learner_equals_reference_on_things_decisions(d):
    from repalign.datasets import load_spose, load_things_decisions

    full = load_things_decisions().tasks()[:2]
    n = 25
    tasks = [
        RewardTask(t.task_id, t.concepts[:n], t.images[:n], t.rewards[:n], t.choices[:n], t.participant) for t in full
    ]
    emb = load_spose(49) if d == 49 else _random_things_embedding(512, 9)
    df = RewardLearner().simulate(tasks, emb, model="m", layer="l")
    for task in tasks:
        rows = df[df["task"] == task.task_id]
        X = emb.values[emb.index_of(task.concepts.reshape(-1))].reshape(n, 2, -1)
        ref = ref_reward(X, task.rewards)
        assert np.abs(rows[["value_left", "value_right"]].to_numpy() - ref).max() <= 1e-6
        assert np.allclose(rows["value"], rows["value_right"] - rows["value_left"])
        assert rows["participant"].unique().tolist() == [task.participant]
        assert (rows["choice"].to_numpy() == task.choices).all()
        assert rows["left"].tolist() == list(task.concepts[:, 0])


def test_reward_ard_equals_per_trial_ard_regression():
    rng = np.random.default_rng(11)
    T, d = 10, 12
    X = rng.normal(size=(T, 2, d))
    R = X[..., 0] - X[..., 3] + 0.1 * rng.normal(size=(T, 2))
    ids = [f"s{i}" for i in range(2 * T)]
    emb = Embedding(tuple(ids), X.reshape(2 * T, d), "planted")
    task = RewardTask("r1", np.array(ids, dtype=object).reshape(T, 2), np.array(ids, dtype=object).reshape(T, 2), R)
    df = RewardLearner(ard=True).simulate(task, emb)
    assert np.abs(df[["value_left", "value_right"]].to_numpy() - ref_reward(X, R, ard=True)).max() <= 1e-6


# --- multiclass --------------------------------------------------------------------------------
@pytest.mark.parametrize("d", [49, 512])
def test_multiclass_equals_per_trial_softmax_on_random_data(d):
    rng = np.random.default_rng(d + 2)
    B, N, K = 2, 30, 3
    X = rng.normal(size=(B, N, d))
    y = (X @ rng.normal(size=(d, K)) / np.sqrt(d) + rng.normal(size=(B, N, K))).argmax(-1)
    is_train = np.ones(N, bool)
    is_train[18:24] = False  # a test block: predicted, never learned from
    for C in (0.1, 10.0):
        P = multiclass_probabilities(torch.as_tensor(X), torch.as_tensor(y), is_train, K, C).numpy()
        for b in range(B):
            assert np.abs(P[b] - ref_multiclass(X[b], y[b], is_train, K, C)).max() <= 1e-4
        # test trials are never learned from: their labels change nothing
        y2 = y.copy()
        y2[:, 18:24] = (y2[:, 18:24] + 1) % K
        P2 = multiclass_probabilities(torch.as_tensor(X), torch.as_tensor(y2), is_train, K, C).numpy()
        assert np.array_equal(P, P2)


@pytest.mark.data
@pytest.mark.parametrize("d", [49, 512])
def test_multiclass_learner_equals_reference_on_huber_first_epoch(d):
    from repalign.learners import huber_tasks

    full = huber_tasks(agent="human", runs=[1])[0]
    keep = [i for i, e in enumerate(full.epoch) if e == 1]  # 36 train + 51 test trials
    task = MulticlassTask(
        full.task_id,
        tuple(full.stimulus_ids[i] for i in keep),
        tuple(full.labels[i] for i in keep),
        tuple(full.phase[i] for i in keep),
        full.classes,
        tuple(full.epoch[i] for i in keep),
        tuple(full.choices[i] for i in keep),
        full.participant,
    )
    ids = sorted(set(task.stimulus_ids))
    emb = Embedding(tuple(ids), np.random.default_rng(d).normal(size=(len(ids), d)), f"random{d}")
    df = MulticlassLearner(C=1.0).simulate(task, emb, model="m", layer="l")
    X = emb.values[emb.index_of(task.stimulus_ids)]
    y = np.array([task.classes.index(c) for c in task.labels])
    ref = ref_multiclass(X, y, np.asarray(task.phase) == "train", 3, 1.0)
    assert np.abs(df[["prob_p", "prob_q", "prob_v"]].to_numpy() - ref).max() <= 1e-4
    assert np.allclose(df["value"], ref[np.arange(len(y)), y])
    assert (df["correct"] == (df["prediction"] == df["true_class"])).all()
    assert df["phase"].tolist() == list(task.phase) and (df["epoch"] == 1).all()
