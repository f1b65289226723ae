"""A ``[[metrics]]`` entry's own human data, resolved when the run is planned.

An entry names its files (``rdms``, ``triplets``, ``decisions``) and, with ``dataset``,
the stimulus set whose ids they use; separation takes its labels from a stimulus set's
label column. ``resolve_own`` reads and checks everything before any task runs (one
line naming the file, column, id: repalign.datasets.own) and returns an ``OwnHuman``:
the checked data themselves (small, picklable: a task carries them) and a content key
(the files' bytes, never their path) that goes into the task's key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from repalign.config import Config
from repalign.errors import ValidationError
from repalign.metrics.config import OWN_FILE_KEY

if TYPE_CHECKING:
    from repalign.metrics.config import MetricEntry


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


def uses_own(entry: MetricEntry) -> bool:
    """Whether an entry brings its own human data (a file, or a [[stimuli]] set's labels).
    (The keys that go with a file are checked by the entry's model, repalign.metrics.config.)"""
    key = OWN_FILE_KEY.get(entry.metric)
    return (key is not None and getattr(entry, key) is not None) or (
        entry.metric == "separation" and entry.dataset not in ("mur92", "things")
    )


def stimulus_ids(resolved: Any, name: str, where: str) -> tuple[tuple[str, ...], Any]:
    """(ids, labels table or None) of the stimulus set ``name``: a [[stimuli]] name among
    the run's loaded sets (``resolved``: repalign.representations.resolve.Resolved) or "things"."""
    stim, skipped = getattr(resolved, "stimuli", {}), getattr(resolved, "skipped", frozenset())
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


def resolve_own(entry: MetricEntry, config: Config, where: str, resolved: Any) -> OwnHuman:
    """Read and check the entry's own human data against its stimulus set (see the module
    doc), one of the run's loaded sets (``resolved``: repalign.representations.resolve.Resolved)."""
    from repalign.datasets import own

    m, name = entry.metric, entry.dataset
    ids, labels = stimulus_ids(resolved, name, where)
    try:
        if m == "rsa":
            files = entry.rdms if isinstance(entry.rdms, list) else [entry.rdms]
            paths = [config.resolve(f) for f in files]
            ids_file = config.resolve(entry.ids_file) if entry.ids_file else None
            data = own.read_rdms(paths, ids, name, ids_file, source=name)
            key = own.file_key(paths + ([ids_file] if ids_file else []))
            return OwnHuman("rdms", data, name, key)
        if m in ("odd_one_out", "noise_ceiling"):
            path = config.resolve(entry.triplets)
            data = own.read_triplets(path, ids, name, source=name)
            if m == "noise_ceiling" and own.repeated_triplets(data) == 0:
                raise ValidationError(
                    f"human triplet file {path}: no triplet is answered twice (by one participant "
                    "or several); a noise ceiling needs repeated triplets"
                )
            return OwnHuman("triplets", data, name, own.file_key([path]))
        if m == "classification":
            path = config.resolve(entry.decisions)
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
    col = entry.labels
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
