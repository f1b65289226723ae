"""One metric of one representation → rows of the metrics table.

These functions are what a ``[[metrics]]`` task runs (each registered as its metric
kind's ``rows`` in repalign.metrics.config.KINDS): each takes the validated, frozen
entry of the config section (its seed filled in), the loaded representation (an
``Embedding``; None for the noise ceiling) and, by name, the names to report (model,
layer) and the entry's own human data, and returns row dicts for ``metrics_table``.
Human data are loaded here by name, so a task carries only picklable parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from repalign.datasets import load_mur92, load_things_concepts, load_triplets
from repalign.datasets.base import Embedding
from repalign.datasets.things import Triplets
from repalign.errors import ValidationError
from repalign.metrics.cka import cka
from repalign.metrics.classification import class_separation
from repalign.metrics.dimensionality import intrinsic_dimensionality
from repalign.metrics.odd_one_out import (
    fit_temperature,
    log_likelihood,
    noise_ceiling_per_triplet,
    odd_one_out_correct,
)
from repalign.metrics.probing import probe_cv
from repalign.metrics.rsa import rdm, rsa
from repalign.metrics.uncertainty import binary_mean_ci, bootstrap_ci

Row = dict[str, Any]


def _row(
    model: str, layer: str, dataset: str, metric: str, value: float, ci=(np.nan, np.nan), n: int = 0, **extra
) -> Row:
    return {
        "model": model,
        "layer": layer,
        "dataset": dataset,
        "metric": metric,
        "value": float(value),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
        "n": int(n),
        **extra,
    }


def _suffix(entry: Any) -> str:
    """Metric-name suffix that keeps a published variant's rows apart from the default's."""
    return "_published" if entry.variant == "published" else ""


def _triplets(dataset: Any) -> Triplets:
    """One triplet source, or several read as one set (``["train_90", "test_10"]``)."""
    if isinstance(dataset, str):
        return load_triplets(dataset)
    parts = [load_triplets(d) for d in dataset]
    return Triplets(
        np.vstack([p.triplets for p in parts]),
        np.concatenate([p.participant for p in parts]),
        parts[0].ids,
        "+".join(p.source for p in parts),
    )


def odd_one_out_rows(entry: Any, emb: Embedding, *, model: str, layer: str, human: Any = None) -> list[Row]:
    """human: own triplets (repalign.metrics.own_human.OwnHuman), else the THINGS source(s) of ``dataset``."""
    trip = human.data if human is not None else _triplets(entry.dataset)
    variant, sfx = entry.variant, _suffix(entry)
    rows = []
    for sim in entry.similarity:
        correct = odd_one_out_correct(emb, trip, sim, variant)
        ci = binary_mean_ci(correct, entry.level, entry.n_boot, entry.seed)
        rows.append(_row(model, layer, trip.source, f"odd_one_out_{sim}{sfx}", correct.mean(), ci, correct.size))
        if entry.fit_temperature:
            T = fit_temperature(emb, trip, sim)
            rows.append(_row(model, layer, trip.source, f"odd_one_out_{sim}_temperature", T, n=len(trip)))
            rows.append(
                _row(
                    model,
                    layer,
                    trip.source,
                    f"odd_one_out_{sim}_loglik",
                    log_likelihood(emb, trip, sim, T),
                    n=len(trip),
                )
            )
    return rows


def noise_ceiling_rows(
    entry: Any, emb: None = None, *, model: str = "human", layer: str = "", human: Any = None
) -> list[Row]:
    """human: own triplets (their repeated triplets), else the THINGS source ``dataset``."""
    trip = human.data if human is not None else load_triplets(entry.dataset)
    rows = []
    for method in ("majority", "loo"):
        per = noise_ceiling_per_triplet(trip, method)
        a = per["agreement"].to_numpy()
        ci = bootstrap_ci(a.size, lambda idx: a[idx].mean(), entry.level, entry.n_boot, entry.seed)  # noqa: B023 (runs now)
        rows.append(_row("human", "", trip.source, f"noise_ceiling_{method}", a.mean(), ci, a.size))
    return rows


def probe_rows(entry: Any, emb: Embedding, *, model: str, layer: str) -> list[Row]:
    trip = _triplets(entry.dataset)
    from repalign.metrics._inputs import features_and_triplets

    X, t = features_and_triplets(emb, trip)
    if entry.max_triplets and t.shape[0] > entry.max_triplets:
        rng = np.random.default_rng(entry.seed)
        t = t[np.sort(rng.choice(t.shape[0], entry.max_triplets, replace=False))]
    variant, sfx = entry.variant, _suffix(entry)
    if variant == "published":
        res = probe_cv(
            X,
            t,
            n_folds=entry.n_folds,
            alphas=tuple(entry.alphas),
            seed=entry.seed,
            epochs=entry.epochs,
            variant="published",
        )
    else:
        res = probe_cv(
            X,
            t,
            n_folds=entry.n_folds,
            alphas=tuple(entry.alphas),
            inner_folds=entry.inner_folds,
            seed=entry.seed,
            penalty=entry.penalty,
            similarity=entry.similarity[0],
            epochs=entry.epochs,
            n_components=entry.n_components,
        )
    n_test = int(res.folds["n_test"].sum())
    out = []
    if variant == "published":
        out.append(
            _row(model, layer, trip.source, f"probe_{entry.penalty}{sfx}_alpha", res.folds["alpha"].iloc[0], n=n_test)
        )
        out.append(
            _row(model, layer, trip.source, f"probe_{entry.penalty}{sfx}_loss", res.folds["loss"].mean(), n=n_test)
        )
    for name, acc in ((f"probe_zero_shot{sfx}", res.zero_shot), (f"probe_{entry.penalty}{sfx}", res.probed)):
        # The CI treats the pooled held-out triplets as Bernoulli trials at the pooled accuracy.
        ci = binary_mean_ci(
            np.r_[np.ones(round(acc * n_test)), np.zeros(n_test - round(acc * n_test))],
            entry.level,
            entry.n_boot,
            entry.seed,
        )
        out.append(_row(model, layer, trip.source, name, acc, ci, n_test))
    return out


def _mur92_embedding(emb: Embedding) -> tuple[np.ndarray, Any]:
    m = load_mur92()
    return emb.select(m.stimuli.ids).values, m


def rsa_rows(entry: Any, emb: Embedding, *, model: str, layer: str, human: Any = None) -> list[Row]:
    """human: own subject RDMs (repalign.datasets.own.SubjectRDMs in an OwnHuman), else Mur92's 16."""
    if human is not None:
        R = human.data
        X = emb.select(R.ids).values
        res = rsa(rdm(X, entry.rdm), R.rdms, entry.method, entry.bootstrap, entry.n_boot, entry.level, entry.seed)
        ds, s = entry.dataset, res.scores.size
        rows = [_row(model, layer, ds, f"rsa_{entry.method}", res.value, (res.ci_low, res.ci_high), s)]
        if s >= 2:  # a ceiling needs several subjects
            rows += [
                _row("human", "", ds, f"rsa_{entry.method}_ceiling_lower", res.ceiling_low, n=s),
                _row("human", "", ds, f"rsa_{entry.method}_ceiling_upper", res.ceiling_high, n=s),
            ]
        return rows
    if entry.dataset != "mur92":
        raise ValidationError(f"rsa: dataset {entry.dataset!r} has no subject RDMs; valid: mur92")
    X, m = _mur92_embedding(emb)
    res = rsa(
        rdm(X, entry.rdm),
        m.rdms,
        entry.method,
        entry.bootstrap,
        entry.n_boot,
        entry.level,
        entry.seed,
        variant=entry.variant,
    )
    return [
        _row(
            model,
            layer,
            "mur92",
            f"rsa_{entry.method}{_suffix(entry)}",
            res.value,
            (res.ci_low, res.ci_high),
            res.scores.size,
        ),
        _row("human", "", "mur92", f"rsa_{entry.method}_ceiling_lower", res.ceiling_low, n=res.scores.size),
        _row("human", "", "mur92", f"rsa_{entry.method}_ceiling_upper", res.ceiling_high, n=res.scores.size),
    ]


