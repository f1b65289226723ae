"""Intrinsic dimensionality: scikit-dimension as reference, planted dimensions recovered."""

from __future__ import annotations

import numpy as np
import pytest

from repalign.datasets import load_spose
from repalign.errors import ValidationError
from repalign.metrics import intrinsic_dimensionality

skdim = pytest.importorskip("skdim")


def _naturalcogsci_twonn(X):
    """The published pipeline (candemircan/naturalcogsci, bin/intrinsic_dimensionality.py),
    rebuilt from its three library calls: unique rows → MinMaxScaler → skdim TwoNN."""
    from sklearn.preprocessing import MinMaxScaler

    return float(skdim.id.TwoNN().fit_transform(MinMaxScaler().fit_transform(np.unique(X, axis=0))))


@pytest.mark.data
def test_published_twonn_is_the_naturalcogsci_pipeline_on_spose(real_data):
    X = load_spose(49).values
    expected = _naturalcogsci_twonn(X)
    assert intrinsic_dimensionality(X, "twonn", variant="published") == pytest.approx(expected, abs=1e-9)
    assert intrinsic_dimensionality(X, "twonn") == pytest.approx(expected, abs=1e-9)  # the default


def test_minmax_scaling_undoes_feature_units_on_an_anisotropic_gaussian():
    # A 10-d Gaussian whose feature scales span three decades: unscaled, TwoNN sees only
    # the few large axes; min-max scaling (the published pipeline) recovers the planted 10.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 10)) * np.logspace(0, -3, 10)
    scaled = intrinsic_dimensionality(X, "twonn", variant="published")
    assert scaled == pytest.approx(_naturalcogsci_twonn(X), abs=1e-9)
    assert scaled == pytest.approx(10, abs=1.0)
    assert intrinsic_dimensionality(X, "twonn", scale="none") < 6
    with pytest.raises(ValidationError, match="scale='none' contradicts"):
        intrinsic_dimensionality(X, "twonn", variant="published", scale="none")
    with pytest.raises(ValidationError, match="dimensionality: variant must be 'default' or 'published', got 'paper'"):
        intrinsic_dimensionality(X, "twonn", variant="paper")


@pytest.mark.data
def test_twonn_and_mle_agree_with_scikit_dimension_on_spose(real_data):
    X = load_spose(49).values
    U = np.unique(X, axis=0)  # repalign removes duplicate rows; skdim is given them removed
    assert intrinsic_dimensionality(X, "twonn", scale="none") == pytest.approx(
        skdim.id.TwoNN().fit(U).dimension_, abs=1e-9
    )
    assert intrinsic_dimensionality(X, "mle", k=20) == pytest.approx(skdim.id.MLE(K=20).fit(U).dimension_, abs=1e-9)
    pr, pc = intrinsic_dimensionality(X, "pr"), intrinsic_dimensionality(X, "pca90")
    # SPoSE's 49 sparse dimensions: nonlinear estimates are far below the linear ones.
    assert intrinsic_dimensionality(X, "twonn") < pr < pc < 49


def test_planted_dimension_is_recovered_and_duplicates_removed():
    rng = np.random.default_rng(0)
    Z = rng.uniform(size=(3000, 4)) @ rng.normal(size=(4, 30))  # a 4-d flat manifold in 30-d
    assert intrinsic_dimensionality(Z, "twonn") == pytest.approx(4, abs=0.4)
    assert intrinsic_dimensionality(Z, "mle") == pytest.approx(4, abs=0.4)
    assert intrinsic_dimensionality(Z, "pca90") <= 4
    dup = np.vstack([Z, Z[:500]])  # duplicates would give r1 = 0 and infinite ratios
    assert intrinsic_dimensionality(dup, "twonn") == intrinsic_dimensionality(Z, "twonn")
    assert intrinsic_dimensionality(Z, "twonn", scale="none") == pytest.approx(
        skdim.id.TwoNN().fit(Z).dimension_, abs=1e-9
    )


def test_pca_measures_on_a_planted_spectrum():
    rng = np.random.default_rng(1)
    lam = np.array([4.0, 4.0, 1.5, 0.5, 0.0, 0.0])  # variances along known axes
    X = rng.normal(size=(20000, 6)) * np.sqrt(lam)
    # PR = (Σλ)²/Σλ² = 100/34.5; 90% of the variance needs 3 components (0.8 after 2, 0.95 after 3).
    assert intrinsic_dimensionality(X, "pr") == pytest.approx(100 / 34.5, rel=0.03)
    assert intrinsic_dimensionality(X, "pca90") == 3
    assert intrinsic_dimensionality(np.eye(10), "pr") == pytest.approx(9.0)  # 10 points span 9 dims equally


def test_bad_input():
    with pytest.raises(ValidationError, match="unknown dimensionality method 'fisher'"):
        intrinsic_dimensionality(np.eye(5), "fisher")
    with pytest.raises(ValidationError, match="at least 3 distinct points"):
        intrinsic_dimensionality(np.ones((10, 3)), "twonn")
    with pytest.raises(ValidationError, match="non-finite"):
        intrinsic_dimensionality(np.full((10, 3), np.nan), "pr")
