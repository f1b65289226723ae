"""One metric of one representation → rows of the metrics table.

These functions are what a ``[[metrics]]`` task runs: each takes the loaded
representation (an ``Embedding``), the validated entry of the config section and the
names to report (model, layer), and returns row dicts for ``metrics_table``.
Human data are loaded here by name, so a task carries only picklable parameters.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from repalign.datasets import load_mur92, load_things_concepts, load_triplets
from repalign.datasets.base import Embedding
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


def _row(model: str, layer: str, dataset: str, metric: str, value: float, ci=(np.nan, np.nan), n: int = 0, **extra) -> Row:
    return {"model": model, "layer": layer, "dataset": dataset, "metric": metric, "value": float(value),
            "ci_low": float(ci[0]), "ci_high": float(ci[1]), "n": int(n), **extra}


def odd_one_out_rows(emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    trip = load_triplets(spec["dataset"])
    rows = []
    for sim in spec["similarity"]:
        correct = odd_one_out_correct(emb, trip, sim)
        ci = binary_mean_ci(correct, spec["level"], spec["n_boot"], spec["seed"])
        rows.append(_row(model, layer, trip.source, f"odd_one_out_{sim}", correct.mean(), ci, correct.size))
        if spec["fit_temperature"]:
            T = fit_temperature(emb, trip, sim)
            rows.append(_row(model, layer, trip.source, f"odd_one_out_{sim}_temperature", T, n=len(trip)))
            rows.append(_row(model, layer, trip.source, f"odd_one_out_{sim}_loglik", log_likelihood(emb, trip, sim, T), n=len(trip)))
    return rows


def noise_ceiling_rows(spec: Mapping[str, Any]) -> list[Row]:
    trip = load_triplets(spec["dataset"])
    rows = []
    for method in ("majority", "loo"):
        per = noise_ceiling_per_triplet(trip, method)
        a = per["agreement"].to_numpy()
        ci = bootstrap_ci(a.size, lambda idx: a[idx].mean(), spec["level"], spec["n_boot"], spec["seed"])
        rows.append(_row("human", "", trip.source, f"noise_ceiling_{method}", a.mean(), ci, a.size))
    return rows


def probe_rows(emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    trip = load_triplets(spec["dataset"])
    from repalign.metrics._inputs import features_and_triplets

    X, t = features_and_triplets(emb, trip)
    if spec["max_triplets"] and t.shape[0] > spec["max_triplets"]:
        rng = np.random.default_rng(spec["seed"])
        t = t[np.sort(rng.choice(t.shape[0], spec["max_triplets"], replace=False))]
    res = probe_cv(X, t, n_folds=spec["n_folds"], alphas=tuple(spec["alphas"]), inner_folds=spec["inner_folds"],
                   seed=spec["seed"], penalty=spec["penalty"], similarity=spec["similarity"][0],
                   epochs=spec["epochs"], n_components=spec["n_components"])
    n_test = int(res.folds["n_test"].sum())
    out = []
    for name, acc in (("probe_zero_shot", res.zero_shot), (f"probe_{spec['penalty']}", res.probed)):
        # The CI treats the pooled held-out triplets as Bernoulli trials at the pooled accuracy.
        ci = binary_mean_ci(np.r_[np.ones(round(acc * n_test)), np.zeros(n_test - round(acc * n_test))],
                            spec["level"], spec["n_boot"], spec["seed"])
        out.append(_row(model, layer, trip.source, name, acc, ci, n_test))
    return out


def _mur92_embedding(emb: Embedding) -> tuple[np.ndarray, Any]:
    m = load_mur92()
    return emb.select(m.stimuli.ids).values, m


def rsa_rows(emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    if spec["dataset"] != "mur92":
        raise ValidationError(f"rsa: dataset {spec['dataset']!r} has no subject RDMs; valid: mur92")
    X, m = _mur92_embedding(emb)
    res = rsa(rdm(X, spec["rdm"]), m.rdms, spec["method"], spec["bootstrap"], spec["n_boot"], spec["level"], spec["seed"])
    return [
        _row(model, layer, "mur92", f"rsa_{spec['method']}", res.value, (res.ci_low, res.ci_high), res.scores.size),
        _row("human", "", "mur92", f"rsa_{spec['method']}_ceiling_lower", res.ceiling_low, n=res.scores.size),
        _row("human", "", "mur92", f"rsa_{spec['method']}_ceiling_upper", res.ceiling_high, n=res.scores.size),
    ]


def cka_rows(emb: Embedding, ref_emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    common = [i for i in emb.ids if i in set(ref_emb.ids)]
    if len(common) < 4:
        raise ValidationError(f"cka: {emb.name!r} and reference {ref_emb.name!r} share only {len(common)} stimulus ids")
    X, Y = emb.select(common).values, ref_emb.select(common).values
    name = f"cka_{spec['kernel']}" + ("_unbiased" if spec["unbiased"] else "")
    val = cka(X, Y, spec["kernel"], spec["unbiased"])
    return [_row(model, layer, spec["reference"], name, val, n=len(common))]


def dimensionality_rows(emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    return [
        _row(model, layer, spec["dataset"] or emb.name, f"dimensionality_{m}",
             intrinsic_dimensionality(emb, m, k=spec["k"]), n=emb.shape[0])
        for m in spec["methods"]
    ]


def separation_rows(emb: Embedding, spec: Mapping[str, Any], model: str, layer: str) -> list[Row]:
    if spec["dataset"] == "mur92":
        X, m = _mur92_embedding(emb)
        col = spec["labels"] or "category"
        if col not in m.stimuli.labels.columns:
            raise ValidationError(f"separation: mur92 has no label column {col!r}; valid: {', '.join(m.stimuli.labels.columns)}")
        labels = m.stimuli.labels[col].to_numpy()
    elif spec["dataset"] == "things":
        c = load_things_concepts()
        # Concepts in exactly one top-level category; the others are ambiguous.
        one = c.categories.sum(axis=1) == 1
        ids = [i for i, k in zip(c.ids, one) if k]
        X = emb.select(ids).values
        labels = np.argmax(c.categories[one], axis=1)
    else:
        raise ValidationError(f"separation: unknown dataset {spec['dataset']!r}; valid: mur92, things")
    return [_row(model, layer, spec["dataset"], "class_separation", class_separation(X, labels), n=X.shape[0])]