def cka_rows(entry: Any, emb: Embedding, *, model: str, layer: str, reference: Embedding) -> list[Row]:
    ref_emb = reference
    common = [i for i in emb.ids if i in set(ref_emb.ids)]
    if len(common) < 4:
        raise ValidationError(f"cka: {emb.name!r} and reference {ref_emb.name!r} share only {len(common)} stimulus ids")
    X, Y = emb.select(common).values, ref_emb.select(common).values
    name = f"cka_{entry.kernel}" + ("_unbiased" if entry.unbiased else "")
    val = cka(X, Y, entry.kernel, entry.unbiased, variant=entry.variant)
    name += _suffix(entry)
    return [_row(model, layer, entry.reference, name, val, n=len(common))]


def dimensionality_rows(entry: Any, emb: Embedding, *, model: str, layer: str) -> list[Row]:
    return [
        _row(
            model,
            layer,
            entry.dataset or emb.name,
            f"dimensionality_{m}",
            intrinsic_dimensionality(emb, m, k=entry.k, variant=entry.variant),
            n=emb.shape[0],
        )
        for m in entry.methods
    ]


def separation_rows(entry: Any, emb: Embedding, *, model: str, layer: str, human: Any = None) -> list[Row]:
    """human: a stimulus set's labels (OwnHuman of kind "labels"), else mur92's or THINGS'."""
    if human is not None:
        ids, labels = zip(*human.data)
        X, labels = emb.select(list(ids)).values, np.asarray(labels)
    elif entry.dataset == "mur92":
        X, m = _mur92_embedding(emb)
        col = entry.labels or "category"
        if col not in m.stimuli.labels.columns:
            raise ValidationError(
                f"separation: mur92 has no label column {col!r}; valid: {', '.join(m.stimuli.labels.columns)}"
            )
        labels = m.stimuli.labels[col].to_numpy()
    elif entry.dataset == "things" and entry.labels == "concept":
        X, labels = emb.values, _things_concepts_of(emb)
    elif entry.dataset == "things":
        c = load_things_concepts()
        # Concepts in exactly one top-level category; the others are ambiguous.
        one = c.categories.sum(axis=1) == 1
        ids = [i for i, k in zip(c.ids, one) if k]
        X = emb.select(ids).values
        labels = np.argmax(c.categories[one], axis=1)
    else:
        raise ValidationError(f"separation: unknown dataset {entry.dataset!r}; valid: mur92, things")
    r2 = class_separation(X, labels, variant=entry.variant, formula=entry.formula)
    return [_row(model, layer, entry.dataset, f"class_separation{_suffix(entry)}", r2, n=X.shape[0])]


def _things_concepts_of(emb: Embedding) -> np.ndarray:
    """The THINGS concept of each image of an image-level representation: its id's first
    path component (``aardvark/aardvark_01b.jpg``, as a ``folder`` stimulus set of the
    THINGS images names them) — the classes of Demircan et al.'s class separation."""
    known = set(load_things_concepts().ids)
    concepts = np.array([str(i).split("/")[0] for i in emb.ids])
    bad = [i for i, c in zip(emb.ids, concepts) if c not in known or "/" not in str(i)]
    if bad:
        raise ValidationError(
            f"separation: labels = \"concept\" needs image ids 'concept/file' of THINGS concepts; "
            f"{len(bad)} id(s) are not, first {bad[:3]}"
        )
    return concepts
