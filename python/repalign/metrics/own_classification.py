"""Classification against a researcher's own decisions file (any label set).

The people's decisions come from the file (repalign.datasets.own.read_decisions); a
model decides on each stimulus by a leave-one-out nearest-class-mean readout of its
features: rows scaled to unit length, each class's mean computed without the stimulus
being decided, the class of the most similar mean (cosine) chosen — the nearest class
mean classifier of Mensink et al. (2013), "Distance-based image classification",
IEEE TPAMI 35(11), with the held-out stimulus left out of its own class's mean. The
classes are the true labels of the file. With ``decide = "imagenet16"`` an ImageNet
classifier decides instead by the published 16-category aggregation of its logits
(repalign.metrics.behaviour.imagenet16_decisions; Geirhos et al.). Trial-wise agreement with the people is then
measured as for texture-shape (repalign.metrics.behaviour.consistency_rows: accuracy,
error consistency κ to every person, the people's own κ as the ceiling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from repalign.errors import ValidationError
from repalign.metrics.decisions_task import decisions_task
from repalign.task import Task, content_key, safe_name

if TYPE_CHECKING:
    from repalign.config import Config
    from repalign.metrics.config import ClassificationMetric
    from repalign.metrics.own_human import OwnHuman
    from repalign.metrics.plan import Agent
    from repalign.representations import Representation

_VERSION = 1


def nearest_class_mean_loo(X: Any, labels: Any) -> np.ndarray:
    """Leave-one-out nearest-class-mean decisions (n,) of features X (n, d) for true
    labels (n,): see the module doc. A class with one stimulus cannot be chosen for
    that stimulus (its mean without it is empty)."""
    from repalign.metrics._inputs import feature_matrix

    Xa = feature_matrix(X)
    y = np.asarray(labels).astype(str)
    norms = np.linalg.norm(Xa, axis=1)
    if (norms == 0).any():
        raise ValidationError(
            f"classification: {int((norms == 0).sum())} all-zero feature row(s); no direction to compare"
        )
    U = Xa / norms[:, None]
    classes, inv = np.unique(y, return_inverse=True)
    G = np.zeros((Xa.shape[0], classes.size))
    G[np.arange(Xa.shape[0]), inv] = 1.0
    sums, counts = G.T @ U, G.sum(axis=0)  # (K, d), (K,)
    S = np.empty((Xa.shape[0], classes.size))
    for k in range(classes.size):
        own = inv == k
        # each stimulus's own class: the sum without it; the others: the full sum
        num = np.where(own[:, None], sums[k][None, :] - U, sums[k][None, :])
        cnt = np.where(own, counts[k] - 1, counts[k])
        norm = np.linalg.norm(num, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            S[:, k] = np.where((cnt > 0) & (norm > 0), np.einsum("nd,nd->n", U, num) / norm, -np.inf)
    return classes[np.argmax(S, axis=1)]


def own_classification_task(
    entry: ClassificationMetric, refs: Mapping[str, Representation], config: Config, where: str, human: OwnHuman
) -> Task:
    """One task for the entry: every representation of the decisions' stimulus set."""
    from repalign.metrics.plan import Agent

    name = entry.dataset
    names = (
        list(entry.representations)
        if entry.representations is not None
        else sorted(n for n, r in refs.items() if r.stimuli == name)
    )
    if not names:
        raise ValidationError(
            f"{where} (classification): needs representations of stimulus set {name!r} (the ids of "
            f"its decisions); add [[models]] or a [[representations]] file with stimuli = {name!r}"
        )
    for n in names:
        if n not in refs:
            raise ValidationError(
                f"{where}: unknown representation {n!r}; defined: {', '.join(sorted(refs)) or 'none'}"
            )
        if refs[n].stimuli != name:
            raise ValidationError(
                f"{where} (classification): its decisions are about stimulus set {name!r}; "
                f"{n!r} represents {refs[n].stimuli!r}"
            )
    # an agent is named by its model, as in the texture-shape tables; by the representation when
    # one model gives several (e.g. two layers)
    models_of = [str(refs[n].model or n) for n in names]
    agents = models_of if len(set(models_of)) == len(models_of) else list(names)
    people = set(human.data["participant"])
    clash = [a for a in agents if a in people]
    if clash:
        raise ValidationError(
            f"{where} (classification): model(s) {clash} share a name with a participant of the decisions file"
        )
    decide = entry.decide or "nearest_mean"
    if decide == "imagenet16":
        from repalign.datasets import load_imagenet16
        from repalign.metrics.plan import _imagenet_head_problem

        for n in names:
            why = _imagenet_head_problem(refs[n])
            if why:
                raise ValidationError(
                    f'{where} (classification): decide = "imagenet16" but {n!r} gives no 16-class decisions: {why}'
                )
        cats = set(load_imagenet16().categories)
        other = sorted(set(human.data["category"]) - cats)
        if other:
            raise ValidationError(
                f'{where} (classification): decide = "imagenet16" but the true label(s) '
                f"{other[:5]} of the decisions file are not among the 16 categories "
                f'({", ".join(sorted(cats))}); use decide = "nearest_mean" for another label set'
            )
    deciders = [Agent(a, str(refs[n].layer or ""), refs[n]) for a, n in zip(agents, names)]
    ident = {
        "v": _VERSION,
        "spec": entry.key_fields(),
        "human": human.key,
        "models": sorted((a, refs[n].cache_key) for a, n in zip(agents, names)),
    }
    key = content_key(ident)
    label = safe_name(entry.name) if entry.name else safe_name(name)
    return decisions_task(
        config,
        "classification",
        key,
        label,
        ("classification", "decisions"),
        run_own_classification,
        "repalign.metrics.own_classification.run_own_classification",
        entry=entry,
        agents=deciders,
        provenance={"human": human.key, "models": [[a.name, a.representation.cache_key] for a in deciders]},
        title="classification",
        human=human,
    )


