"""Class separation and error consistency on planted data and real category labels."""

from __future__ import annotations

import numpy as np
import pytest

from repalign.datasets import load_mur92
from repalign.errors import ValidationError
from repalign.metrics import class_separation, error_consistency


def test_class_separation_planted():
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(4, 10)) * 5
    labels = np.repeat(np.arange(4), 25)
    tight = centres[labels] + 0.01 * rng.normal(size=(100, 10))
    assert class_separation(tight, labels) > 0.99
    loose = rng.normal(size=(100, 10))
    assert abs(class_separation(loose, labels)) < 0.05
    # Hand-computed euclidean case: points 0, 1 (class a) and 10, 11 (class b) on a line.
    X = np.array([[0.0], [1.0], [10.0], [11.0]])
    d_within, d_total = 1.0, (1 + 10 + 11 + 9 + 10 + 1) / 6
    assert class_separation(X, ["a", "a", "b", "b"], "euclidean") == pytest.approx(1 - d_within / d_total)


@pytest.mark.data
def test_mur92_pixels_separate_animate_from_inanimate_weakly(real_data):
    m = load_mur92()
    X = m.stimuli.arrays.reshape(92, -1).astype(np.float64)
    labels = m.stimuli.labels["animate"].to_numpy()
    r2 = class_separation(X, labels)
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
