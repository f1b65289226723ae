"""Shape bias on cue-conflict images (Geirhos et al. 2019), agent by agent.

Definition (Geirhos et al. 2019, ICLR, section 3 and Figure 4; the analysis of
rgeirhos/texture-vs-shape and bethgelab/model-vs-human
``modelvshuman/plotting/analyses.py``, class ``ShapeBias``): over the cue-conflict
trials (shape category ≠ texture category; the 80 images whose two cues agree
are left out), shape bias = shape decisions / (shape decisions + texture
decisions); a decision for a third category (or a person's time-out) counts for
neither. The per-category value restricts the trials to images of one *shape*
category (the seed's per-category plot groups by the trial's ``category``
column, the shape). People pooled (``humans``) = the mean of the 10 people's
shape biases (the paper's figure shows each person's and their mean).

Uncertainty: percentile bootstrap over images (the same resampled images for every
agent in a replicate; ``n_boot`` resamples), for every per-agent and per-category
value; the people's range (min, max over people) is reported without CI.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from repalign.errors import ValidationError
from repalign.metrics.behaviour import HUMANS
from repalign.metrics.uncertainty import _percentiles

CUES = ("shape", "texture", "other")
_NEEDED = ("agent", "agent_type", "stimulus_id", "shape", "conflict", "cue")


def cue_counts(decisions: pd.DataFrame) -> tuple[list[str], list[str], np.ndarray, np.ndarray, np.ndarray, pd.Series]:
    """Per agent and conflict image, the counts of shape and texture decisions and of trials.

    decisions: columns ``agent``, ``agent_type``, ``stimulus_id``, ``shape``,
    ``conflict`` (bool), ``cue`` (shape | texture | other) — e.g.
    ``repalign.datasets.load_cue_conflict().decisions``. Returns (agents (first-seen
    order), images (sorted conflict image ids), S, T, N (n_agents, n_images) counts,
    agent_type per agent). An agent may decide several times on one image (counts add).
    """
    missing = [c for c in _NEEDED if c not in decisions.columns]
    if missing:
        raise ValidationError(f"shape bias: decisions lack column(s) {missing}; required: {list(_NEEDED)}")
    bad = sorted(set(decisions["cue"].astype(str)) - set(CUES))
    if bad:
        raise ValidationError(f"shape bias: column 'cue' has value(s) {bad[:5]}; valid: {', '.join(CUES)}")
    d = decisions[decisions["conflict"].astype(bool)]
    if d.empty:
        raise ValidationError("shape bias: no cue-conflict trials (shape ≠ texture) in the decisions")
    agents = list(dict.fromkeys(d["agent"].astype(str)))
    images = sorted(d["stimulus_id"].astype(str).unique())
    ai = pd.Index(agents).get_indexer(d["agent"].astype(str))
    ii = pd.Index(images).get_indexer(d["stimulus_id"].astype(str))
    shape = (d["cue"] == "shape").to_numpy(float)
    texture = (d["cue"] == "texture").to_numpy(float)
    S, T, N = (np.zeros((len(agents), len(images))) for _ in range(3))
    np.add.at(S, (ai, ii), shape)
    np.add.at(T, (ai, ii), texture)
    np.add.at(N, (ai, ii), 1.0)
    types = d.groupby(d["agent"].astype(str), sort=False)["agent_type"].first().reindex(agents)
    return agents, images, S, T, N, types


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def shape_bias_rows(
    decisions: pd.DataFrame,
    *,
    dataset: str = "cue-conflict",
    layers: Mapping[str, str] | None = None,
    level: float = 0.95,
    n_boot: int = 1000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Rows (metrics schema + ``agent_type``, ``other``) of shape bias per agent.

    Per agent: ``shape_bias`` (n = cue-decided conflict trials), ``cue_decided`` (share
    of conflict trials decided by shape or texture; n = conflict trials) and
    ``shape_bias_category`` per shape category (``other`` = the category). Agent
    ``humans`` (agent_type "humans"): the mean over the people of each of those, and
    ``shape_bias_min`` / ``shape_bias_max`` (the people's range; ``other`` = the person).
    CIs: percentile bootstrap over images (see module doc); NaN where an agent made no
    shape or texture decision.
    """
    agents, images, S, T, N, types = cue_counts(decisions)
    layers = dict(layers or {})
    n = len(images)
    rng = np.random.default_rng(seed)
    # row 0: the data; rows 1..B: multinomial image counts (the same images for all agents)
    W = np.vstack([np.ones(n), rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)]) if n_boot else np.ones((1, n))
    d = decisions[decisions["conflict"].astype(bool)]
    img_shape = (
        d.drop_duplicates("stimulus_id").set_index("stimulus_id")["shape"].astype(str).reindex(images).to_numpy()
    )
    categories = sorted(set(img_shape))

    def stats(w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, t, m = w @ S.T, w @ T.T, w @ N.T  # (B+1, A)
        return _ratio(s, s + t), _ratio(s + t, m), s + t

    bias, decided, n_cue = stats(W)
    per_cat = {c: stats(W * (img_shape == c))[0] for c in categories}
    people = [i for i, t in enumerate(types) if t == "human"]

    def ci(vals: np.ndarray) -> tuple[float, float]:
        v = vals[1:][np.isfinite(vals[1:])]
        return _percentiles(v, level) if v.size else (np.nan, np.nan)

    def row(agent, agent_type, metric, vals, n_, other=""):
        lo, hi = ci(vals)
        return {
            "model": agent,
            "layer": layers.get(agent, ""),
            "dataset": dataset,
            "metric": metric,
            "value": float(vals[0]),
            "ci_low": lo,
            "ci_high": hi,
            "n": int(n_),
            "agent_type": agent_type,
            "other": other,
        }

    rows = []
    for i, a in enumerate(agents):
        t = str(types.iloc[i])
        rows.append(row(a, t, "shape_bias", bias[:, i], n_cue[0, i]))
        rows.append(row(a, t, "cue_decided", decided[:, i], N[i].sum()))
        for c in categories:
            rows.append(row(a, t, "shape_bias_category", per_cat[c][:, i], N[i, img_shape == c].sum(), other=c))
    if people:
        P = np.array(people)
        with np.errstate(invalid="ignore"):
            rows.append(row(HUMANS, HUMANS, "shape_bias", np.nanmean(bias[:, P], axis=1), len(P)))
            rows.append(row(HUMANS, HUMANS, "cue_decided", np.nanmean(decided[:, P], axis=1), len(P)))
            for c in categories:
                rows.append(
                    row(HUMANS, HUMANS, "shape_bias_category", np.nanmean(per_cat[c][:, P], axis=1), len(P), other=c)
                )
        for metric, pick in (("shape_bias_min", np.nanargmin), ("shape_bias_max", np.nanargmax)):
            j = P[pick(bias[0, P])]
            rows.append(
                {
                    **row(HUMANS, HUMANS, metric, bias[:1, j], len(P), other=agents[j]),
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                }
            )
    return rows


def model_decisions(
    labels: pd.DataFrame, decisions: Mapping[str, pd.Series], dataset: str = "cue-conflict"
) -> pd.DataFrame:
    """Trials of models (agent → Series of 16-class decisions indexed by stimulus id, the
    images of the model's stimulus set: all of ``labels`` or a subset, e.g. a ``limit``),
    as ``repalign.datasets.cue_conflict.decisions_table`` rows with agent_type "model".
    ``labels``: index stimulus_id; columns shape, texture."""
    from repalign.datasets.cue_conflict import decisions_table

    frames = []
    for agent, dec in decisions.items():
        dec = pd.Series(dec)
        unknown = sorted(set(dec.index) - set(labels.index))
        if unknown:
            raise ValidationError(
                f"shape bias: model {agent!r} decided on image(s) {unknown[:5]} that are not cue-conflict stimuli"
            )
        frames.append(
            pd.DataFrame(
                {
                    "agent": agent,
                    "agent_type": "model",
                    "subject": agent,
                    "stimulus_id": dec.index.astype(str),
                    "response": dec.to_numpy().astype(str),
                    "experiment": "repalign",
                }
            )
        )
    if not frames:
        return decisions_table(
            pd.DataFrame(columns=["agent", "agent_type", "subject", "stimulus_id", "response"]), labels, dataset
        )
    return decisions_table(pd.concat(frames, ignore_index=True), labels, dataset)


def common_images(decisions: pd.DataFrame) -> pd.DataFrame:
    """The trials on the images every agent decided on (error consistency compares agents
    image by image; a model over a subset of the images, e.g. ``limit``, narrows them)."""
    n_agents = decisions["agent"].nunique()
    per_image = decisions.groupby("stimulus_id")["agent"].nunique()
    keep = per_image.index[per_image == n_agents]
    return decisions[decisions["stimulus_id"].isin(keep)]


def select_networks(decisions: pd.DataFrame, networks: Sequence[str] | None) -> pd.DataFrame:
    """The people's decisions and those of the named raw-data ``networks`` (None = all)."""
    available = sorted(decisions.loc[decisions["agent_type"] == "network", "agent"].unique())
    if networks is None:
        return decisions
    unknown = [n for n in networks if n not in available]
    if unknown:
        raise ValidationError(
            f"shape_bias: raw-data network(s) {unknown} not in the data; available: {', '.join(available)}"
        )
    return decisions[(decisions["agent_type"] == "human") | decisions["agent"].isin(list(networks))]
