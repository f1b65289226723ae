"""repalign.embeddings: tripletising, SPoSE/VICE training, dimension matching, the
[[embed]] plan and CLI.

Synthetic data only where a planted truth is recovered (a sparse non-negative
embedding of 200 objects × 8 dimensions); everything else on the real THINGS data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from repalign.config import load_config
from repalign.embeddings import (
    SPoSE, VICE, choose_odd_one_out, match_dimensions, plan_embed, reliable_counts, sample_triplets,
    similarity_rsa, tripletise,
)
from repalign.errors import ValidationError
from repalign.metrics import choice_probabilities, odd_one_out_accuracy, odd_one_out_choices

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
    model = VICE(n_dims=20, lr=0.03, batch_size=1024, max_epochs=200, patience=10, seed=1, device="cpu").fit(tri, N_PLANTED)
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
    model = SPoSE(n_dims=12, l1=1.0, lr=0.03, batch_size=1024, max_epochs=60, patience=5, seed=0, device="cpu").fit(tri, N_PLANTED)
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
    model = SPoSE(n_dims=20, l1=1.0, lr=0.01, batch_size=1024, max_epochs=15, patience=3, init_scale=0.3,
                  seed=0, device="cpu").fit(train, len(ids))
    held = odd_one_out_accuracy(model.embedding_, evals["test_10_heldout"])
    ceiling_set = odd_one_out_accuracy(model.embedding_, evals["noise_ceiling"])
    spose49 = load_spose(49).values
    ref_held = odd_one_out_accuracy(spose49, evals["test_10_heldout"])
    print(f"\nSPoSE-20 on {len(train)} triplets: held-out {held:.3f}, noise-ceiling set {ceiling_set:.3f}; "
          f"SPoSE-49 {ref_held:.3f}, {odd_one_out_accuracy(spose49, evals['noise_ceiling']):.3f}; chance 0.333")
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
        plan_embed(cfg)
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nmethod = "spose"\nspike = 0.1\n'))
    with pytest.raises(ValidationError, match="do not apply to method 'spose'"):
        plan_embed(cfg)
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nsource = "nope"\n'))
    with pytest.raises(ValidationError, match=r"unknown representation\(s\) \['nope'\]"):
        plan_embed(cfg)
    cfg = load_config(_write_config(tmp_path, '[[embed]]\nname = "a"\nmethod = "pca"\n'))
    with pytest.raises(ValidationError, match="method = 'pca'; valid: spose, vice"):
        plan_embed(cfg)


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
    tasks = plan_embed(load_config(path))
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
    spec, ref, references, _, provenance = tasks[0].args
    again = tmp_path / "again"
    tasks[0].fn(spec, ref, references, str(again), provenance)
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
    tasks = plan_embed(load_config(_write_config(tmp_path, body)))
    assert run_local(tasks, progress=False) == {tasks[0].key: "done"}
    out = tasks[0].outputs[0].parent
    emb = read_table(out / "embedding.parquet", kind="embedding")
    assert len(emb) == 92 and emb["stimulus_id"].iloc[0] == "mur92_01"
    ev = read_table(out / "evaluation.parquet", kind="metrics")
    # no THINGS objects: no human triplets and no SPoSE-49 reference
    assert ev["dataset"].tolist() == ["simulated_heldout"] and ev["n"].tolist() == [1000]
    assert read_table(out / "matching.parquet").empty
