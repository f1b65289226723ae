"""repalign.embeddings: tripletising, SPoSE/VICE training, dimension matching, the
[[embed]] plan and CLI.

Synthetic data only where a planted truth is recovered (a sparse non-negative
embedding of 200 objects × 8 dimensions); everything else on the real THINGS data.
"""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from repalign.config import load_config
from repalign.embeddings import (
    VICE,
    SPoSE,
    choose_odd_one_out,
    match_dimensions,
    reliable_counts,
    sample_triplets,
    similarity_rsa,
    tripletise,
)
from repalign.errors import ValidationError
from repalign.metrics import choice_probabilities, odd_one_out_accuracy, odd_one_out_choices
from repalign.pipeline.plan import plan_stage

N_PLANTED, D_PLANTED = 200, 8


def planted_embedding(seed: int = 0) -> np.ndarray:
    """200 × 8, each weight non-zero with probability 1/4 (uniform 0.5–2), every object
    with at least one non-zero weight."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, (N_PLANTED, D_PLANTED)) * (rng.random((N_PLANTED, D_PLANTED)) < 0.25)
    empty = ~X.any(axis=1)
    X[empty, rng.integers(0, D_PLANTED, empty.sum())] = rng.uniform(0.5, 2.0, empty.sum())
    return X


@pytest.fixture(scope="module")
def planted():
    X = planted_embedding(0)
    return X, tripletise(X, 60000, rule="softmax", seed=10)


# --- tripletising ------------------------------------------------------------------------------
def test_sample_triplets_distinct_uniform_seeded():
    t = sample_triplets(10, 60000, seed=3)
    assert t.shape == (60000, 3) and t.dtype == np.int64
    assert ((t[:, 0] != t[:, 1]) & (t[:, 0] != t[:, 2]) & (t[:, 1] != t[:, 2])).all()
    # every position is uniform over the 10 objects (expected 6000 each)
    for col in range(3):
        counts = np.bincount(t[:, col], minlength=10)
        assert np.abs(counts - 6000).max() < 6 * np.sqrt(6000)
    assert np.array_equal(t, sample_triplets(10, 60000, seed=3))
    assert not np.array_equal(t, sample_triplets(10, 60000, seed=4))
    with pytest.raises(ValidationError, match="at least 3 objects"):
        sample_triplets(2, 5)


def test_argmax_choice_puts_the_representations_odd_item_last():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 6))
    t = sample_triplets(50, 2000, seed=1)
    odd = choose_odd_one_out(X, t, rule="argmax")
    # same items, odd one last: the representation agrees with its own choices
    assert np.array_equal(np.sort(odd, axis=1), np.sort(t, axis=1))
    assert odd_one_out_accuracy(X, odd) == 1.0
    assert odd_one_out_accuracy(X, odd, similarity="cosine") < 1.0  # another similarity disagrees somewhere
    assert odd_one_out_accuracy(X, choose_odd_one_out(X, t, similarity="cosine"), similarity="cosine") == 1.0
    # the pair keeps its order
    kept = np.where(odd_one_out_choices(X, t) == 0, t[:, 1], t[:, 0])
    assert np.array_equal(odd[:, 0], kept)


def test_softmax_choice_frequencies_match_the_choice_rule():
    X = np.array([[1.0, 0.0], [1.0, 0.2], [0.0, 1.0]])  # pair (0, 1) most similar
    t = np.tile([[0, 1, 2]], (30000, 1))
    p = choice_probabilities(X, t[:1], temperature=0.5)[0]
    odd = choose_odd_one_out(X, t, rule="softmax", temperature=0.5, seed=5)[:, 2]
    freq = np.bincount(odd, minlength=3) / len(odd)
    assert np.abs(freq - p).max() < 0.015
    assert p.argmax() == 2 and p.max() - p.min() > 0.5  # item 2 is the likely odd one
    with pytest.raises(ValidationError, match="unknown choice rule"):
        choose_odd_one_out(X, t, rule="vote")


# --- planted recovery ---------------------------------------------------------------------------
def test_vice_recovers_planted_dimensions_and_prunes_to_their_number(planted):
    X, tri = planted
    model = VICE(n_dims=20, lr=0.03, batch_size=1024, max_epochs=200, patience=10, seed=1, device="cpu").fit(
        tri, N_PLANTED
    )
    assert abs(model.n_dims_ - D_PLANTED) <= 1, model.n_dims_
    match = match_dimensions(X, model.embedding_)
    assert len(match.pairs) == D_PLANTED
    assert match.matched_r.min() >= 0.9, match.pairs
    assert (model.embedding_ >= 0).all()
    # pruned dimensions have few reliably positive objects; kept ones many
    assert (model.reliable_counts_ >= model.min_objects).all()
    h = model.history_
    assert list(h.columns) == ["epoch", "train_loss", "val_loss", "val_accuracy", "n_dims"]
    assert h["val_loss"].iloc[-1] < h["val_loss"].iloc[0] < np.log(3) + 0.05
    assert h["n_dims"].iloc[0] > h["n_dims"].iloc[-1]


def test_spose_recovers_planted_dimensions(planted):
    X, tri = planted
    model = SPoSE(n_dims=12, l1=1.0, lr=0.03, batch_size=1024, max_epochs=60, patience=5, seed=0, device="cpu").fit(
        tri, N_PLANTED
    )
    match = match_dimensions(X, model.embedding_)
    assert np.sort(match.matched_r)[-6:].min() >= 0.9, match.pairs  # most planted dimensions found
    assert (model.embedding_ >= 0).all()


def test_training_is_seeded_and_reproducible(planted):
    _, tri = planted
    kw = dict(n_dims=10, lr=0.03, batch_size=1024, max_epochs=3, seed=7, device="cpu")
    a = VICE(**kw).fit(tri[:20000], N_PLANTED)
    b = VICE(**kw).fit(tri[:20000], N_PLANTED)
    c = VICE(**{**kw, "seed": 8}).fit(tri[:20000], N_PLANTED)
    assert np.array_equal(a.embedding_, b.embedding_) and a.history_.equals(b.history_)
    assert not np.array_equal(a.params_["mu"], c.params_["mu"])
    s1 = SPoSE(**kw).fit(tri[:20000], N_PLANTED)
    s2 = SPoSE(**kw).fit(tri[:20000], N_PLANTED)
    assert np.array_equal(s1.embedding_, s2.embedding_)


def test_bad_triplets_and_parameters_raise_clear_errors():
    with pytest.raises(ValidationError, match="row 1 repeats an object"):
        SPoSE(device="cpu").fit(np.array([[0, 1, 2], [3, 3, 4]]), 5)
    with pytest.raises(ValidationError, match=r"outside 0\.\.4"):
        SPoSE(device="cpu").fit(np.array([[0, 1, 2], [3, 4, 5]]), 5)
    with pytest.raises(ValidationError, match="shape"):
        VICE(device="cpu").fit(np.zeros((4, 2), dtype=int), 5)
    with pytest.raises(ValidationError, match="spike < slab"):
        VICE(spike=2.0, device="cpu").fit(np.array([[0, 1, 2]]), 3)


def test_reliable_counts_uses_fdr_control():
    mu = np.array([[3.0, 0.0], [3.0, 0.1], [-1.0, 0.0], [0.5, 0.0]])
    sigma = np.ones_like(mu)
    # P(x<=0): 0.0013, 0.0013, 0.84, 0.31 → two discoveries in dimension 0, none in 1
    assert reliable_counts(mu, sigma, alpha=0.05).tolist() == [2, 0]


# --- matching ------------------------------------------------------------------------------------
def test_match_dimensions_recovers_a_permutation():
    rng = np.random.default_rng(2)
    A = rng.gamma(1.0, 1.0, (300, 6))
    perm = np.array([3, 0, 5, 1, 4, 2])
    B = A[:, perm] * rng.uniform(0.5, 3, 6) + rng.normal(0, 0.05, (300, 6))
    B = np.concatenate([B, rng.normal(size=(300, 2))], axis=1)  # two extra unrelated dimensions
    m = match_dimensions(A, B)
    assert m.corr.shape == (6, 8)
    assert m.pairs["dim_a"].tolist() == list(range(6))
    assert np.array_equal(perm[m.pairs["dim_b"].to_numpy()], np.arange(6))
    assert m.matched_r.min() > 0.95 and m.n_above(0.95) == 6
    assert similarity_rsa(A, A[:, perm]) == pytest.approx(1.0)
    assert similarity_rsa(A, rng.gamma(1.0, 1.0, (300, 6))) < 0.8
    with pytest.raises(ValidationError, match="same objects"):
        match_dimensions(A, B[:10])


# --- real THINGS data ----------------------------------------------------------------------------
@pytest.mark.data
def test_spose_on_things_human_triplets_beats_chance_and_matches_spose49():
    from repalign.datasets import load_spose
    from repalign.embeddings.plan import _human_data, embed_spec

    spec = embed_spec({"name": "things", "seed": 0, "holdout": 0.2}, "test")
    ids, train, evals = _human_data(spec)
    assert len(ids) == 1854
    assert len(train) == 21616 + 127304 - 25461 and len(evals["test_10_heldout"]) == 25461
    assert len(evals["noise_ceiling"]) == 20000
    model = SPoSE(
        n_dims=20, l1=1.0, lr=0.01, batch_size=1024, max_epochs=15, patience=3, init_scale=0.3, seed=0, device="cpu"
    ).fit(train, len(ids))
    held = odd_one_out_accuracy(model.embedding_, evals["test_10_heldout"])
    ceiling_set = odd_one_out_accuracy(model.embedding_, evals["noise_ceiling"])
    spose49 = load_spose(49).values
    ref_held = odd_one_out_accuracy(spose49, evals["test_10_heldout"])
    print(
        f"\nSPoSE-20 on {len(train)} triplets: held-out {held:.3f}, noise-ceiling set {ceiling_set:.3f}; "
        f"SPoSE-49 {ref_held:.3f}, {odd_one_out_accuracy(spose49, evals['noise_ceiling']):.3f}; chance 0.333"
    )
    assert held > 0.5 and ceiling_set > 0.5  # clearly above chance (1/3)
    assert held < ref_held  # SPoSE-49 was trained on ~10× more triplets
    assert 0.62 < ref_held < 0.65
    match = match_dimensions(model.embedding_, spose49)
    print("matched r with SPoSE-49:", np.round(np.sort(match.matched_r)[::-1], 2).tolist())
    assert match.matched_r.max() > 0.7  # at least one SPoSE-49 dimension is found again
    assert similarity_rsa(model.embedding_, spose49) > 0.6


# --- plan and CLI --------------------------------------------------------------------------------
def _write_config(tmp_path, body: str):
    p = tmp_path / "study.toml"
    p.write_text(f'[run]\noutput = "out"\nseed = 3\n{body}')
    return p


def test_embed_config_errors(tmp_path):
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nlamda = 1\n'))
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['lamda'\]; valid keys: name"):
        plan_stage(cfg, "embed")
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nmethod = "spose"\nspike = 0.1\n'))
    with pytest.raises(ValidationError, match="do not apply to method 'spose'"):
        plan_stage(cfg, "embed")
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nsource = "nope"\n'))
    with pytest.raises(ValidationError, match=r"unknown representation\(s\) \['nope'\]"):
        plan_stage(cfg, "embed")
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nmethod = "pca"\n'))
    with pytest.raises(ValidationError, match="method = 'pca'; valid: spose, vice"):
        plan_stage(cfg, "embed")


@pytest.mark.data
def test_embed_cli_trains_on_a_representations_choices(tmp_path):
    from repalign.cli import app
    from repalign.store import read_table, table_info

    body = """
