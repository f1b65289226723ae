"""Independent units of pipeline work, and the in-process (local) executor.

Every stage turns its config section into ``Task`` objects (``plan_<stage>(config)``).
A task writes its outputs atomically (a temporary file of its own + rename), so a
killed one leaves no output. A task is *done* when every output passes
``repalign.store.check_output``: a Parquet file opens, every page's checksum
matches and its provenance carries the task's key (stamped automatically while ``Task.run`` runs); any other output
sits in a directory sealed by a manifest naming the task and each file's sha256.
An output that exists but fails the check (truncated, damaged, or written for
another key) is reported with a ``StaleOutputWarning`` naming it, removed and
recomputed. A finished task is never redone. The same task list runs in-process (``run_local``) or on a
Dask cluster (``repalign.pipeline``), because tasks carry only picklable data and a
module-level function.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from repalign.errors import RepalignError

# StaleOutputWarning lives in store (the extractor warns with it too); re-exported here
from repalign.store import MANIFEST, StaleOutputWarning, check_output, seal_dir, task_context  # noqa: F401


def content_key(obj: Any) -> str:
    """16-hex-digit sha256 of a JSON-able description of a task's inputs: the
    stable, content-based part of task keys and output file names."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def safe_name(s: str) -> str:
    """The one file-name-safe form of a name (model, layer, stimulus set,
    representation, agent) used in output paths and task keys: each run of
    characters other than ASCII letters, digits, ``_``, ``.`` and ``-`` becomes one
    ``_``, ``_`` at either end is dropped, at most 60 characters, ``"_"`` when
    nothing is left. E.g. ``"lite0/penultimate@mur92"`` → ``"lite0_penultimate_mur92"``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s).strip("_")[:60] or "_"


@dataclass(frozen=True)
class Task:
    """One unit of work.

    key: unique, stable id (content-based where possible, e.g. a cache key);
    stage: "features", "metrics", "learners", "embed", "dynamics", "r" …;
    outputs: files the task writes; fn(*args, **kwargs) must be a module-level
    function (picklable); deps: keys of tasks that must finish first;
    output_keys: per output, the content key its provenance may carry instead of
    the task key (``provenance["cache_key"]``; for files that several tasks write
    identically, e.g. one layer's features).
    """

    key: str
    stage: str
    outputs: tuple[Path, ...]
    fn: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    deps: tuple[str, ...] = ()
    label: str = ""
    output_keys: tuple[str, ...] = ()

    def _check(self, i: int, p: Path) -> str | None:
        return check_output(p, self.key, self.output_keys[i] if i < len(self.output_keys) else None)

    def done(self) -> bool:
        """Every output exists, opens and carries this task's key (``check_output``)."""
        return bool(self.outputs) and all(self._check(i, p) is None for i, p in enumerate(self.outputs))

    def stale_outputs(self) -> list[tuple[Path, str]]:
        """(path, reason) of every output that exists but cannot be used."""
        out = []
        for i, p in enumerate(self.outputs):
            reason = self._check(i, p)
            if reason is not None and reason != "missing":
                out.append((Path(p), reason))
        return out

    def remove_stale(self) -> list[str]:
        """Delete every stale output (and the manifest of a non-Parquet one's
        directory); returns one message per output, naming it and why."""
        out = []
        for p, reason in self.stale_outputs():
            out.append(f"{p}: {reason}; recomputing it (task {self.key})")
            p.unlink(missing_ok=True)
            if p.suffix != ".parquet":
                (p.parent / MANIFEST).unlink(missing_ok=True)
        return out

    def run(self) -> Any:
        """Remove stale outputs (warning naming each), run ``fn`` with this task's key
        stamped into every table it writes, then seal the directories of its
        non-Parquet outputs."""
        for msg in self.remove_stale():
            warnings.warn(msg, StaleOutputWarning, stacklevel=2)
        caught: list = []
        try:
            with task_context(self.key), warnings.catch_warnings(record=True) as caught:
                result = self.fn(*self.args, **self.kwargs)
        finally:  # after the recording ends: passed on to the caller's filters, the task named
            self._name_warnings(caught)
        for d in sorted({Path(p).parent for p in self.outputs if Path(p).suffix != ".parquet"}):
            if d.is_dir():
                seal_dir(d, self.key)
        return result

    def _name_warnings(self, caught: list) -> None:
        """Pass on the warnings raised inside ``fn`` (recorded under the caller's filters)
        with this task named first, e.g. ``learners stimuli-category pixels/output@digits:
        lbfgs failed to converge``: a warning that names no model or task is of no use."""
        who = f"{self.stage} {self.label or self.key}"
        for w in caught:
            text = str(w.message)
            msg = text if text.startswith(who) else f"{who}: {text}"
            try:
                warnings.warn_explicit(msg, w.category, w.filename, w.lineno, source=w.source)
            except Exception:  # a warning class that cannot be built from a message alone
                warnings.warn_explicit(msg, UserWarning, w.filename, w.lineno)

    def missing_outputs(self) -> list[Path]:
        """Declared outputs that are not (or not yet) files."""
        return [Path(p) for p in self.outputs if not Path(p).is_file()]

    def check_outputs(self) -> None:
        """After running: error naming every declared output the task did not write."""
        missing = self.missing_outputs()
        if missing:
            raise MissingOutputs(self, missing)


class MissingOutputs(RepalignError):
    """A task returned without writing every output it declared (e.g. a worker that
    chose another device, and so another cache key and file name, than the plan)."""

    def __init__(self, task: Task, missing: list[Path]):
        self.task, self.missing = task, missing
        super().__init__(
            f"task {task.key!r} ({task.label or task.stage}) finished but did not write "
            f"{len(missing)} of its {len(task.outputs)} declared output(s): " + ", ".join(map(str, missing))
        )


class TaskFailed(RepalignError):
    """One or more tasks failed; ``failures`` maps task key → error text; ``status``
    (where the executor gives it) the status of every task: "done", "skipped",
    "failed: …", "blocked" (a dependency failed) or "not run"."""

    def __init__(self, failures: dict[str, str], status: dict[str, str] | None = None):
        self.failures = failures
        self.status = dict(status) if status is not None else None
        lines = "\n".join(f"  {k}: {v}" for k, v in failures.items())
        super().__init__(f"{len(failures)} task(s) failed:\n{lines}")


def order_tasks(tasks: Sequence[Task]) -> list[Task]:
    """Topological order (stable); error on unknown deps or cycles."""
    by_key = {}
    for t in tasks:
        if t.key in by_key:
            raise RepalignError(f"duplicate task key {t.key!r}")
        by_key[t.key] = t
    out: list[Task] = []
    state: dict[str, int] = {}

    def visit(t: Task, path: tuple[str, ...]) -> None:
        s = state.get(t.key, 0)
        if s == 2:
            return
        if s == 1:
            raise RepalignError(f"task dependency cycle: {' -> '.join(path + (t.key,))}")
        state[t.key] = 1
        for d in t.deps:
            if d not in by_key:
                raise RepalignError(f"task {t.key!r} depends on unknown task {d!r}")
            visit(by_key[d], path + (t.key,))
        state[t.key] = 2
        out.append(t)

    for t in tasks:
        visit(t, ())
    return out


def run_local(
    tasks: Iterable[Task], *, retries: int = 0, progress: bool = True, keep_going: bool = True
) -> dict[str, str]:
    """Run tasks in-process in dependency order; skip tasks already done.

    Returns a status per key ("done", "skipped", "failed: …", "blocked"). Raises
    TaskFailed at the end if any task failed (after running every independent task
    when ``keep_going``; tasks left are "not run"), carrying every status.
    ``retries``: extra attempts of a failing task (≥ 0).
    """
    if retries < 0:  # range(retries + 1) would run nothing and report nothing
        raise ValueError(f"retries must be ≥ 0, got {retries}")
    ordered = order_tasks(list(tasks))
    status: dict[str, str] = {}
    failures: dict[str, str] = {}
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not progress, transient=False) as bar:
        job = bar.add_task("tasks", total=len(ordered))
        for t in ordered:
            if any(status.get(d, "").startswith(("failed", "blocked")) for d in t.deps):
                status[t.key] = "blocked"
                bar.advance(job)
                continue
            if t.done():
                status[t.key] = "skipped"
                bar.advance(job)
                continue
            bar.update(job, description=f"{t.stage}: {t.label or t.key}")
            for attempt in range(retries + 1):
                try:
                    t.run()
                    t.check_outputs()  # a task is done when its declared outputs exist, so check they do
                    status[t.key] = "done"
                    break
                except Exception as exc:  # reported per task, never hidden
                    if attempt == retries:
                        status[t.key] = f"failed: {type(exc).__name__}: {exc}"
                        failures[t.key] = f"{type(exc).__name__}: {exc}"
            bar.advance(job)
            if failures and not keep_going:
                break
    if failures:
        for t in ordered:
            status.setdefault(t.key, "not run")
        raise TaskFailed(failures, status)
    return status
