"""Simulate odd-one-out choices from a representation ("tripletise" it).

A network (or any representation) is turned into triplet data like the humans': sample
triplets of distinct objects, then choose the odd one out by the representation's
similarity — deterministically (the object outside the most similar pair) or sampled
from the softmax choice rule. Output triplets have the odd item LAST, like
``repalign.datasets.load_triplets``.
"""

from __future__ import annotations

import numpy as np

from repalign.errors import ValidationError
from repalign.metrics import choice_probabilities, odd_one_out_choices

RULES = ("argmax", "softmax")


def sample_triplets(n_objects: int, n_triplets: int, seed: int = 0) -> np.ndarray:
    """``n_triplets`` uniformly random triplets of three distinct objects out of
    ``n_objects`` (int64, shape (n_triplets, 3)); seeded. Triplets may repeat."""
    if n_objects < 3:
        raise ValidationError(f"need at least 3 objects to form triplets, got {n_objects}")
    if n_triplets < 1:
        raise ValidationError(f"n_triplets must be >= 1, got {n_triplets}")
    rng = np.random.default_rng(seed)
    # Draw i, then j from the n-1 others and k from the n-2 others by shifting past the
    # already drawn indices: exact uniform sampling without rejection.
    i = rng.integers(0, n_objects, n_triplets)
    j = rng.integers(0, n_objects - 1, n_triplets)
    j = j + (j >= i)
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    k = rng.integers(0, n_objects - 2, n_triplets)
    k = k + (k >= lo)
    k = k + (k >= hi)
    return np.stack((i, j, k), axis=1).astype(np.int64)


def choose_odd_one_out(X: np.ndarray, triplets: np.ndarray, *, rule: str = "argmax", similarity: str = "dot",
                       temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """Reorder each triplet so that the odd item chosen from ``X`` (n_objects, d) is last
    (the remaining pair keeps its order).

    rule ``argmax``: the item outside the most similar pair; ``softmax``: sampled with
    P(odd = k) ∝ exp(sim(i, j) / temperature) for the pair (i, j) without k.
    """
    if rule not in RULES:
        raise ValidationError(f"unknown choice rule {rule!r}; choose one of {', '.join(RULES)}")
    if temperature <= 0:
        raise ValidationError(f"temperature must be > 0, got {temperature}")
    X = np.asarray(X, dtype=np.float64)
    triplets = np.asarray(triplets, dtype=np.int64)
    if rule == "argmax":
        odd = np.asarray(odd_one_out_choices(X, triplets, similarity=similarity), dtype=np.int64)
    else:
        p = np.asarray(choice_probabilities(X, triplets, similarity=similarity, temperature=temperature))
        u = np.random.default_rng(seed).random(len(triplets))
        odd = np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(axis=1), 2)
    order = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])[odd]
    return np.take_along_axis(triplets, order, axis=1)


def tripletise(X: np.ndarray, n_triplets: int, *, rule: str = "argmax", similarity: str = "dot",
               temperature: float = 1.0, seed: int = 0) -> np.ndarray:
    """Sample ``n_triplets`` triplets over the rows of ``X`` (n_objects, d) and choose the
    odd one out by ``X``'s similarity; returns int64 (n_triplets, 3), odd item last.
    Same seed → same triplets and choices."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValidationError(f"representation must be 2-d (n_objects, d), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValidationError("representation has non-finite values")
    seeds = np.random.SeedSequence(seed).spawn(2)
    triplets = sample_triplets(X.shape[0], n_triplets, seed=int(seeds[0].generate_state(1)[0]))
    return choose_odd_one_out(X, triplets, rule=rule, similarity=similarity, temperature=temperature,
                              seed=int(seeds[1].generate_state(1)[0]))
