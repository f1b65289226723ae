"""Simulate odd-one-out choices from a representation ("tripletise" it).

A network (or any representation) is turned into triplet data like the humans': sample
triplets of distinct objects, then choose the odd one out by the representation's
similarity — deterministically (the object outside the most similar pair) or sampled
from the softmax choice rule. Output triplets have the odd item LAST, like
``repalign.datasets.load_triplets``.

Two variants (``variant``):

* ``"default"`` (repalign): triplets drawn independently (a triplet may repeat, so
  ``n_triplets`` may exceed C(n, 3) and repeated softmax choices are independent
  draws, like repeated human judgements); the representation is used as given.
* ``"published"`` (florianmahner/object-dimensions, ``run_tripletization.py``
  ``Sampler`` and ``objdim/sampler.py``): negative activations are set to zero
  (``np.maximum(0, X)``) before the similarity; the triplets are *unique* unordered
  sets of three objects, uniform over all C(n, 3), written in increasing index order;
  with the ``argmax`` rule ties go to the first pair of (i, j), (i, k), (j, k) (the
  seed's ``np.argmax``). The seed draws them by rejection into a Python ``set``, so its
  order cannot be reproduced; the distribution is the same.
"""

from __future__ import annotations

import numpy as np

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics import choice_probabilities, odd_one_out_choices
from repalign.metrics.odd_one_out import pair_similarities

RULES = ("argmax", "softmax")


def _unrank_triplets(rank: np.ndarray, n_objects: int) -> np.ndarray:
    """Colexicographic unranking: rank r in [0, C(n, 3)) ↔ (i < j < k) with
    r = C(k, 3) + C(j, 2) + i. Returns int64 (len(rank), 3)."""
    m = np.arange(n_objects, dtype=np.int64)
    c3 = m * (m - 1) * (m - 2) // 6
    c2 = m * (m - 1) // 2
    k = np.searchsorted(c3, rank, side="right") - 1
    r = rank - c3[k]
    j = np.searchsorted(c2, r, side="right") - 1
    i = r - c2[j]
    return np.stack((i, j, k), axis=1).astype(np.int64)


def sample_triplets(
    n_objects: int, n_triplets: int, seed: int = 0, *, unique: bool | None = None, variant: str = "default"
) -> np.ndarray:
    """``n_triplets`` uniformly random triplets of three distinct objects out of
    ``n_objects`` (int64, shape (n_triplets, 3)); seeded. Triplets may repeat, unless
    ``unique``: then they are distinct sets (sampled without replacement from all
    C(n, 3), each in increasing index order, rows in random order), as in
    object-dimensions ``run_tripletization.py`` ``Sampler.sample_random``. ``unique``
    None → False for ``variant="default"``, True for ``"published"``."""
    check_variant(variant, "sample_triplets")
    if unique is None:
        unique = variant == "published"
    if n_objects < 3:
        raise ValidationError(f"need at least 3 objects to form triplets, got {n_objects}")
    if n_triplets < 1:
        raise ValidationError(f"n_triplets must be >= 1, got {n_triplets}")
    rng = np.random.default_rng(seed)
    if unique:
        total = n_objects * (n_objects - 1) * (n_objects - 2) // 6
        if n_triplets > total:
            raise ValidationError(
                f"n_triplets = {n_triplets} unique triplets requested, but {n_objects} objects "
                f"have only C({n_objects}, 3) = {total}"
            )
        return _unrank_triplets(rng.choice(total, size=n_triplets, replace=False), n_objects)
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


def choose_odd_one_out(
    X: np.ndarray,
    triplets: np.ndarray,
    *,
    rule: str = "argmax",
    similarity: str = "dot",
    temperature: float = 1.0,
    seed: int = 0,
    ties: str | None = None,
    variant: str = "default",
) -> np.ndarray:
    """Reorder each triplet so that the odd item chosen from ``X`` (n_objects, d) is last
    (the remaining pair keeps its order).

    rule ``argmax``: the item outside the most similar pair; ``softmax``: sampled with
    P(odd = k) ∝ exp(sim(i, j) / temperature) for the pair (i, j) without k.
    ties (argmax): ``"first_item"`` — the earliest position is the odd one
    (``repalign.metrics.odd_one_out_choices``); ``"first_pair"`` — the first of the pairs
    (0, 1), (0, 2), (1, 2) is the most similar (object-dimensions ``get_choice``).
    ``variant="published"``: relu(X) before the similarity and ``ties`` (when None)
    ``"first_pair"``; the default variant uses X as given and ``"first_item"``.
    """
    check_variant(variant, "choose_odd_one_out")
    if ties is None:
        ties = "first_pair" if variant == "published" else "first_item"
    if ties not in ("first_item", "first_pair"):
        raise ValidationError(f"ties = {ties!r}; valid: first_item, first_pair")
    if rule not in RULES:
        raise ValidationError(f"unknown choice rule {rule!r}; choose one of {', '.join(RULES)}")
    if temperature <= 0:
        raise ValidationError(f"temperature must be > 0, got {temperature}")
    X = np.asarray(X, dtype=np.float64)
    if variant == "published":  # object-dimensions Sampler.default_transforms
        X = np.maximum(X, 0.0)
    triplets = np.asarray(triplets, dtype=np.int64)
    if rule == "argmax" and ties == "first_pair":
        # pair_similarities column c excludes item c: reversed, the columns are the
        # pairs (0, 1), (0, 2), (1, 2); the first maximal pair leaves item 2 − c out.
        sims = np.asarray(pair_similarities(X, triplets, similarity=similarity))[:, ::-1]
        odd = 2 - np.argmax(sims, axis=1).astype(np.int64)
    elif rule == "argmax":
        odd = np.asarray(odd_one_out_choices(X, triplets, similarity=similarity), dtype=np.int64)
    else:
        p = np.asarray(choice_probabilities(X, triplets, similarity=similarity, temperature=temperature))
        u = np.random.default_rng(seed).random(len(triplets))
        odd = np.minimum((u[:, None] > np.cumsum(p, axis=1)).sum(axis=1), 2)
    order = np.array([[1, 2, 0], [0, 2, 1], [0, 1, 2]])[odd]
    return np.take_along_axis(triplets, order, axis=1)


def tripletise(
    X: np.ndarray,
    n_triplets: int,
    *,
    rule: str = "argmax",
    similarity: str = "dot",
    temperature: float = 1.0,
    seed: int = 0,
    variant: str = "default",
) -> np.ndarray:
    """Sample ``n_triplets`` triplets over the rows of ``X`` (n_objects, d) and choose the
    odd one out by ``X``'s similarity; returns int64 (n_triplets, 3), odd item last.
    Same seed → same triplets and choices. ``variant="published"``: relu(X), unique
    triplets, the seed's tie rule (module doc)."""
    check_variant(variant, "tripletise")
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValidationError(f"representation must be 2-d (n_objects, d), got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValidationError("representation has non-finite values")
    seeds = np.random.SeedSequence(seed).spawn(2)
    triplets = sample_triplets(X.shape[0], n_triplets, seed=int(seeds[0].generate_state(1)[0]), variant=variant)
    return choose_odd_one_out(
        X,
        triplets,
        rule=rule,
        similarity=similarity,
        temperature=temperature,
        seed=int(seeds[1].generate_state(1)[0]),
        variant=variant,
    )