def run_own_classification(
    entry: ClassificationMetric, agents: Sequence[Agent], human: OwnHuman, paths: tuple[str, str], provenance: dict
) -> tuple[str, str]:
    """Task body: the models' decisions, the people's, one classification and one decisions table."""
    import pandas as pd

    from repalign.metrics.behaviour import DECISION_COLUMNS, consistency_rows
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    people = human.data
    truth = people.drop_duplicates("stimulus_id").set_index("stimulus_id")["category"]
    ids = list(truth.index)
    frames = [
        pd.DataFrame(
            {
                "dataset": human.set_name,
                "agent": people["participant"],
                "agent_type": "human",
                "subject": people["participant"],
                "stimulus_id": people["stimulus_id"],
                "category": people["category"],
                "response": people["response"],
                "correct": people["response"] == people["category"],
            }
        )
    ]
    layers = {}
    for a in agents:
        agent = a.name
        emb = a.representation.load().select(ids)
        if entry.decide == "imagenet16":
            from repalign.datasets import load_imagenet16
            from repalign.metrics.behaviour import imagenet16_decisions

            dec = imagenet16_decisions(emb.values, load_imagenet16())[0]
        else:
            dec = nearest_class_mean_loo(emb.values, truth.to_numpy())
        frames.append(
            pd.DataFrame(
                {
                    "dataset": human.set_name,
                    "agent": agent,
                    "agent_type": "model",
                    "subject": agent,
                    "stimulus_id": ids,
                    "category": truth.to_numpy(),
                    "response": dec,
                    "correct": dec == truth.to_numpy(),
                }
            )
        )
        layers[agent] = a.layer
    d = pd.concat(frames, ignore_index=True)[list(DECISION_COLUMNS)]
    rows = consistency_rows(
        d, dataset=human.set_name, layers=layers, level=entry.level, n_boot=entry.n_boot, seed=entry.seed
    )
    table = metrics_table(rows)
    if entry.name:
        table["entry"] = entry.name
    write_table(d, paths[1], kind="decisions", provenance=provenance)
    write_table(table, paths[0], kind="metrics", provenance=provenance)
    return paths
