"""Zero-shot odd-one-out and the noise ceiling: real THINGS data and planted truths."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import repalign.metrics.odd_one_out as ooo
from repalign.datasets import Embedding, Triplets, load_spose, load_triplets
from repalign.errors import ValidationError
from repalign.metrics import (
    choice_probabilities,
    fit_temperature,
    noise_ceiling,
    noise_ceiling_per_triplet,
    odd_one_out_accuracy,
    odd_one_out_choices,
)


@pytest.fixture(scope="module")
def spose(real_data):
    return load_spose(49)


@pytest.fixture(scope="module")
def nc_triplets(real_data):
    return load_triplets("noise_ceiling")


@pytest.fixture(scope="module")
def test10(real_data):
    return load_triplets("test_10")


# --- acceptance numbers -------------------------------------------------------------------
@pytest.mark.data
def test_noise_ceiling_of_the_1000_triplet_set(nc_triplets):
    assert noise_ceiling(nc_triplets) == pytest.approx(0.672, abs=0.001)
    per = noise_ceiling_per_triplet(nc_triplets)
    assert len(per) == 1000 and per["n_responses"].min() >= 2
    # Leave-one-response-out is a stricter (lower) estimate than the in-sample majority.
    loo = noise_ceiling(nc_triplets, method="loo")
    assert 0.60 < loo < noise_ceiling(nc_triplets)


@pytest.mark.data
def test_spose49_zero_shot_accuracy(spose, nc_triplets, test10):
    assert odd_one_out_accuracy(spose, test10, "dot") == pytest.approx(0.640, abs=0.002)
    assert odd_one_out_accuracy(spose, nc_triplets, "dot") == pytest.approx(0.630, abs=0.002)
    # A plain array with plain index triplets gives the same number as the typed objects.
    assert odd_one_out_accuracy(spose.values, test10.triplets) == odd_one_out_accuracy(spose, test10)


@pytest.mark.data
def test_per_participant_accuracy(spose, nc_triplets):
    acc = odd_one_out_accuracy(spose, nc_triplets, participant=True)
    assert isinstance(acc, pd.Series)
    assert acc.index.is_monotonic_increasing and len(acc) == np.unique(nc_triplets.participant).size
    # Trial-weighted mean of per-participant accuracies is the overall accuracy.
    n = pd.Series(nc_triplets.participant).value_counts().sort_index()
    assert float((acc * n).sum() / n.sum()) == pytest.approx(odd_one_out_accuracy(spose, nc_triplets))


@pytest.mark.data
def test_embedding_ids_are_matched_and_missing_ids_listed(spose, nc_triplets):
    # Reversed rows: matching by id must give the same accuracy as the canonical order.
    rev = Embedding(spose.ids[::-1], spose.values[::-1], "spose-reversed")
    assert odd_one_out_accuracy(rev, nc_triplets) == odd_one_out_accuracy(spose, nc_triplets)
    used = np.unique(nc_triplets.triplets)
    drop = {spose.ids[used[0]], spose.ids[used[1]]}
    keep = [i for i in spose.ids if i not in drop]
    with pytest.raises(ValidationError, match="lacks 2 stimulus id") as exc:
        odd_one_out_accuracy(spose.select(keep), nc_triplets)
    assert all(repr(d) in str(exc.value) for d in drop)


# --- definitions on planted data ----------------------------------------------------------
def _loop_choice(X, t, similarity):
    """Reference: one triplet at a time, the most similar pair's outsider."""

    def sim(u, v):
        if similarity == "dot":
            return float(u @ v)
        if similarity == "cosine":
            return float(u @ v / np.linalg.norm(u) / np.linalg.norm(v))
        return -float(np.linalg.norm(u - v))

    a, b, c = (X[i] for i in t)
    return int(np.argmax([sim(b, c), sim(a, c), sim(a, b)]))


