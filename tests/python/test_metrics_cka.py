"""CKA: closed forms on random data and invariances (hypothesis property tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from repalign.datasets import Embedding
from repalign.errors import ValidationError
from repalign.metrics import cka, gram, hsic


def _data(seed, n, d1, d2):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d1))
    Y = X[:, : min(d1, d2)] @ rng.normal(size=(min(d1, d2), d2)) + rng.normal(size=(n, d2))
    return X, Y


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(6, 30), d1=st.integers(1, 8), d2=st.integers(1, 8))
def test_linear_cka_matches_the_feature_space_closed_form(seed, n, d1, d2):
    X, Y = _data(seed, n, d1, d2)
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    want = np.linalg.norm(Yc.T @ Xc) ** 2 / (np.linalg.norm(Xc.T @ Xc) * np.linalg.norm(Yc.T @ Yc))
    assert cka(X, Y) == pytest.approx(want, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n=st.integers(6, 25),
    d=st.integers(2, 6),
    scale=st.floats(1e-3, 1e3),
    kernel=st.sampled_from(["linear", "rbf"]),
    unbiased=st.booleans(),
)
def test_cka_is_invariant_to_rotation_and_isotropic_scaling(seed, n, d, scale, kernel, unbiased):
    X, Y = _data(seed, n, d, d + 1)
    Q = np.linalg.qr(np.random.default_rng(seed + 1).normal(size=(d, d)))[0]
    base = cka(X, Y, kernel, unbiased)
    assert cka(scale * X @ Q, Y, kernel, unbiased) == pytest.approx(base, rel=1e-7, abs=1e-9)
    assert cka(X, X, kernel, unbiased) == pytest.approx(1.0)


def test_unbiased_hsic_equals_the_u_statistic():
    # Song et al. (2012): HSIC_u = 1/(n)_4 Σ over distinct (i,j,q,r) of k_ij l_ij + k_ij l_qr − 2 k_ij l_iq.
    X, Y = _data(3, 7, 3, 2)
    for kernel in ("linear", "rbf"):
        K, L = gram(X, kernel), gram(Y, kernel)
        n = K.shape[0]
        total = sum(
            K[i, j] * L[i, j] + K[i, j] * L[q, r] - 2 * K[i, j] * L[i, q]
            for i, j, q, r in itertools.permutations(range(n), 4)
        )
        assert hsic(K, L, unbiased=True) == pytest.approx(total / (n * (n - 1) * (n - 2) * (n - 3)), rel=1e-10)
        # Biased: tr(KHLH)/(n−1)².
        H = np.eye(n) - 1.0 / n
        assert hsic(K, L) == pytest.approx(np.trace(K @ H @ L @ H) / (n - 1) ** 2, rel=1e-10)


def test_rbf_cka_uses_the_median_distance_bandwidth():
    X, Y = _data(5, 12, 3, 3)
    D2 = ((X[:, None] - X[None]) ** 2).sum(-1)
    med = np.median(np.sqrt(D2[np.triu_indices(12, 1)]))
    np.testing.assert_allclose(gram(X, "rbf", sigma=0.5), np.exp(-D2 / (2 * (0.5 * med) ** 2)))


def test_independent_representations_have_near_zero_unbiased_cka():
    rng = np.random.default_rng(0)
    vals = [cka(rng.normal(size=(200, 5)), rng.normal(size=(200, 5)), unbiased=True) for _ in range(10)]
    assert abs(np.mean(vals)) < 0.01
    # The biased estimator is inflated on the same data (its known bias).
    assert cka(rng.normal(size=(200, 5)), rng.normal(size=(200, 5))) > 0.01


def test_embeddings_are_aligned_by_id_and_bad_input_rejected():
    X, Y = _data(2, 10, 3, 3)
    ids = tuple(f"s{i}" for i in range(10))
    a = Embedding(ids, X)
    b = Embedding(ids[::-1], Y[::-1])
    assert cka(a, b) == pytest.approx(cka(X, Y))
    with pytest.raises(ValidationError, match="X has 10 stimuli .* Y has 9"):
        cka(X, Y[:9])
    with pytest.raises(ValidationError, match="unknown CKA kernel"):
        cka(X, Y, kernel="poly")
    with pytest.raises(ValidationError, match="at least 4 stimuli"):
        cka(X[:3], Y[:3], unbiased=True)


def _seed_cka(X, Y, kernel):
    """LukasMut/human_alignment utils/analyses/cka.py CKA.compare, written out: H K H with
    the explicit centering matrix, HSIC = Σ K_c ∘ L_c, and for rbf the Gram-matrix squared
    distances with σ = sqrt(median of their nonzero entries)."""
    m = X.shape[0]
    H = np.eye(m) - np.ones((m, m)) / m

    def k(A):
        G = A @ A.T
        if kernel == "linear":
            return G
        D = np.diag(G) - G + (np.diag(G) - G).T
        s = np.sqrt(np.median(D[D != 0]))
        return np.exp(D * (-0.5 / s**2))

    def h(A, B):
        return np.sum((H @ k(A) @ H) * (H @ k(B) @ H))

    return h(X, Y) / np.sqrt(h(X, X) * h(Y, Y))


@pytest.mark.data
@pytest.mark.parametrize("kernel", ["linear", "rbf"])
def test_published_cka_matches_the_seed_on_mur92_images(real_data, kernel):
    from repalign.datasets import load_mur92

    imgs = load_mur92().stimuli.arrays.astype(np.float64) / 255
    X = imgs.reshape(92, -1)
    Y = imgs.mean(axis=3)[:, ::5, ::5].reshape(92, -1)  # grey, subsampled: a related representation
    # The Gram-matrix distances round differently from pdist's; 1e-6 covers that.
    assert cka(X, Y, kernel, variant="published") == pytest.approx(_seed_cka(X, Y, kernel), abs=1e-6)
    if kernel == "linear":
        assert cka(X, Y, kernel, variant="published") == pytest.approx(cka(X, Y, kernel), abs=1e-12)
    with pytest.raises(ValidationError, match="variant='published' is the biased estimator"):
        cka(X, Y, kernel, unbiased=True, variant="published")
