"""A ``[[metrics]]`` entry's own human data, resolved when the run is planned.

An entry names its files (``rdms``, ``triplets``, ``decisions``) and, with ``dataset``,
the stimulus set whose ids they use; separation takes its labels from a stimulus set's
label column. ``resolve_own`` reads and checks everything before any task runs (one
line naming the file, column, id: repalign.datasets.own) and returns an ``OwnHuman``:
the checked data themselves (small, picklable: a task carries them) and a content key
(the files' bytes, never their path) that goes into the task's key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from repalign.config import Config
from repalign.errors import ValidationError

#: how a model decides on an own decisions file (repalign.metrics.own_classification)
DECIDE = ("nearest_mean", "imagenet16")
#: metric → its own-data key
OWN_FILE_KEY = {"rsa": "rdms", "odd_one_out": "triplets", "noise_ceiling": "triplets", "classification": "decisions"}


@dataclass(frozen=True)
class OwnHuman:
    """kind: "rdms" (``data``: SubjectRDMs) | "triplets" (Triplets) | "decisions"
    (DataFrame) | "labels" (tuple of (stimulus id, label)); set_name: the stimulus set;
    key: content key of the data; n: how many rows / stimuli / subjects, for messages."""

    kind: str
    data: Any
    set_name: str
    key: str
    label: str = ""  # the label column (separation)


def uses_own(spec: Mapping[str, Any]) -> bool:
    """Whether an entry brings its own human data (a file, or a [[stimuli]] set's labels)."""
    key = OWN_FILE_KEY.get(spec["metric"])
    return (key is not None and spec.get(key) is not None) or (
        spec["metric"] == "separation" and spec["dataset"] not in ("mur92", "things")
    )


def check_own_entry(entry: Mapping[str, Any], spec: Mapping[str, Any], where: str) -> None:
    """Checks of the entry alone (no files read): a file needs ``dataset`` = a stimulus set name."""
    m = spec["metric"]
    key = OWN_FILE_KEY.get(m)
    if key is None or spec.get(key) is None:
        if m == "classification" and spec.get("decide") is not None:
            raise ValidationError(
                f"{where}: decide says how models decide on your own decisions file; give the file "
                'with decisions = "<file>"'
            )
        if m == "rsa" and spec.get("ids_file") is not None:
            raise ValidationError(f'{where}: ids_file names the ids of .npy RDMs; give the RDMs with rdms = "<file>"')
        return
    if "dataset" not in entry or not isinstance(entry["dataset"], str) or not entry["dataset"]:
        raise ValidationError(
            f'{where} ({m}): {key} = {spec[key]!r} needs dataset = "<the [[stimuli]] set whose ids '
            f'the file uses>" (or "things" for THINGS concept ids)'
        )
    if spec.get("variant", "default") == "published":
        raise ValidationError(
            f'{where} ({m}): variant = "published" reproduces a paper\'s data; leave it out with {key}'
        )
    if m == "classification" and spec.get("decide", "nearest_mean") not in DECIDE:
        raise ValidationError(f"{where} (classification): decide = {spec['decide']!r}; valid: {', '.join(DECIDE)}")


def stimulus_ids(config: Config, name: str, where: str) -> tuple[tuple[str, ...], Any]:
    """(ids, labels table or None) of the stimulus set ``name``: a [[stimuli]] name or "things"."""
    from repalign.features.plan import stimulus_sets

    stim, skipped = stimulus_sets(config)
    if name in stim:
        s = stim[name][1]
        return tuple(s.ids), s.labels
    if name == "things":
        from repalign.datasets.things import load_things_ids

        return load_things_ids(), None
    hint = " (an optional set not available here)" if name in skipped else ""
    raise ValidationError(
        f"{where}: dataset = {name!r} is no stimulus set{hint}; use one of: {', '.join(list(stim) + ['things'])}"
    )


def resolve_own(spec: Mapping[str, Any], config: Config, where: str) -> OwnHuman:
    """Read and check the entry's own human data against its stimulus set (see the module doc)."""
    from repalign.datasets import own

    m, name = spec["metric"], spec["dataset"]
    ids, labels = stimulus_ids(config, name, where)
    try:
        if m == "rsa":
            files = spec["rdms"] if isinstance(spec["rdms"], list) else [spec["rdms"]]
            paths = [config.resolve(f) for f in files]
            ids_file = config.resolve(spec["ids_file"]) if spec.get("ids_file") else None
            data = own.read_rdms(paths, ids, name, ids_file, source=name)
            key = own.file_key(paths + ([ids_file] if ids_file else []))
            return OwnHuman("rdms", data, name, key)
        if m in ("odd_one_out", "noise_ceiling"):
            path = config.resolve(spec["triplets"])
            data = own.read_triplets(path, ids, name, source=name)
            if m == "noise_ceiling" and own.repeated_triplets(data) == 0:
                raise ValidationError(
                    f"human triplet file {path}: no triplet is answered twice (by one participant "
                    "or several); a noise ceiling needs repeated triplets"
                )
            return OwnHuman("triplets", data, name, own.file_key([path]))
        if m == "classification":
            path = config.resolve(spec["decisions"])
            lab = (
                None
                if labels is None or "category" not in labels.columns
                else dict(zip(map(str, labels.index), map(str, labels["category"])))
            )
            data = own.read_decisions(path, ids, name, lab)
            from repalign.task import content_key

            return OwnHuman(
                "decisions",
                data,
                name,
                own.file_key([path]) + content_key(sorted(set(zip(data["stimulus_id"], data["category"])))),
            )
    except ValidationError as exc:
        raise ValidationError(f"{where} ({m}): {exc}") from None
    # separation: a stimulus set's label column
    col = spec["labels"]
    if labels is None or col not in labels.columns:
        valid = ", ".join(map(str, labels.columns)) if labels is not None else "none"
        raise ValidationError(
            f"{where} (separation): stimulus set {name!r} has no label column {col!r}; its labels: {valid}"
        )
    pairs = tuple(zip(map(str, labels.index), map(str, labels[col])))
    blank = [i for i, v in pairs if not v.strip() or v == "nan"]
    if blank:
        raise ValidationError(
            f"{where} (separation): {len(blank)} stimulus id(s) of {name!r} have no {col!r} "
            f"(a folder set: images outside any sub-folder), first {blank[:3]}; move them into "
            "a sub-folder per class"
        )
    classes = {v for _, v in pairs}
    if len(classes) < 2:
        raise ValidationError(
            f"{where} (separation): stimulus set {name!r} has {len(classes)} value(s) of {col!r} "
            f"({', '.join(map(repr, sorted(classes)))}); separation needs at least 2 classes "
            "(a folder set: one sub-folder per class)"
        )
    if max(sum(v == c for _, v in pairs) for c in classes) < 2:
        raise ValidationError(
            f"{where} (separation): every class of {col!r} in {name!r} has one stimulus; "
            "separation needs a class with at least 2"
        )
    from repalign.task import content_key

    return OwnHuman("labels", pairs, name, content_key(pairs), col)
