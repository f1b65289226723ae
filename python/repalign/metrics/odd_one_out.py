"""Zero-shot odd-one-out: a representation's choices, accuracy, choice probabilities
and the noise ceiling of repeated human triplets.

Conventions (as in ``repalign.datasets.Triplets``): a triplet is three object indices
(rows of the feature matrix) with the human's odd item LAST. The model's choice is
the item outside the most similar pair; positions are 0–2 within the triplet.

``variant="published"`` is the zero-shot rule of Muttenthaler et al. (2023),
LukasMut/human_alignment ``utils/evaluation/helpers.py`` ``get_predictions`` (called by
``main_model_triplet_eval.py``, whose ``--distance`` defaults to cosine): the odd item
is the one outside the pair of smallest *distance* (1 − cosine; −dot; Euclidean),
pairs taken in the order (0, 1), (0, 2), (1, 2) so that a tie goes to the earlier
pair — i.e. to the human's choice — and a triplet whose three distances are all equal
is scored as wrong (choice −1). repalign's default is the dot product, ties to the
earliest *position*.

Everything is vectorised: with at most ``MATRIX_LIMIT`` objects the full similarity
matrix is computed once and triplets only gather from it; larger object sets are
processed in chunks of triplets, so memory stays bounded either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

from repalign.config import check_variant
from repalign.errors import ValidationError
from repalign.metrics._inputs import features_and_triplets, participants_of, triplet_array

SIMILARITIES = ("dot", "cosine", "euclidean")
MATRIX_LIMIT = 8192  # objects; above this the (n, n) similarity matrix is not materialised
CHUNK = 1 << 20  # triplets per chunk


def _check_similarity(similarity: str) -> None:
    if similarity not in SIMILARITIES:
        raise ValidationError(f"unknown similarity {similarity!r}; valid: {', '.join(SIMILARITIES)}")


def resolve_similarity(similarity: str | None, variant: str = "default") -> str:
    """The similarity a variant uses when none is given: dot (default) or cosine (published)."""
    check_variant(variant, "odd-one-out")
    if similarity is None:
        similarity = "cosine" if variant == "published" else "dot"
    _check_similarity(similarity)
    return similarity


def _published_distances(sims: np.ndarray, similarity: str) -> np.ndarray:
    """(n, 3) distances of the pairs (0, 1), (0, 2), (1, 2), as the seed computes them
    from the similarities (n, 3) of the pairs excluding items 0, 1, 2."""
    d = sims[:, ::-1]  # columns: pair (0,1), pair (0,2), pair (1,2)
    return 1.0 - d if similarity == "cosine" else -d


def _published_choices(sims: np.ndarray, similarity: str) -> np.ndarray:
    d = _published_distances(sims, similarity)
    choice = np.array([2, 1, 0])[np.argmin(d, axis=1)]  # argmin: first minimal pair
    same = (d[:, 0] == d[:, 1]) & (d[:, 1] == d[:, 2])
    return np.where(same, -1, choice).astype(np.int64)


def _unit_rows(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1)
    zero = np.flatnonzero(norms == 0)
    if zero.size:
        raise ValidationError(
            f"cosine similarity undefined for {zero.size} all-zero feature row(s), first rows {zero[:10].tolist()}"
        )
    return X / norms[:, None]


def similarity_matrix(X: np.ndarray, similarity: str = "dot") -> np.ndarray:
    """(n, n) similarities: dot product, cosine, or negative euclidean distance."""
    _check_similarity(similarity)
    if similarity == "cosine":
        X = _unit_rows(X)
    S = X @ X.T
    if similarity == "euclidean":
        sq = np.einsum("ij,ij->i", X, X)
        S = -np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * S, 0.0))
    return S


def _pair_sims_chunk(X: np.ndarray, S: np.ndarray | None, t: np.ndarray, similarity: str) -> np.ndarray:
    a, b, c = t[:, 0], t[:, 1], t[:, 2]
    if S is not None:
        n = S.shape[0]
        flat = S.ravel()
        return np.stack([flat[b * n + c], flat[a * n + c], flat[a * n + b]], axis=1)
    xa, xb, xc = X[a], X[b], X[c]
    if similarity == "euclidean":
        f = lambda u, v: -np.linalg.norm(u - v, axis=1)  # noqa: E731
    else:  # rows already unit-normalised for cosine
        f = lambda u, v: np.einsum("ij,ij->i", u, v)  # noqa: E731
    return np.stack([f(xb, xc), f(xa, xc), f(xa, xb)], axis=1)


def pair_similarities(X: Any, triplets: Any, similarity: str = "dot") -> np.ndarray:
    """(n, 3) similarities of the pair *excluding* item i, for i = 0, 1, 2.

    Column i is the evidence that item i is the odd one out.
    """
    _check_similarity(similarity)
    Xa, t = features_and_triplets(X, triplets)
    out = np.empty((t.shape[0], 3), dtype=np.float64)
    if Xa.shape[0] <= MATRIX_LIMIT:
        S = similarity_matrix(Xa, similarity)
        Xw = Xa
    else:
        S = None
        Xw = _unit_rows(Xa) if similarity == "cosine" else Xa
    step = CHUNK if S is not None else max(1, CHUNK // max(1, Xa.shape[1] // 8))
    for i in range(0, t.shape[0], step):
        out[i : i + step] = _pair_sims_chunk(Xw, S, t[i : i + step], similarity)
    return out


def odd_one_out_choices(X: Any, triplets: Any, similarity: str | None = None, variant: str = "default") -> np.ndarray:
    """Position (0–2, int64, shape (n,)) of the item the representation picks as odd.

    similarity: None = the variant's (dot; cosine for "published"). Default variant:
    ties go to the earliest position (``argmax``). variant="published" (Muttenthaler et
    al. 2023, LukasMut/human_alignment ``utils/evaluation/helpers.py``): the earliest
    of the pairs (0,1), (0,2), (1,2) with the smallest distance, −1 when all three
    distances are equal.
    """
    similarity = resolve_similarity(similarity, variant)
    sims = pair_similarities(X, triplets, similarity)
    if variant == "published":
        return _published_choices(sims, similarity)
    return np.argmax(sims, axis=1).astype(np.int64)


def odd_one_out_correct(X: Any, triplets: Any, similarity: str | None = None, variant: str = "default") -> np.ndarray:
    """Boolean (n,): does the representation pick the human's odd item (the last one)?

    Same as ``odd_one_out_choices(..., variant=variant) == 2``. Default: ties go to
    earlier positions, so the last item wins only if its pair is strictly the most
    similar; computed chunk by chunk without materialising the (n, 3) similarities.
    variant="published": the pair (0, 1) wins ties, unless all three distances are equal.
    """
    similarity = resolve_similarity(similarity, variant)
    Xa, t = features_and_triplets(X, triplets)
    if variant == "published":
        out = np.empty(t.shape[0], dtype=bool)
        for i in range(0, t.shape[0], CHUNK // 8):
            out[i : i + CHUNK // 8] = (
                _published_choices(pair_similarities(Xa, t[i : i + CHUNK // 8], similarity), similarity) == 2
            )
        return out
    out = np.empty(t.shape[0], dtype=bool)
    if Xa.shape[0] > MATRIX_LIMIT:
        for i in range(0, t.shape[0], CHUNK // 8):
            s = pair_similarities(Xa, t[i : i + CHUNK // 8], similarity)
            out[i : i + CHUNK // 8] = (s[:, 2] > s[:, 0]) & (s[:, 2] > s[:, 1])
        return out
    S = similarity_matrix(Xa, similarity)
    flat, n = S.ravel(), S.shape[0]
    step = CHUNK // 4  # keeps the chunk's temporaries in cache
    for i in range(0, t.shape[0], step):
        a, b, c = np.ascontiguousarray(t[i : i + step].T)  # contiguous columns gather faster
        an = a * n
        s01 = flat[an + b]
        out[i : i + step] = (s01 > flat[an + c]) & (s01 > flat[b * n + c])
    return out


def odd_one_out_accuracy(
    X: Any, triplets: Any, similarity: str | None = None, participant: Any = None, variant: str = "default"
) -> float | pd.Series:
    """Zero-shot odd-one-out accuracy (proportion of triplets where the model agrees with the human).

    X: (n_objects, d) array or ``Embedding``; triplets: (n, 3) int array (odd item last)
    or ``Triplets``. With ``participant=None`` returns one float; with an array of
    labels (n,) — or ``True`` to use ``Triplets.participant`` — returns a Series of
    accuracies indexed by participant (sorted). similarity None: dot (default variant)
    or cosine (variant="published", Muttenthaler et al. 2023; see the module docstring).
    """
    correct = odd_one_out_correct(X, triplets, similarity, variant)
    if participant is None:
        return float(correct.mean()) if correct.size else float("nan")
    p = participants_of(triplets, participant, correct.size)
    acc = pd.Series(correct.astype(np.float64)).groupby(p, sort=True).mean()
    acc.index.name = "participant"
    acc.name = "accuracy"
    return acc


def choice_probabilities(X: Any, triplets: Any, similarity: str = "dot", temperature: float = 1.0) -> np.ndarray:
    """(n, 3) softmax choice probabilities: p[:, i] = P(item i is odd) ∝ exp(s_i / temperature),
    with s_i the similarity of the pair excluding item i. Rows sum to 1."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValidationError(f"temperature must be a positive number, got {temperature}")
    return softmax(pair_similarities(X, triplets, similarity) / temperature, axis=1)


