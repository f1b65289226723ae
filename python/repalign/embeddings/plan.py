"""The ``[[embed]]`` config section → one content-keyed task per entry.

Each entry trains one SPoSE or VICE embedding, either on the THINGS human odd-one-out
triplets (``source = "human"``) or on a representation's simulated choices
(``source = "<representation name>"``, one of the run's resolved representations),
evaluates it on held-out triplets (and, for THINGS objects, on the human noise-ceiling
triplets), matches its dimensions with reference embeddings (default SPoSE-49) and writes under
``<output>/embed/<name>-<key>/``:

* ``embedding.parquet`` (kind ``embedding``): stimulus_id, embedding (float32, n_dims);
  provenance holds the entry, the fitted sizes and the evaluation numbers;
* ``curve.parquet`` (generic): the training curve, one row per epoch;
* ``evaluation.parquet`` (kind ``metrics``): odd-one-out accuracy of the embedding (and,
  on the same human triplets, of the source representation with its ``similarity`` and of
  each reference), RSA and mean matched-dimension correlation against each reference;
* ``matching.parquet`` (generic): reference, matching, dim, reference_dim, r — one row
  per matched pair of dimensions; ``matching`` is ``hungarian`` (default variant) or
  ``greedy`` and ``greedy_duplicates`` (published variant: greedy in the reference's
  dimension order, without and with duplicates, as Mahner et al. 2025).

Keys (defaults in ``DEFAULTS``)::

    [[embed]]
    name = "things-vice"        # required; output name
    method = "vice"             # spose | vice
    source = "human"            # human | <representation name>
    train = ["train_90", "test_10"]   # human: triplet sets to train on
    holdout = 0.2               # human: share of test_10 held out for evaluation;
                                # representation: share of simulated triplets held out
    n_triplets = 100000         # representation: triplets to simulate
    choice = "argmax"           # representation: argmax | softmax
    similarity = "dot"          # representation: dot | cosine | euclidean
    temperature = 1.0           # representation, softmax choice rule
    compare_to = ["spose49"]    # reference embeddings (representation names; "spose49"
                                # and "spose14" work without a [[representations]] entry);
                                # default: spose49 when the objects are THINGS concepts
    variant = "default"         # default | published (Mahner et al. 2025 / object-dimensions):
                                # triplets (relu, unique), model, stopping rule, matching
    n_dims = 50 ; batch_size = 256 ; patience = 5
    lr = 0.01 | 0.001 (published) ; max_epochs = 100 | 1000 (published VICE) | 2000 (published SPoSE)
    burnin = 500 ; stability_window = 500                          # published stopping rule
    val_fraction = 0.1 ; init_scale = 0.1 ; seed = <run seed> ; device = "auto"
    l1 = 1.0 | 0.00385 (published) ; prune_threshold = 0.1          # spose
    beta = 1.0 (human) | 0.24 (representation) ; spike = 0.25 ; slab = 1.0 | 2.0 (published)
    pi = 0.5 ; alpha = 0.05 ; min_objects = 5 ; init_sigma = 0.1    # vice

Keys whose default depends on the variant or the source are filled in before the
content key is computed, so the key always names the values used.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from repalign.config import Config, parse_section
from repalign.embeddings.config import MODEL_KEYS, embed_model
from repalign.errors import ValidationError
from repalign.stages import Stage
from repalign.task import Task
from repalign.task import content_key as _key

if TYPE_CHECKING:
    from repalign.representations import Representation

_VERSION = 3  # bump when the outputs change for the same inputs

# object-dimensions' KL weight: configs/train_dnn.toml (DNN triplets), train_behavior.toml (humans)
BETA_NETWORK, BETA_HUMAN = 0.24, 1.0
TRAINING_KEYS = (
    "variant",
    "n_dims",
    "lr",
    "batch_size",
    "max_epochs",
    "patience",
    "min_delta",
    "val_fraction",
    "init_scale",
    "burnin",
    "stability_window",
    "device",
)
BUILTIN_REFERENCES = ("spose49", "spose14")


def embed_spec(entry: Any, where: str, seed: int = 0) -> dict[str, Any]:
    """An ``[[embed]]`` entry (validated, or as written: validated here) with every default filled in."""
    if isinstance(entry, Mapping):
        entry = parse_section(embed_model(entry, where), entry, where)
    spec = entry.spec()
    if spec["seed"] is None:
        spec["seed"] = seed
    if isinstance(spec["train"], str):
        spec["train"] = [spec["train"]]
    if isinstance(spec["compare_to"], str):
        spec["compare_to"] = [spec["compare_to"]]
    spec.setdefault("variant", "default")
    if spec["method"] == "vice" and spec["beta"] is None:
        spec["beta"] = BETA_HUMAN if spec["source"] == "human" else BETA_NETWORK
    from repalign.metrics import SIMILARITIES

    if spec["similarity"] not in SIMILARITIES:
        raise ValidationError(f"{where}: similarity = {spec['similarity']!r}; valid: {', '.join(SIMILARITIES)}")
    # Fail at plan time, not inside the task, on bad model parameters; fill in the
    # variant's defaults so that the content key names the values used.
    model = make_model(spec)
    model._check_params()
    resolved = model.resolved()
    for k in spec:
        if spec[k] is None and k in resolved:
            spec[k] = resolved[k]
    return spec


def make_model(spec: Mapping[str, Any]):
    """The (unfitted) SPoSE or VICE estimator of a spec."""
    from repalign.embeddings.spose import SPoSE
    from repalign.embeddings.vice import VICE

    kwargs = {k: spec[k] for k in TRAINING_KEYS}
    kwargs.update({k: spec[k] for k in MODEL_KEYS[spec["method"]]})
    cls = SPoSE if spec["method"] == "spose" else VICE
    return cls(seed=int(spec["seed"]), **kwargs)


# --- task body ---------------------------------------------------------------------------------
def _accuracy_row(
    name: str, layer: str, dataset: str, X: np.ndarray, triplets: np.ndarray, similarity: str = "dot"
) -> dict[str, Any]:
    from repalign.metrics import odd_one_out_correct

    if X.shape[1] == 0:  # every dimension pruned: all similarities 0, the metric's tie rule applies
        X = np.zeros((X.shape[0], 1))
    correct = odd_one_out_correct(X, triplets, similarity)
    k, n = int(correct.sum()), int(correct.size)
    ci = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return {
        "model": name,
        "layer": layer,
        "dataset": dataset,
        "metric": "odd_one_out_accuracy",
        "value": k / n,
        "ci_low": ci.low,
        "ci_high": ci.high,
        "n": n,
    }


def _human_data(spec: Mapping[str, Any]) -> tuple[tuple[str, ...], np.ndarray, dict[str, np.ndarray]]:
    """(THINGS ids, training triplets, {evaluation set: triplets}) for source = human.
    The ``holdout`` share of test_10 (seeded split by row) is held out whether or not
    test_10 is trained on, so evaluations with the same seed are comparable."""
    from repalign.datasets import load_things_ids, load_triplets

    ids = load_things_ids()
    test = load_triplets("test_10").triplets
    perm = np.random.default_rng(int(spec["seed"])).permutation(len(test))
    n_held = int(round(float(spec["holdout"]) * len(test)))
    held, rest = test[np.sort(perm[:n_held])], test[np.sort(perm[n_held:])]
    parts = [load_triplets("train_90").triplets if s == "train_90" else rest for s in spec["train"]]
    evals = {"test_10_heldout": held, "noise_ceiling": load_triplets("noise_ceiling").triplets}
    return ids, np.concatenate(parts), evals


def _network_data(spec: Mapping[str, Any], emb) -> tuple[tuple[str, ...], np.ndarray, dict[str, np.ndarray]]:
    """Simulated triplets of a representation, split into training and held-out parts;
    when all objects are THINGS concepts, also the human noise-ceiling triplets."""
    from repalign.embeddings.tripletise import tripletise

    tri = tripletise(
        emb.values,
        int(spec["n_triplets"]),
        rule=spec["choice"],
        similarity=spec["similarity"],
        temperature=float(spec["temperature"]),
        seed=int(spec["seed"]),
        variant=spec["variant"],
    )
    n_held = max(1, int(round(float(spec["holdout"]) * len(tri))))
    evals = {"simulated_heldout": tri[:n_held]}
    human = _human_triplets_for(emb.ids)
    if human is not None:
        evals["noise_ceiling"] = human
    return emb.ids, tri[n_held:], evals


def _human_triplets_for(ids: tuple[str, ...]) -> np.ndarray | None:
    """The noise-ceiling triplets re-indexed to ``ids`` when ``ids`` covers every
    object in them; else None (the objects are not THINGS concepts)."""
    from repalign.datasets import load_things_ids, load_triplets

    things = load_things_ids()
    lookup = {s: i for i, s in enumerate(ids)}
    if not set(things).issubset(lookup):
        return None
    rows = np.array([lookup[s] for s in things], dtype=np.int64)
    return rows[load_triplets("noise_ceiling").triplets]


@dataclass(frozen=True)
class EmbedJob:
    """What an embed task runs: one ``[[embed]]`` entry as the plan fixed it. A task
    receives this (picklable) by name (``job``) and nothing else of the config.

    spec: the entry with every default filled in (``embed_spec``; the content key hashes
    it, so it is not changed after the plan); ref: the source representation (None for
    ``source = "human"``); references: {name: Representation, or None for a built-in
    reference}, None for the default (SPoSE-49 for THINGS objects); out_dir: the task's
    output folder; provenance: what the tables record (the key's identity included).
    """

    spec: dict[str, Any]
    ref: Representation | None
    references: dict[str, Representation | None] | None
    out_dir: str
    provenance: dict[str, Any]


def run_embed(job: EmbedJob) -> str:
    """Task body: load or simulate the triplets, fit, evaluate, match, write the tables
    (the embedding last, so that its presence marks a finished task)."""
    spec, ref, references, out_dir, provenance = job.spec, job.ref, job.references, job.out_dir, job.provenance
    from repalign.datasets import Embedding
    from repalign.embeddings.matching import similarity_rsa
    from repalign.metrics.table import metrics_table
    from repalign.store import write_table

    if spec["source"] == "human":
        ids, train, evals = _human_data(spec)
    else:
        source = ref.load()
        ids, train, evals = _network_data(spec, source)
    if references is None:  # default: SPoSE-49 for THINGS objects, else nothing
        from repalign.datasets import load_things_ids

        references = {"spose49": None} if set(ids) <= set(load_things_ids()) else {}
    model = make_model(spec).fit(train, len(ids))
    X = model.embedding_
    name, method = spec["name"], spec["method"]
    rows = [_accuracy_row(name, method, ds, X, t) for ds, t in evals.items()]
    if spec["source"] != "human":  # the representation's own choices on the human triplets
        rows += [
            _accuracy_row(spec["source"], "", ds, source.values, t, spec["similarity"])
            for ds, t in evals.items()
            if ds != "simulated_heldout"
        ]
    pairs = []
    for ref_name, ref_obj in references.items():
        R = _reference_values(ref_name, ref_obj, ids)
        for ds, t in evals.items():
            if ds != "simulated_heldout":
                rows.append(_accuracy_row(ref_name, "", ds, R, t))
        if model.n_dims_ == 0:
            continue  # nothing to match: every dimension was pruned
        rows.append(
            {
                "model": name,
                "layer": method,
                "dataset": ref_name,
                "metric": "similarity_rsa",
                "value": similarity_rsa(X, R),
                "n": len(ids),
            }
        )
        for kind, match in _matchings(X, R, spec["variant"]):
            p = match.pairs.rename(columns={"dim_a": "dim", "dim_b": "reference_dim"})
            if kind != "hungarian":  # greedy: the reference (human) embedding is the base
                p = match.pairs.rename(columns={"dim_a": "reference_dim", "dim_b": "dim"})[
                    ["dim", "reference_dim", "r"]
                ]
            p.insert(0, "matching", kind)
            p.insert(0, "reference", ref_name)
            pairs.append(p)
            metric = "matched_dimension_r" + ("_duplicates" if kind == "greedy_duplicates" else "")
            rows.append(
                {
                    "model": name,
                    "layer": method,
                    "dataset": ref_name,
                    "metric": metric,
                    "value": float(np.nanmean(match.matched_r)),
                    "n": int(len(match.pairs)),
                }
            )
    evaluation = metrics_table(rows)
    matching = (
        pd.concat(pairs, ignore_index=True)
        if pairs
        else pd.DataFrame(
            {
                "reference": pd.Series(dtype=str),
                "matching": pd.Series(dtype=str),
                "dim": pd.Series(dtype="int64"),
                "reference_dim": pd.Series(dtype="int64"),
                "r": pd.Series(dtype="float64"),
            }
        )
    )
    out = Path(out_dir)
    prov = dict(
        provenance,
        n_objects=len(ids),
        n_train_triplets=int(len(train)),
        n_dims=model.n_dims_,
        best_epoch=int(model.best_epoch_),
        epochs=int(len(model.history_)),
        converged=bool(getattr(model, "converged_", False)),
        accuracy={
            r["dataset"]: r["value"] for r in rows if r["model"] == name and r["metric"] == "odd_one_out_accuracy"
        },
    )
    write_table(model.history_, out / "curve.parquet", kind="generic", provenance=prov)
    write_table(evaluation, out / "evaluation.parquet", kind="metrics", provenance=prov)
    write_table(matching, out / "matching.parquet", kind="generic", provenance=prov)
    table = pd.DataFrame({"stimulus_id": list(ids), "embedding": list(X.astype(np.float32))})
    write_table(table, out / "embedding.parquet", kind="embedding", provenance=prov)
    Embedding(ids, X, name)  # validates ids (unique) before the task counts as done
    return str(out / "embedding.parquet")


def _matchings(X: np.ndarray, R: np.ndarray, variant: str):
    """[(kind, DimensionMatch)]: the Hungarian matching of X's dimensions to the
    reference's (default variant), or the paper's greedy matchings in the reference's
    dimension order, without and with duplicates (published)."""
    from repalign.embeddings.matching import match_dimensions

    if variant == "published":
        return [
            ("greedy", match_dimensions(R, X, variant="published")),
            ("greedy_duplicates", match_dimensions(R, X, variant="published", duplicates=True)),
        ]
    return [("hungarian", match_dimensions(X, R))]


def _reference_values(name: str, ref: Representation | None, ids: tuple[str, ...]) -> np.ndarray:
    """A reference embedding's rows for ``ids`` (error naming the missing ids)."""
    if ref is None:  # built-in SPoSE reference
        from repalign.datasets import load_spose

        emb = load_spose(int(name.removeprefix("spose")))
    else:
        emb = ref.load()
    return emb.select(ids).values


# --- plan --------------------------------------------------------------------------------------
def output_dir(config: Config, spec: Mapping[str, Any], key: str) -> Path:
    return config.output / "embed" / f"{spec['name']}-{key}"


def _plan_stage(config: Config, entries: dict, resolved, upstream) -> list[Task]:
    return _plan(config, entries["embed"], resolved.reps)


def _plan(config: Config, entries: Sequence[Any], refs: Mapping[str, Representation]) -> list[Task]:
    """Tasks of the validated [[embed]] ``entries``; ``refs``: the run's representations
    (resolved once by the pipeline)."""
    if not entries:
        return []
    tasks, names = [], set()
    for i, entry in enumerate(entries):
        where = f"{config.path} [[embed]] #{i + 1}"
        spec = embed_spec(entry, where, config.seed)
        if spec["name"] in names:
            raise ValidationError(f"{where}: duplicate embed name {spec['name']!r}")
        names.add(spec["name"])
        needed = ([] if spec["source"] == "human" else [spec["source"]]) + list(spec["compare_to"] or [])
        known = refs
        missing = [n for n in needed if n not in known and (n not in BUILTIN_REFERENCES or n == spec["source"])]
        if missing:
            raise ValidationError(
                f"{where}: unknown representation(s) {missing}; defined: "
                f"{', '.join(sorted(known)) or 'none'} (built-in references: "
                f"{', '.join(BUILTIN_REFERENCES)})"
            )
        ref = known.get(spec["source"]) if spec["source"] != "human" else None
        references = None if spec["compare_to"] is None else {n: known.get(n) for n in spec["compare_to"]}
        identity = {
            "version": _VERSION,
            "spec": spec,
            "source": ref.cache_key if ref is not None else "human",
            "references": None
            if references is None
            else {n: r.cache_key if r is not None else n for n, r in references.items()},
        }
        key = _key(identity)
        out = output_dir(config, spec, key)
        deps = tuple(sorted({d for r in [ref, *(references or {}).values()] if r is not None for d in r.deps}))
        provenance = {"producer": "repalign.embeddings", "stage": "embed", "cache_key": key, **identity}
        tasks.append(
            Task(
                key=f"embed:{spec['name']}:{key}",
                stage="embed",
                outputs=tuple(
                    out / f for f in ("curve.parquet", "evaluation.parquet", "matching.parquet", "embedding.parquet")
                ),
                fn=run_embed,
                kwargs=dict(job=EmbedJob(spec, ref, references, str(out), provenance)),
                deps=deps,
                label=f"{spec['method']} {spec['name']}",
            )
        )
    return tasks


STAGE = Stage("embed", ("embed",), _plan_stage, models={"embed": embed_model}, tasks=(run_embed,))