[[representations]]
name = "spose"
source = "spose49"

[[embed]]
name = "spose-choices"
method = "spose"
source = "spose"
n_triplets = 30000
n_dims = 8
l1 = 0.1
init_scale = 0.3
max_epochs = 3
batch_size = 1024
lr = 0.03
"""
    path = _write_config(tmp_path, body)
    tasks = plan_stage(load_config(path), "embed")
    assert len(tasks) == 1 and tasks[0].stage == "embed"
    res = CliRunner().invoke(app, ["embed", "--config", str(path)])
    assert res.exit_code == 0, res.output
    out = tasks[0].outputs[0].parent
    emb = read_table(out / "embedding.parquet", kind="embedding")
    assert len(emb) == 1854 and emb["stimulus_id"].iloc[0] == "aardvark"
    prov = table_info(out / "embedding.parquet")["provenance"]
    assert prov["spec"]["seed"] == 3 and prov["n_train_triplets"] == 30000 - 6000
    assert len(emb["embedding"].iloc[0]) == prov["n_dims"]
    curve = read_table(out / "curve.parquet")
    assert curve["epoch"].tolist() == [1, 2, 3]
    ev = read_table(out / "evaluation.parquet", kind="metrics")
    acc = ev[ev.metric == "odd_one_out_accuracy"].set_index(["model", "dataset"])["value"]
    # SPoSE-49 on the human noise-ceiling triplets, a known fact
    assert acc[("spose49", "noise_ceiling")] == pytest.approx(0.630, abs=0.005)
    print(acc)
    assert acc[("spose-choices", "simulated_heldout")] > 0.45  # learning the network's choices
    assert acc[("spose-choices", "noise_ceiling")] > 0.4  # … which are human-like
    assert acc[("spose", "noise_ceiling")] == acc[("spose49", "noise_ceiling")]  # the source itself
    if prov["n_dims"]:
        assert set(read_table(out / "matching.parquet")["reference"]) == {"spose49"}
    # deterministic: the same task written elsewhere gives byte-identical tables
    from dataclasses import replace

    from repalign.store import task_context

    again = tmp_path / "again"
    job = replace(tasks[0].kwargs["job"], out_dir=str(again))  # the task's job, by name: only the folder moved
    with task_context(tasks[0].key):  # as the executor runs it: the task's key in the provenance
        tasks[0].fn(job=job)
    for p in tasks[0].outputs:
        assert (again / p.name).read_bytes() == p.read_bytes(), p.name
    # finished task: a second run skips it (the files are not rewritten)
    before = {p: p.stat().st_mtime_ns for p in tasks[0].outputs}
    res = CliRunner().invoke(app, ["embed", "--config", str(path), "--quiet"])
    assert res.exit_code == 0 and before == {p: p.stat().st_mtime_ns for p in tasks[0].outputs}


@pytest.mark.data
def test_embed_plan_on_non_things_objects_has_no_human_evaluation(tmp_path):
    from repalign.store import read_table
    from repalign.task import run_local

    body = """