def _nll(sims: np.ndarray, temperature: float) -> float:
    return float(-log_softmax(sims / temperature, axis=1)[:, 2].mean())


def log_likelihood(X: Any, triplets: Any, similarity: str = "dot", temperature: float = 1.0) -> float:
    """Mean log-probability (nats per triplet) of the human choices under the softmax model."""
    if not np.isfinite(temperature) or temperature <= 0:
        raise ValidationError(f"temperature must be a positive number, got {temperature}")
    return -_nll(pair_similarities(X, triplets, similarity), temperature)


def fit_temperature(X: Any, triplets: Any, similarity: str = "dot", bounds: tuple[float, float] = (1e-4, 1e4)) -> float:
    """Maximum-likelihood softmax temperature for the human choices (bounded search on log T)."""
    sims = pair_similarities(X, triplets, similarity)
    # Search on log T: the likelihood varies smoothly over orders of magnitude of T.
    res = minimize_scalar(
        lambda lt: _nll(sims, float(np.exp(lt))),
        bounds=(np.log(bounds[0]), np.log(bounds[1])),
        method="bounded",
        options={"xatol": 1e-6},
    )
    return float(np.exp(res.x))


def _response_counts(triplets: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group responses by unordered triplet.

    Returns group (n,) — the distinct triplet of each response; pos (n,) — the chosen
    odd item's position (0–2) in the sorted triplet; counts (n_groups, 3) — how often
    each of the three items was chosen.
    """
    t = triplet_array(triplets)
    s = np.sort(t, axis=1)
    _, group = np.unique(s, axis=0, return_inverse=True)
    group = group.ravel()
    pos = np.argmax(s == t[:, 2:3], axis=1)
    counts = np.zeros((int(group.max()) + 1 if group.size else 0, 3), dtype=np.int64)
    np.add.at(counts, (group, pos), 1)
    return group, pos, counts


def noise_ceiling_per_triplet(triplets: Any, method: str = "majority", min_responses: int = 2) -> pd.DataFrame:
    """Per distinct triplet: number of responses and their agreement with the majority.

    method="majority": share of responses equal to the most frequent response (the
    majority is taken from all responses, including the one scored); method="loo":
    each response is predicted by the majority of the *other* responses to the same
    triplet, ties split evenly (an estimate for a new, independent response).
    Triplets with fewer than ``min_responses`` responses are dropped.
    """
    if method not in ("majority", "loo"):
        raise ValidationError(f"unknown noise-ceiling method {method!r}; valid: majority, loo")
    group, pos, counts = _response_counts(triplets)
    if group.size == 0:
        raise ValidationError("noise ceiling: no triplets given")
    n = counts.sum(axis=1)
    if method == "majority":
        agree = counts.max(axis=1) / n
    else:
        c = counts[group]  # (n_resp, 3): counts of the response's group
        own = c[np.arange(group.size), pos] - 1  # its item's count among the others
        others = c.copy()
        others[np.arange(group.size), pos] = own
        top = others.max(axis=1)
        n_win = (others == top[:, None]).sum(axis=1)
        hit = (own == top) & (top > 0)
        per_resp = np.where(hit, 1.0 / n_win, 0.0)
        agree = np.bincount(group, weights=per_resp, minlength=counts.shape[0]) / n
    keep = n >= min_responses
    return pd.DataFrame({"group": np.flatnonzero(keep), "n_responses": n[keep], "agreement": agree[keep]})


def noise_ceiling(triplets: Any, method: str = "majority", min_responses: int = 2) -> float:
    """Noise ceiling of repeated triplets: mean (over distinct triplets) agreement of
    responses with the majority response. See ``noise_ceiling_per_triplet``."""
    per = noise_ceiling_per_triplet(triplets, method, min_responses)
    if per.empty:
        raise ValidationError(f"noise ceiling: no triplet has at least {min_responses} responses")
    return float(per["agreement"].mean())
