"""Executors for pipeline tasks: in-process, Dask (LocalCluster or an existing
scheduler) and SLURM through dask-jobqueue.

Tasks (``repalign.task.Task``) are independent, write their outputs atomically
and are skipped when done, so every executor gives the same files: a task that
fails is retried ``retries`` times, then reported; independent tasks go on and
the run ends with ``TaskFailed`` listing every failure.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from rich.console import Console
from rich.live import Live
from rich.table import Table

from repalign.config import Config, parse_section
from repalign.errors import ValidationError
from repalign.pipeline.config import ExecutorSection
from repalign.task import Task, TaskFailed, order_tasks, run_local

EXECUTOR_KEYS = tuple(ExecutorSection.model_fields)


@dataclass
class ExecutorSettings:
    kind: str = "local"
    scheduler: str | None = None
    n_workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "auto"
    retries: int = 1
    gpus_per_worker: int = 0
    slurm: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config | None, **overrides: Any) -> "ExecutorSettings":
        section = dict(config.section("executor", {}) or {}) if config is not None else {}
        section.update({k: v for k, v in overrides.items() if v is not None})
        section = parse_section(ExecutorSection, section, "[executor]").spec(exclude_unset=True)
        kind = section.pop("kind", "local")
        base = {k: section.pop(k) for k in ("scheduler", "n_workers", "threads_per_worker", "memory_limit", "retries", "gpus_per_worker") if k in section}
        return cls(kind=kind, slurm=section, **base)


def _execute(task: Task, *_deps: Any) -> str:
    """Worker-side body: skip a finished task, else run it. ``_deps`` only orders."""
    if task.done():
        return "skipped"
    task.run()
    return "done"


def slurm_cluster(settings: ExecutorSettings):
    """A dask-jobqueue SLURMCluster built from the [executor] section."""
    from dask_jobqueue import SLURMCluster

    s = dict(settings.slurm)
    extra = list(s.pop("job_extra_directives", []))
    if settings.gpus_per_worker:
        extra.append(f"--gres=gpu:{settings.gpus_per_worker}")
    kwargs = dict(
        queue=s.pop("queue", None),
        account=s.pop("account", None),
        cores=int(s.pop("cores", 4)),
        processes=int(s.pop("processes", 1)),
        memory=s.pop("memory", "16GB"),
        walltime=s.pop("walltime", "02:00:00"),
        job_extra_directives=extra,
        local_directory=s.pop("local_directory", None),
        log_directory=s.pop("log_directory", None),
        python=s.pop("python", None),
    )
    max_jobs = s.pop("max_jobs", None)
    host = s.pop("scheduler_host", None)  # address the workers reach the scheduler on
    if host:
        kwargs["scheduler_options"] = {"host": host, "dashboard_address": f"{host}:0"}
    if s:
        raise ValidationError(f"[executor]: keys {sorted(s)} are not used by the slurm executor")
    cluster = SLURMCluster(**{k: v for k, v in kwargs.items() if v is not None})
    if max_jobs:
        cluster.adapt(minimum_jobs=0, maximum_jobs=int(max_jobs))
    return cluster


def run_dask(tasks: Sequence[Task], settings: ExecutorSettings, *, console: Console | None = None,
             progress: bool = True, cluster: Any = None) -> dict[str, str]:
    """Run tasks on Dask: submit each with its dependencies' futures, so Dask's
    scheduler orders them, retries them (``settings.retries``) and reschedules the
    tasks of a worker that dies."""
    from dask.distributed import Client, LocalCluster, as_completed

    console = console or Console(stderr=True)
    ordered = order_tasks(list(tasks))
    own_cluster = None
    if cluster is None and settings.scheduler:
        client = Client(settings.scheduler)
    else:
        if cluster is None:
            if settings.kind == "slurm":
                own_cluster = cluster = slurm_cluster(settings)
            else:
                resources = {"GPU": settings.gpus_per_worker} if settings.gpus_per_worker else None
                own_cluster = cluster = LocalCluster(
                    n_workers=settings.n_workers, threads_per_worker=settings.threads_per_worker,
                    processes=True, memory_limit=settings.memory_limit, host="127.0.0.1",
                    dashboard_address="127.0.0.1:0", resources=resources,
                )
        client = Client(cluster)
    try:
        if client.dashboard_link:
            console.print(f"Dask dashboard: {client.dashboard_link}")
        futures: dict[str, Any] = {}
        for t in ordered:
            deps = [futures[d] for d in t.deps]
            futures[t.key] = client.submit(_execute, t, *deps, key=f"repalign-{t.stage}-{t.key}",
                                           retries=settings.retries, pure=False)
        status: dict[str, str] = {}
        failures: dict[str, str] = {}
        by_future = {f.key: k for k, f in futures.items()}
        started = time.monotonic()

        def table() -> Table:
            running = sum(1 for f in futures.values() if f.status == "pending")
            tab = Table.grid(padding=(0, 2))
            tab.add_row(f"tasks {len(status)}/{len(futures)} finished", f"pending/running {running}",
                        f"failed {len(failures)}", f"{time.monotonic() - started:.0f}s")
            return tab

        live_cm = Live(table(), console=console, refresh_per_second=4) if progress else contextlib.nullcontext()
        with live_cm as live:
            for fut in as_completed(list(futures.values())):
                key = by_future[fut.key]
                if fut.status == "finished":
                    status[key] = fut.result()
                else:
                    exc = fut.exception()
                    msg = f"{type(exc).__name__}: {exc}"
                    # a dependency's failure surfaces here too: call it blocked
                    dep_failed = any(d in failures for d in next(t for t in ordered if t.key == key).deps)
                    status[key] = "blocked" if dep_failed else f"failed: {msg}"
                    if not dep_failed:
                        failures[key] = msg
                if live is not None:
                    live.update(table())
        if failures:
            raise TaskFailed(failures)
        return status
    finally:
        client.close()
        if own_cluster is not None:
            own_cluster.close()


def execute(tasks: Iterable[Task], settings: ExecutorSettings, *, progress: bool = True) -> dict[str, str]:
    """Run tasks with the executor named in ``settings``."""
    tasks = list(tasks)
    if settings.kind == "local" and not settings.scheduler:
        return run_local(tasks, retries=settings.retries, progress=progress)
    return run_dask(tasks, settings, progress=progress)
