"""Class separation and error consistency on planted data and real category labels."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist

from repalign.datasets import load_mur92, load_spose, load_things_concepts
from repalign.errors import ValidationError
from repalign.metrics import class_separation, error_consistency


def _naturalcogsci_r2(X, classes, metric="cosine"):
    """The published formula (candemircan/naturalcogsci, bin/r2_class_sep.py), written out
    independently with the same loops: within = Σ_c pdist-sum / (K·n_c²), total = Σ over
    all ordered class pairs of the cdist-sum / (K²·n_a·n_b)."""
    u = np.unique(classes)
    K = u.size
    within = sum(pdist(X[classes == c], metric).sum() / (K * np.sum(classes == c) ** 2) for c in u)
    total = sum(
        cdist(X[classes == a], X[classes == b], metric).sum() / (K**2 * np.sum(classes == a) * np.sum(classes == b))
        for a in u
        for b in u
    )
    return 1 - within / total


@pytest.mark.data
def test_published_class_separation_equals_the_naturalcogsci_formula_on_spose(real_data):
    # SPoSE-49 concepts labelled by their THINGS top-level category (concepts in exactly one).
    c = load_things_concepts()
    one = c.categories.sum(axis=1) == 1
    X = load_spose(49).select([i for i, k in zip(c.ids, one) if k]).values
    y = np.argmax(c.categories[one], axis=1)
    expected = _naturalcogsci_r2(X, y)
    assert class_separation(X, y, variant="published") == pytest.approx(expected, abs=1e-9)
    assert class_separation(X, y) == pytest.approx(expected, abs=1e-9)  # the default
    assert class_separation(X, y, "euclidean") == pytest.approx(_naturalcogsci_r2(X, y, "euclidean"), abs=1e-9)
    # The seed's pdist counts each within-class pair once; Kornblith et al.'s equation
    # counts both orders, so it is 2·R² − 1 of the published value.
    assert class_separation(X, y, formula="kornblith") == pytest.approx(2 * expected - 1, abs=1e-9)
    # The repalign ≤ 0.x estimator (distinct pairs) is near Kornblith's, far from the published one.
    old = class_separation(X, y, formula="distinct_pairs")
    assert abs(old - (2 * expected - 1)) < 0.01 and expected - old > 0.2
    with pytest.raises(ValidationError, match="variant='published' is formula='naturalcogsci'"):
        class_separation(X, y, variant="published", formula="kornblith")


@pytest.mark.data
def test_published_class_separation_on_mur92_pixels(real_data):
    m = load_mur92()
    X = m.stimuli.arrays.reshape(92, -1).astype(np.float64)
    y = m.stimuli.labels["category"].to_numpy()
    assert class_separation(X, y, variant="published") == pytest.approx(_naturalcogsci_r2(X, y), abs=1e-9)


def test_class_separation_planted():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 10)) * 5
    labels = np.repeat(np.arange(4), 25)
    tight = centres[labels] + 0.01 * rng.normal(size=(100, 10))
    assert class_separation(tight, labels) > 0.99
    loose = rng.normal(size=(100, 10))
    assert abs(class_separation(loose, labels, formula="distinct_pairs")) < 0.05
    # No class structure: the published within term is half the ordered-pair one.
    assert class_separation(loose, labels) == pytest.approx(0.5, abs=0.05)
    # Hand-computed euclidean case: points 0, 1 (class a) and 10, 11 (class b) on a line.
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    d_within, d_total = 1.0, (1 + 10 + 11 + 9 + 10 + 1) / 6
    assert class_separation(X, ["a", "a", "b", "b"], "euclidean", formula="distinct_pairs") == pytest.approx(
        1 - d_within / d_total
    )
    # Published by hand: within = (1/4 + 1/4) / 2 = 0.25 (each pair once, / (K·n²));
    # total over ordered class pairs aa, ab, ba, bb = (2 + 40 + 40 + 2) / (4·4) = 5.25.
    assert class_separation(X, ["a", "a", "b", "b"], "euclidean") == pytest.approx(1 - 0.25 / 5.25)


@pytest.mark.data
def test_mur92_pixels_separate_animate_from_inanimate_weakly(real_data):
    m = load_mur92()
    X = m.stimuli.arrays.reshape(92, -1).astype(np.float64)
    labels = m.stimuli.labels["animate"].to_numpy()
    r2 = class_separation(X, labels, formula="distinct_pairs")
    # Raw pixels carry little category information: a small positive separation.
    assert 0 < r2 < 0.2


def test_error_consistency():
    a = np.array([1, 1, 1, 0, 0, 1, 0, 1, 1, 0], bool)
    assert error_consistency(a, a) == pytest.approx(1.0)
    assert error_consistency(a, ~a) < 0
    # By hand: p_a = 0.6, p_b = 0.5, c_exp = 0.3 + 0.2 = 0.5; 7 of 10 agree -> κ = 0.4.
    b = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 0], bool)
    assert b.mean() == 0.5 and np.mean(a == b) == 0.7
    assert error_consistency(a, b) == pytest.approx(0.4)
    rng = np.random.default_rng(0)
    x, y = rng.random(200000) < 0.7, rng.random(200000) < 0.8  # independent observers
    assert abs(error_consistency(x, y)) < 0.01
    # An always-correct observer: its agreement is exactly what accuracies predict.
    assert error_consistency(np.ones(5, bool), a[:5]) == 0.0
    assert np.isnan(error_consistency(np.ones(5, bool), np.ones(5, bool)))  # c_exp = 1: undefined


def test_bad_input():
    with pytest.raises(ValidationError, match="equally long"):
        error_consistency([1, 0, 1], [1, 0])
    with pytest.raises(ValidationError, match="correct_b must be boolean"):
        error_consistency([1, 0, 1], [1, 0, 2])
    with pytest.raises(ValidationError, match="labels have shape"):
        class_separation(np.eye(4), [0, 1])
    with pytest.raises(ValidationError, match="at least 2 classes"):
        class_separation(np.eye(4), [0, 0, 0, 0])