@pytest.mark.parametrize("similarity", ["dot", "cosine", "euclidean"])
def test_choices_match_a_per_triplet_loop_in_both_code_paths(similarity, monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 7))
    t = np.array([rng.choice(40, 3, replace=False) for _ in range(500)])
    want = np.array([_loop_choice(X, row, similarity) for row in t])
    assert np.array_equal(odd_one_out_choices(X, t, similarity), want)
    monkeypatch.setattr(ooo, "MATRIX_LIMIT", 10)  # force the chunked row-gather path
    monkeypatch.setattr(ooo, "CHUNK", 64)
    assert np.array_equal(odd_one_out_choices(X, t, similarity), want)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), similarity=st.sampled_from(["dot", "cosine", "euclidean"]))
def test_accuracy_invariant_to_swapping_the_first_two_items(seed, similarity):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 5))
    t = np.array([rng.choice(20, 3, replace=False) for _ in range(50)])
    swapped = t[:, [1, 0, 2]]
    assert odd_one_out_accuracy(X, swapped, similarity) == odd_one_out_accuracy(X, t, similarity)
    # The chosen *item* is the same too (no ties in continuous random data).
    pick = lambda tt: tt[np.arange(len(tt)), odd_one_out_choices(X, tt, similarity)]  # noqa: E731
    assert np.array_equal(pick(t), pick(swapped))


def test_choice_probabilities_and_planted_temperature_is_recovered():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)) / np.sqrt(6)
    t = np.array([rng.choice(200, 3, replace=False) for _ in range(20000)])
    p = choice_probabilities(X, t, "dot", temperature=0.25)
    assert p.shape == (20000, 3) and np.allclose(p.sum(axis=1), 1)
    assert np.array_equal(np.argmax(p, axis=1), odd_one_out_choices(X, t, "dot"))
    # Simulate choices from the softmax model at T = 0.25, put the choice last, refit.
    u = rng.random(len(t))[:, None]
    chosen = (u > np.cumsum(p, axis=1)).sum(axis=1)
    order = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])[chosen]
    human = np.take_along_axis(t, order, axis=1)
    assert fit_temperature(X, human, "dot") == pytest.approx(0.25, rel=0.08)


def test_noise_ceiling_on_planted_responses():
    # Triplet A: 3 of 4 choose item 2 -> majority 0.75, LOO: the three each predicted by
    # two others (hit), the dissenter by three others choosing 2 (miss) -> 0.75.
    # Triplet B: 2 vs 2 tie -> majority 0.5; LOO: each response's own item loses 1-2.
    A = [[0, 1, 2]] * 3 + [[0, 2, 1]]
    B = [[3, 4, 5], [4, 3, 5], [3, 5, 4], [5, 3, 4]]
    C = [[6, 7, 8]]  # a single response: dropped
    T = np.array(A + B + C)
    per = noise_ceiling_per_triplet(T).set_index("n_responses")
    assert sorted(per["agreement"]) == [0.5, 0.75]
    assert noise_ceiling(T) == pytest.approx(0.625)
    assert noise_ceiling(T, "loo") == pytest.approx((0.75 + 0.0) / 2)
    # A unanimous triplet: both estimates are 1.
    assert noise_ceiling(np.array([[0, 1, 2]] * 5), "loo") == 1.0


# --- bad input --------------------------------------------------------------------------
def test_bad_input_is_rejected_with_clear_errors():
    X = np.ones((5, 3))
    with pytest.raises(ValidationError, match="out of range 0..4"):
        odd_one_out_accuracy(X, np.array([[0, 1, 5]]))
    with pytest.raises(ValidationError, match="repeat an item"):
        odd_one_out_accuracy(X, np.array([[0, 1, 1]]))
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValidationError, match=r"non-finite.*first rows \[3\]"):
        odd_one_out_accuracy(Xn, np.array([[0, 1, 2]]))
    with pytest.raises(ValidationError, match="unknown similarity 'manhattan'"):
        odd_one_out_accuracy(X, np.array([[0, 1, 2]]), "manhattan")
    with pytest.raises(ValidationError, match="temperature"):
        choice_probabilities(X, np.array([[0, 1, 2]]), temperature=0)
    with pytest.raises(ValidationError, match="participant=True needs a Triplets"):
        odd_one_out_accuracy(X, np.array([[0, 1, 2]]), participant=True)
    with pytest.raises(ValidationError, match="shape \\(n, 3\\)"):
        odd_one_out_accuracy(X, np.array([0, 1, 2]))
    trip = Triplets(np.array([[0, 1, 2]]), np.array([0]), ("a", "b", "c"), "toy")
    with pytest.raises(ValidationError, match="lacks 1 stimulus id.*'c'"):
        odd_one_out_accuracy(Embedding(("a", "b", "x"), np.eye(3)), trip)