[[stimuli]]
name = "mur92"
source = "mur92"

[[representations]]
name = "noise"
source = "random"
dims = 16
stimuli = "mur92"

[[embed]]
name = "noise-spose"
source = "noise"
n_triplets = 5000
n_dims = 6
l1 = 0.1
max_epochs = 2
"""
    tasks = plan_stage(load_config(_write_config(tmp_path, body)), "embed")
    assert run_local(tasks, progress=False) == {tasks[0].key: "done"}
    out = tasks[0].outputs[0].parent
    emb = read_table(out / "embedding.parquet", kind="embedding")
    assert len(emb) == 92 and emb["stimulus_id"].iloc[0] == "mur92_01"
    ev = read_table(out / "evaluation.parquet", kind="metrics")
    # no THINGS objects: no human triplets and no SPoSE-49 reference
    assert ev["dataset"].tolist() == ["simulated_heldout"] and ev["n"].tolist() == [1000]
    assert read_table(out / "matching.parquet").empty


# --- published variants (Mahner et al. 2025: florianmahner/object-dimensions, LukasMut/VICE) ------
def _small_planted(seed: int = 0) -> np.ndarray:
    """100 objects × 5 dimensions, weights uniform 0.5–2 with probability 0.3."""
    rng = np.random.default_rng(seed)
    X = rng.uniform(0.5, 2.0, (100, 5)) * (rng.random((100, 5)) < 0.3)
    empty = ~X.any(axis=1)
    X[empty, rng.integers(0, 5, empty.sum())] = rng.uniform(0.5, 2.0, empty.sum())
    return X


def test_published_defaults_are_the_seed_configs():
    # object-dimensions configs/train_dnn.toml: stability_time 500, n_epochs 1000, lr 0.001;
    # run_optimization.py: spike 0.25, slab 2.0, pi 0.5, non_zero_weights 5
    p = VICE(variant="published").resolved()
    assert (p["burnin"], p["stability_window"], p["max_epochs"], p["lr"]) == (500, 500, 1000, 0.001)
    assert (p["spike"], p["slab"], p["pi"], p["min_objects"]) == (0.25, 2.0, 0.5, 5)
    # configs/train_spose_behavior.toml: beta 0.00385, n_epochs 2000, lr 0.001
    s = SPoSE(variant="published").resolved()
    assert (s["l1"], s["max_epochs"], s["lr"], s["burnin"], s["stability_window"]) == (0.00385, 2000, 0.001, 500, 500)
    assert VICE().resolved()["slab"] == 1.0 and VICE().beta == 1.0
    with pytest.raises(ValidationError, match="variant must be 'default' or 'published', got 'paper'"):
        VICE(variant="paper").fit(np.array([[0, 1, 2]]), 3)


def test_vice_published_stopping_rule_keeps_planted_dimensions_with_beta():
    """The published rule (here with burn-in and window 100 instead of the default 500,
    to stay fast) stops once the dimension count was stable for the whole window; with
    β = 1 VICE prunes to exactly the 5 planted dimensions, with the DNN config's weaker
    β = 0.24 it prunes less but still keeps every planted dimension."""
    X = _small_planted(0)
    tri = tripletise(X, 10000, rule="softmax", seed=10, variant="published")
    kw = dict(
        n_dims=10, variant="published", lr=0.03, burnin=100, stability_window=100, max_epochs=800, seed=1, device="cpu"
    )
    strong = VICE(beta=1.0, **kw).fit(tri, 100)
    counts = strong.history_["n_dims"].tolist()
    assert strong.converged_ and 100 <= len(counts) < 800
    assert len(set(counts[-100:])) == 1 and (len(counts) == 100 or len(set(counts[-101:])) == 2)
    assert strong.n_dims_ == 5, counts
    match = match_dimensions(X, strong.embedding_)
    assert match.matched_r.min() >= 0.9, match.pairs
    assert (strong.reliable_counts_ > strong.min_objects).all()  # published: more than min_objects
    weak = VICE(beta=0.24, **kw).fit(tri, 100)
    assert weak.converged_ and weak.n_dims_ >= strong.n_dims_
    assert match_dimensions(X, weak.embedding_).matched_r.min() >= 0.9


def test_unique_triplet_sampler():
    from itertools import combinations

    every = sample_triplets(10, 120, seed=1, unique=True)  # C(10, 3) = 120: all of them
    assert sorted(map(tuple, every.tolist())) == list(combinations(range(10), 3))
    t = sample_triplets(30, 3000, seed=2, unique=True)
    assert t.shape == (3000, 3) and t.dtype == np.int64
    assert ((t[:, 0] < t[:, 1]) & (t[:, 1] < t[:, 2])).all()  # increasing, as the seed's sorted sample
    assert len({tuple(r) for r in t.tolist()}) == 3000
    counts = np.bincount(t.ravel(), minlength=30)  # every object equally likely: 300 each
    assert np.abs(counts - 300).max() < 6 * np.sqrt(300)
    assert not np.array_equal(t[:100], t[np.argsort(t[:, 0], kind="stable")][:100])  # rows in random order
    with pytest.raises(ValidationError, match=r"C\(10, 3\) = 120"):
        sample_triplets(10, 121, unique=True)


def test_published_tripletise_zeroes_negative_activations_and_breaks_ties_like_the_seed():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 5))
    X[:5] = -np.abs(X[:5])  # all-negative rows: zero after relu → tied similarities
    tri = tripletise(X, 5000, seed=3, variant="published")
    assert len({tuple(sorted(r)) for r in tri.tolist()}) == 5000
    R = np.maximum(X, 0)
    # independent re-implementation of the seed's choice: sorted triplet, similarities of
    # the pairs (i, j), (i, k), (j, k), first maximum is the pair, the rest is odd
    expect = []
    for i, j, k in np.sort(tri, axis=1).tolist():
        pairs = [(i, j), (i, k), (j, k)]
        sims = [float(R[a] @ R[b]) for a, b in pairs]
        a, b = pairs[int(np.argmax(sims))]
        expect.append([a, b, ({i, j, k} - {a, b}).pop()])
    assert np.array_equal(tri, np.array(expect))
    # the comparison above covers ties: triplets with two zeroed rows have ≥ 2 equal (0) similarities
    assert (np.isin(tri, np.arange(5)).sum(axis=1) >= 2).sum() > 0
    # without relu the choices differ on some triplets
    raw = choose_odd_one_out(X, np.sort(tri, axis=1))
    assert (raw[:, 2] != tri[:, 2]).any()


def test_spose_published_penalty_is_the_seed_formula():
    import torch

    rng = np.random.default_rng(5)
    X = rng.normal(0.2, 0.3, (12, 4))  # some negative weights
    batch = sample_triplets(12, 50, seed=6)
    model = SPoSE(n_dims=4, variant="published", l1=0.5)
    model._resolved, model.n_objects_ = model.resolved(), 12
    got = float(model._loss({"X": torch.tensor(X, dtype=torch.float64)}, torch.as_tensor(batch), 40, None))
    R = np.maximum(X, 0)
    nll = np.mean(
        [-(R[i] @ R[j]) + np.log(np.exp(R[i] @ R[j]) + np.exp(R[i] @ R[k]) + np.exp(R[j] @ R[k])) for i, j, k in batch]
    )
    expect = nll + (0.5 / 12) * np.abs(X).sum() + 0.01 * np.maximum(-X, 0).sum()
    assert got == pytest.approx(expect, rel=1e-12)
    # for X ≥ 0 it is the default objective with l1 = l1_published · n_train / n_objects
    Xp = torch.tensor(R, dtype=torch.float64)
    default = SPoSE(n_dims=4, l1=0.5 * 40 / 12)
    default._resolved = default.resolved()
    assert float(default._loss({"X": Xp}, torch.as_tensor(batch), 40, None)) == pytest.approx(
        float(model._loss({"X": Xp}, torch.as_tensor(batch), 40, None)), rel=1e-12
    )


def test_published_bh_step_takes_the_first_rejection():
    from scipy.stats import norm

    # sorted p = 0.001, 0.03, 0.036, 0.9 at α = 0.05 (thresholds 0.0125, 0.025, 0.0375, 0.05):
    # p1 and p3 pass; Benjamini–Hochberg rejects p1..p3 (3), the seed's step p1 and p3 (2)
    p = np.array([[0.9], [0.036], [0.001], [0.03]])
    mu, sigma = -norm.ppf(p), np.ones_like(p)
    assert reliable_counts(mu, sigma, 0.05).tolist() == [3]
    assert reliable_counts(mu, sigma, 0.05, variant="published").tolist() == [2]


def test_greedy_matching_in_reference_order_against_an_independent_loop():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(500, 2))
    # a0's best match is B0 (r ≈ .71) just above B1 (r ≈ .67); a1 only matches B0
    B = np.stack([a[:, 0] + a[:, 1], a[:, 0] + 1.1 * rng.normal(size=500), rng.normal(size=500)], axis=1)
    greedy = match_dimensions(a, B, variant="published")
    assert greedy.pairs["dim_b"].iloc[0] == 0 and greedy.pairs["dim_b"].iloc[1] != 0  # a1 gets a leftover
    assert abs(greedy.pairs["r"].iloc[1]) < 0.2
    assert match_dimensions(a, B).pairs["dim_b"].tolist() == [1, 0]  # Hungarian trades a0's best for the sum
    assert match_dimensions(a, B, variant="published", duplicates=True).pairs["dim_b"].tolist() == [0, 0]
    # planted case: a permuted, noisy copy plus unrelated dimensions, versus a plain loop
    A = rng.gamma(1.0, 1.0, (300, 6))
    B = np.concatenate([A[:, [3, 0, 5, 1, 4, 2]] + rng.normal(0, 0.8, (300, 6)), rng.gamma(1.0, 1.0, (300, 3))], axis=1)
    for dup in (False, True):
        used, expect = [], []
        for i in range(6):
            r = [np.corrcoef(A[:, i], B[:, j])[0, 1] for j in range(9)]
            best = max((j for j in range(9) if dup or j not in used), key=lambda j: r[j])
            used.append(best)
            expect.append((i, best, r[best]))
        got = match_dimensions(A, B, variant="published", duplicates=dup).pairs
        assert got[["dim_a", "dim_b"]].values.tolist() == [[i, j] for i, j, _ in expect]
        assert np.allclose(got["r"], [r for *_, r in expect])
    with pytest.raises(ValidationError, match="duplicates=True needs variant='published'"):
        match_dimensions(A, B, duplicates=True)


def test_embed_spec_fills_in_variant_and_source_defaults(tmp_path):
    from repalign.embeddings.plan import embed_spec

    net = embed_spec({"name": "a", "method": "vice", "source": "lite", "variant": "published"}, "t")
    assert (net["beta"], net["lr"], net["max_epochs"], net["slab"], net["burnin"]) == (0.24, 0.001, 1000, 2.0, 500)
    human = embed_spec({"name": "a", "method": "vice"}, "t")
    assert (human["beta"], human["lr"], human["max_epochs"], human["slab"]) == (1.0, 0.01, 100, 1.0)
    spose = embed_spec({"name": "a", "variant": "published"}, "t")
    assert (spose["l1"], spose["max_epochs"]) == (0.00385, 2000)
    with pytest.raises(ValidationError, match="variant must be 'default' or 'published', got 'paper'"):
        embed_spec({"name": "a", "variant": "paper"}, "t")
    with pytest.raises(ValidationError, match=r"do not apply to method 'spose'"):
        embed_spec({"name": "a", "beta": 0.24}, "t")


@pytest.mark.data
def test_object_dimensions_study_config_plans_the_published_pipeline():
    from pathlib import Path

    from repalign.pipeline import plan_all

    cfg = load_config(Path(__file__).resolve().parents[2] / "analysis" / "configs" / "object_dimensions.toml")
    specs = {t.kwargs["job"].spec["name"]: t.kwargs["job"].spec for t in plan_all(cfg) if t.stage == "embed"}
    assert set(specs) == {
        "lite0-mur92-vice",
        "lite0-mur92-vice-default",
        "lite0-silhouettes-vice",
        "spose49-things-vice",
    }
    pub = specs["lite0-mur92-vice"]
    assert (pub["variant"], pub["beta"], pub["slab"], pub["lr"]) == ("published", 0.24, 2.0, 0.001)
    assert specs["spose49-things-vice"]["compare_to"] == ["spose49"]
