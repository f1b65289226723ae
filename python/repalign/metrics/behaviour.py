"""Classification behaviour against human decisions, image by image.

Three steps:

1. ``imagenet16_decisions``: an ImageNet classifier's logits → one of the 16
   categories of Geirhos et al., by the published aggregation: softmax over the
   1000 classes, the **mean** probability of each category's ImageNet classes, the
   category with the largest mean. Source: rgeirhos/texture-vs-shape,
   ``code/probabilities_to_decision.py`` (``ImageNetProbabilitiesTo16ClassesMapping``,
   ``aggregation_function=np.mean``), identical in bethgelab/model-vs-human,
   ``modelvshuman/datasets/decision_mappings.py``. The class lists are those of
   ``code/helper/human_categories.py`` (``repalign.datasets.load_imagenet16``).
2. ``decision_matrix``: trial-wise decisions (one per agent and image) → a
   correctness matrix (agents × images).
3. ``consistency_rows``: per agent accuracy, error consistency (Cohen's κ of
   trial-wise correctness; Geirhos, Meding & Wichmann 2020) against every person
   with observed and expected consistency, the mean κ to the people, and the
   people's own pairwise κ as the ceiling; percentile-bootstrap CIs over images
   (the same resampled images for every agent in a replicate). The aggregation
   follows bethgelab/model-vs-human ``modelvshuman/plotting/analyses.py``
   (``ErrorConsistency.get_result_df``): an agent's κ to humans is the mean of
   its κ with each person (a person: with each *other* person); the people's
   value is the mean over persons of that, which equals the mean over the
   45 unordered pairs of 10 people.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from repalign.errors import ValidationError
from repalign.metrics.uncertainty import _percentiles

HUMANS = "humans"  # the pooled people, as one agent
AGENT_TYPES = ("human", HUMANS, "network", "model")
DECISION_COLUMNS = ("dataset", "agent", "agent_type", "subject", "stimulus_id", "category", "response", "correct")


def imagenet16_decisions(logits: Any, mapping=None) -> tuple[np.ndarray, np.ndarray]:
    """16-class decisions of an ImageNet-1k classifier (published aggregation, see module doc).

    logits: (n_images, 1000) pre-softmax outputs in ImageNet class-index order.
    mapping: an ``ImageNet16`` (default: ``load_imagenet16()``, the seed's data).
    Returns (decisions (n_images,) category names, aggregated (n_images, 16) mean
    softmax probability per category in ``mapping.categories`` order). Ties go to
    the first category in sorted order, as in the seed's strict ``>`` loop.
    """
    from scipy.special import softmax

    if mapping is None:
        from repalign.datasets import load_imagenet16

        mapping = load_imagenet16()
    z = np.asarray(logits, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != len(mapping.imagenet):
        raise ValidationError(
            f"imagenet16_decisions: logits must have shape (n_images, {len(mapping.imagenet)}), got {z.shape}"
        )
    if not np.isfinite(z).all():
        raise ValidationError("imagenet16_decisions: logits contain NaN or inf")
    p = softmax(z, axis=1)
    M = mapping.index_matrix()  # (16, 1000)
    agg = (p @ M.T) / M.sum(axis=1)  # mean over each category's classes
    return np.asarray(mapping.categories)[np.argmax(agg, axis=1)], agg


def decision_matrix(decisions: pd.DataFrame) -> tuple[np.ndarray, list[str], list[str], pd.DataFrame]:
    """Correctness matrix of one dataset's decisions.

    decisions: columns ``agent``, ``agent_type``, ``stimulus_id``, ``correct``;
    every agent must decide on the same images, once each. Returns (C (n_agents,
    n_images) bool, agents, image ids (sorted), agents' table with agent_type and
    n). Errors name the agent and the image.
    """
    missing = [c for c in ("agent", "agent_type", "stimulus_id", "correct") if c not in decisions.columns]
    if missing:
        raise ValidationError(f"decisions: missing column(s) {missing}")
    bad = sorted(set(decisions["agent_type"]) - set(AGENT_TYPES))
    if bad:
        raise ValidationError(f"decisions: agent_type {bad}; valid: {', '.join(AGENT_TYPES)}")
    dup = decisions.duplicated(["agent", "stimulus_id"])
    if dup.any():
        r = decisions[dup].iloc[0]
        raise ValidationError(f"decisions: agent {r['agent']!r} decided twice on image {r['stimulus_id']!r}")
    images = sorted(decisions["stimulus_id"].unique())
    agents = list(dict.fromkeys(decisions["agent"]))
    wide = decisions.pivot(index="agent", columns="stimulus_id", values="correct").reindex(index=agents, columns=images)
    if wide.isna().any().any():
        a = wide.index[wide.isna().any(axis=1)][0]
        img = wide.columns[wide.loc[a].isna()][0]
        raise ValidationError(
            f"decisions: agent {a!r} has no decision on image {img!r} (every agent needs all {len(images)})"
        )
    info = (
        decisions.groupby("agent", sort=False)
        .agg(agent_type=("agent_type", "first"), n=("correct", "size"))
        .reindex(agents)
    )
    return wide.to_numpy(dtype=bool), agents, images, info


def _kappa(acc: np.ndarray, both_right: np.ndarray, both_wrong: np.ndarray, variant: str) -> tuple[np.ndarray, ...]:
    """κ of every agent pair from accuracies (..., A) and joint shares (..., A, A)."""
    c_obs = both_right + both_wrong
    pa, pb = acc[..., :, None], acc[..., None, :]
    c_exp = pa * pb + (1 - pa) * (1 - pb)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = (c_obs - c_exp) / (1 - c_exp)
    undefined = np.isclose(c_exp, 1.0)
    k = np.where(undefined, np.nan, k)
    if variant == "published":  # model-vs-human: observed consistency 1 → κ = 1
        k = np.where(np.isclose(c_obs, 1.0), 1.0, k)
    return k, c_obs, c_exp


def consistency_rows(
    decisions: pd.DataFrame,
    *,
    dataset: str,
    layers: Mapping[str, str] | None = None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
    variant: str = "default",
) -> list[dict]:
    """Rows of the classification table (metrics schema + ``agent_type``, ``other``) for one dataset.

    decisions: see ``decision_matrix``; people have agent_type "human". Rows per agent:
    ``accuracy``; per agent × person (not itself): ``kappa``, ``observed_consistency``,
    ``expected_consistency`` (column ``other`` = the person); ``kappa_to_humans`` (mean κ
    over the people). Agent ``humans`` (the people pooled): ``accuracy`` (mean over
    people), ``kappa_to_humans`` (mean over the pairs of different people),
    ``kappa_pairs_min``/``kappa_pairs_max`` (their range). CIs: percentile bootstrap over
    images (``n_boot`` resamples; NaN for min/max). variant: "default" (κ undefined →
    NaN when an agent is always or never right together with the other) or "published"
    (model-vs-human's rule: κ = 1 whenever observed consistency is 1).
    """
    if variant not in ("default", "published"):
        raise ValidationError(f"consistency_rows: variant must be 'default' or 'published', got {variant!r}")
    C, agents, images, info = decision_matrix(decisions)
    people = [i for i, a in enumerate(agents) if info["agent_type"].iloc[i] == "human"]
    if len(people) < 2:
        raise ValidationError(f"classification {dataset}: need at least 2 people's decisions, got {len(people)}")
    layers = dict(layers or {})
    n = len(images)
    X = C.astype(np.float64)
    rng = np.random.default_rng(seed)
    # Row 0: the data; rows 1..B: image resamples as multinomial weights (same images for all agents).
    W = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)]) / n  # (B+1, n)
    acc = W @ X.T  # (B+1, A)
    both_right = np.einsum("an,bn,hn->bah", X, W, X, optimize=True)
    both_wrong = np.einsum("an,bn,hn->bah", 1 - X, W, 1 - X, optimize=True)
    kappa, c_obs, c_exp = _kappa(acc, both_right, both_wrong, variant)
    P = np.array(people)
    to_humans = np.empty((W.shape[0], len(agents)))
    for i in range(len(agents)):
        others = P[P != i]
        with np.errstate(invalid="ignore"):
            to_humans[:, i] = np.nanmean(kappa[:, i, others], axis=1) if others.size else np.nan
    iu = np.triu_indices(len(people), 1)
    pairs = kappa[:, P[:, None], P[None, :]][:, iu[0], iu[1]]  # (B+1, n_pairs)
    with np.errstate(invalid="ignore"):
        pair_mean = np.nanmean(pairs, axis=1)

    def ci(vals: np.ndarray) -> tuple[float, float]:
        v = vals[1:][np.isfinite(vals[1:])]
        return _percentiles(v, level) if v.size else (np.nan, np.nan)

    def row(agent, agent_type, metric, vals, n_, other=""):
        return {
            "model": agent,
            "layer": layers.get(agent, ""),
            "dataset": dataset,
            "metric": metric,
            "value": float(vals[0]),
            "ci_low": ci(vals)[0],
            "ci_high": ci(vals)[1],
            "n": int(n_),
            "agent_type": agent_type,
            "other": other,
        }

    rows = []
    for i, a in enumerate(agents):
        t = info["agent_type"].iloc[i]
        rows.append(row(a, t, "accuracy", acc[:, i], n))
        for j in people:
            if j == i:
                continue
            for metric, arr in (("kappa", kappa), ("observed_consistency", c_obs), ("expected_consistency", c_exp)):
                rows.append(row(a, t, metric, arr[:, i, j], n, other=agents[j]))
        rows.append(row(a, t, "kappa_to_humans", to_humans[:, i], len(people) - (i in people)))
    rows.append(row(HUMANS, HUMANS, "accuracy", acc[:, P].mean(axis=1), n * len(people)))
    rows.append(row(HUMANS, HUMANS, "kappa_to_humans", pair_mean, pairs.shape[1]))
    for metric, fn in (("kappa_pairs_min", np.nanmin), ("kappa_pairs_max", np.nanmax)):
        rows.append(
            {**row(HUMANS, HUMANS, metric, fn(pairs[:1], axis=1), pairs.shape[1]), "ci_low": np.nan, "ci_high": np.nan}
        )
    return rows


def summary_lines(table: pd.DataFrame) -> list[str]:
    """One line per dataset and agent (people pooled as ``humans``; single people left out):
    ``classification <set> <agent> accuracy <a> kappa_to_humans <k> [<lo>, <hi>]``."""
    out = []
    t = table[table["agent_type"].isin([HUMANS, "network", "model"])]
    for (ds, agent), g in t.groupby(["dataset", "model"], sort=False):
        m = g.set_index("metric")
        if not {"accuracy", "kappa_to_humans"} <= set(m.index):
            continue
        k = m.loc["kappa_to_humans"]
        out.append(
            f"classification {ds} {agent} accuracy {m.loc['accuracy', 'value']:.3f} "
            f"kappa_to_humans {k['value']:.3f} [{k['ci_low']:.3f}, {k['ci_high']:.3f}]"
        )
    return out


def closest_to_humans(table: pd.DataFrame) -> list[dict]:
    """Per dataset, the network or model with the largest κ to humans (and the people's
    mean pairwise κ, the ceiling): dicts with dataset, agent, kappa, ci_low, ci_high,
    ceiling, ceiling_low, ceiling_high."""
    out = []
    k = table[table["metric"] == "kappa_to_humans"]
    for ds, g in k.groupby("dataset", sort=False):
        cand = g[g["agent_type"].isin(["network", "model"])].sort_values("value", ascending=False)
        ceil = g[g["agent_type"] == HUMANS]
        if cand.empty:
            continue
        b = cand.iloc[0]
        c = ceil.iloc[0] if len(ceil) else None
        out.append(
            {
                "dataset": ds,
                "agent": b["model"],
                "kappa": b["value"],
                "ci_low": b["ci_low"],
                "ci_high": b["ci_high"],
                "ceiling": np.nan if c is None else c["value"],
                "ceiling_low": np.nan if c is None else c["ci_low"],
                "ceiling_high": np.nan if c is None else c["ci_high"],
            }
        )
    return out


def texture_shape_decisions(
    condition: str,
    networks: Sequence[str] = ("alexnet", "googlenet", "vgg"),
    model_decisions: Mapping[str, pd.Series] | None = None,
) -> pd.DataFrame:
    """Decisions on one texture-shape condition (``edges`` | ``filled-silhouettes``):
    the people and the named raw-data ``networks`` from the upstream CSVs, plus
    ``model_decisions`` (agent → Series of categories indexed by stimulus id).
    Columns: ``DECISION_COLUMNS``."""
    from repalign.datasets import load_texture_shape
    from repalign.datasets.texture_shape import CONDITIONS

    if condition not in CONDITIONS:
        raise ValidationError(f"texture-shape condition {condition!r}; valid: {', '.join(CONDITIONS)}")
    ts = load_texture_shape()
    tr = ts.trials[ts.trials["experiment"] == condition]
    available = sorted(tr.loc[tr["observer_type"] == "model", "subj"].unique())
    unknown = [n for n in networks if n not in available]
    if unknown:
        raise ValidationError(
            f"classification {condition}: raw-data network(s) {unknown} not in the data; available: "
            f"{', '.join(available)}"
        )
    keep = tr[(tr["observer_type"] == "human") | tr["subj"].isin(list(networks))]
    out = pd.DataFrame(
        {
            "dataset": condition,
            "agent": keep["subj"].astype(str),
            "agent_type": np.where(keep["observer_type"] == "human", "human", "network"),
            "subject": keep["subj"].astype(str),
            "stimulus_id": keep["stimulus_id"].astype(str),
            "category": keep["category"].astype(str),
            "response": keep["object_response"].astype(str),
            "correct": keep["correct"].astype(bool),
        }
    )
    frames = [out]
    truth = ts.stimuli[condition].labels["category"]
    for agent, dec in (model_decisions or {}).items():
        if agent in set(out["agent"]):
            raise ValidationError(
                f"classification {condition}: model agent {agent!r} clashes with an agent of the raw data"
            )
        dec = pd.Series(dec)
        missing = sorted(set(truth.index) - set(dec.index))
        if missing:
            raise ValidationError(f"classification {condition}: model {agent!r} has no decision on {missing[:5]}")
        cat = truth.to_numpy().astype(str)
        resp = dec.reindex(truth.index).to_numpy().astype(str)
        frames.append(
            pd.DataFrame(
                {
                    "dataset": condition,
                    "agent": agent,
                    "agent_type": "model",
                    "subject": agent,
                    "stimulus_id": truth.index.astype(str),
                    "category": cat,
                    "response": resp,
                    "correct": resp == cat,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)[list(DECISION_COLUMNS)]