# --- variant="published": Muttenthaler et al. 2023 ----------------------------------------
def _seed_choices(X, t, dist="cosine"):
    """The zero-shot path of LukasMut/human_alignment (utils/evaluation/helpers.py,
    get_predictions), re-implemented triplet by triplet with torch as the seed does:
    distances of the pairs (0,1), (0,2), (1,2), torch.argmin (first minimum), −1 when
    all three distances are equal."""
    import torch
    import torch.nn.functional as F

    feats = torch.from_numpy(np.ascontiguousarray(X))
    pairs = [(0, 1), (0, 2), (1, 2)]
    fun = {"cosine": lambda u, v: 1 - F.cosine_similarity(u, v, dim=0), "dot": lambda u, v: -torch.dot(u, v)}[dist]
    out = np.empty(len(t), dtype=np.int64)
    for s, (i, j, k) in enumerate(t):
        tri = torch.stack([feats[i], feats[j], feats[k]])
        d = torch.tensor([fun(tri[a], tri[b]) for a, b in pairs])
        out[s] = -1 if torch.unique(d).shape[0] == 1 else ({0, 1, 2} - set(pairs[int(torch.argmin(d))])).pop()
    return out


@pytest.mark.data
def test_published_zero_shot_matches_the_seed_path_on_spose(spose, nc_triplets, test10):
    X = spose.values
    t = np.vstack([nc_triplets.triplets, test10.triplets[::20]])  # 26,366 real triplets
    want = _seed_choices(X, t)
    got = odd_one_out_choices(X, t, variant="published")
    assert np.array_equal(got, want)
    assert odd_one_out_accuracy(X, t, variant="published") == pytest.approx(np.mean(want == 2), abs=1e-12)
    assert np.array_equal(
        odd_one_out_choices(X, t[:3000], "dot", variant="published"), _seed_choices(X, t[:3000], "dot")
    )
    # SPoSE rows are not unit-norm, so cosine (published) and dot (default) pick differently.
    assert (odd_one_out_choices(X, t, variant="published") != odd_one_out_choices(X, t)).any()


def test_published_tie_rule_on_planted_ties():
    # Items 0, 1, 2 on a line: 0–1 and 1–2 equally close (distance tie), 0–2 far apart.
    X = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0]])
    t = np.array([[0, 1, 2], [1, 2, 0], [0, 2, 1]])
    # euclidean: pairs (0,1),(0,2),(1,2) distances for row 0 = 1, 2, 1 → tie, first pair (0,1) → odd 2.
    assert odd_one_out_choices(X, t, "euclidean", variant="published").tolist() == [2, 2, 1]
    # repalign's default sends the same ties to the earliest *position*.
    assert odd_one_out_choices(X, t, "euclidean").tolist() == [0, 1, 0]
    # Equilateral: all three distances equal → −1, scored wrong.
    E = np.eye(3)  # three orthogonal unit vectors: every pair at cosine distance 1
    assert odd_one_out_choices(E, np.array([[0, 1, 2]]), variant="published").tolist() == [-1]
    assert odd_one_out_accuracy(E, np.array([[0, 1, 2]]), variant="published") == 0.0
    assert odd_one_out_accuracy(E, np.array([[0, 1, 2]]), "cosine") == 0.0
    with pytest.raises(ValidationError, match="odd-one-out: variant must be 'default' or 'published', got 'paper'"):
        odd_one_out_choices(X, t, variant="paper")
