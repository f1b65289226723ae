"""The task of a metric over several agents' decisions (classification, shape bias, own
classification): two Parquet tables under ``<output>/metrics``, keyed by the entry and
the agents, depending on every agent's representation."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from repalign.config import Config
from repalign.task import Task


def decisions_task(
    config: Config,
    family: str,
    key: str,
    label: str,
    stems: tuple[str, str],
    run: Callable[..., Any],
    producer: str,
    *,
    entry: Any,
    agents: Sequence[Any],
    provenance: Mapping[str, Any],
    title: str,
    **kwargs: Any,
) -> Task:
    """Task ``metrics:<family>:<key>`` writing ``<stem>-<label>-<key>.parquet`` for each of
    ``stems``; ``run`` receives ``entry``, ``agents``, ``paths``, ``provenance`` and ``kwargs``
    by name. The provenance is the producer, the entry's values, the key, then ``provenance``
    (in that order: it is written into the tables); the deps are the agents'
    representations' tasks, each once; ``title`` labels the task (progress, report)."""
    root = config.output / "metrics"
    paths = tuple(root / f"{stem}-{label}-{key}.parquet" for stem in stems)
    prov = {"producer": producer, "spec": entry.spec_fields(), "key": key, **provenance}
    deps = tuple(dict.fromkeys(d for a in agents for d in a.representation.deps))
    return Task(
        f"metrics:{family}:{key}",
        "metrics",
        paths,
        run,
        kwargs=dict(entry=entry, **kwargs, agents=tuple(agents), paths=tuple(map(str, paths)), provenance=prov),
        deps=deps,
        label=f"{title} {label}",
    )
