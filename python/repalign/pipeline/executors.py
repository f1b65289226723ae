"""Executors for pipeline tasks: in-process, Dask (LocalCluster or an existing
scheduler) and SLURM through dask-jobqueue.

Tasks (``repalign.task.Task``) are independent, write their outputs atomically
and are skipped when done, so every executor gives the same files: a task that
fails is retried ``retries`` times, then reported; independent tasks go on and
the run ends with ``TaskFailed`` listing every failure.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from repalign.children import child_env, clean_environ, shell_prologue
from repalign.config import Config
from repalign.errors import ValidationError
from repalign.pipeline.config import ExecutorSection, executor_section
from repalign.task import StaleOutputWarning, Task, TaskFailed, order_tasks, run_local


def _default(key: str) -> Any:
    return ExecutorSection.model_fields[key].default


@dataclass
class ExecutorSettings:
    """Where and how tasks run; defaults are those of the ``[executor]`` schema
    (``ExecutorSection``), written there once. slurm: the SLURM keys."""

    kind: str = _default("kind")
    scheduler: str | None = _default("scheduler")
    n_workers: int = _default("n_workers")
    threads_per_worker: int = _default("threads_per_worker")
    memory_limit: str = _default("memory_limit")
    retries: int = _default("retries")
    gpus_per_worker: int = _default("gpus_per_worker")
    slurm: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: Config | None, **overrides: Any) -> ExecutorSettings:
        section = executor_section(config, overrides).spec(exclude_unset=True)
        kind = section.pop("kind", "local")
        base = {
            k: section.pop(k)
            for k in ("scheduler", "n_workers", "threads_per_worker", "memory_limit", "retries", "gpus_per_worker")
            if k in section
        }
        return cls(kind=kind, slurm=section, **base)


def _execute(task: Task, *_deps: Any) -> tuple[str, list[str]]:
    """Worker-side body: skip a finished task, else run it and check that it wrote every
    declared output (``MissingOutputs`` names the missing ones). ``_deps`` only orders.
    Returns the status and the stale-output warnings, which the client re-issues
    (a worker's own warnings end up in its log only)."""
    if task.done():
        return "skipped", []
    stale = task.remove_stale()  # before run(), which then finds nothing stale
    task.run()
    task.check_outputs()
    return "done", stale


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
        # a job inherits this process's environment: undo what an embedded R changed in it
        job_script_prologue=shell_prologue() + list(s.pop("job_script_prologue", [])),
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


class SlurmJobs:
    """Watches the SLURM jobs of a dask-jobqueue cluster from a background thread.

    Records every job id the cluster submitted (``started``) and the final state
    SLURM gives each one (``squeue -t all``: COMPLETED, CANCELLED, TIMEOUT …), and
    prints a line as soon as a job ends other than by the cluster's own scale-down,
    so that a worker lost to its walltime or to ``scancel`` is reported as such.
    """

    FINAL = (
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "TIMEOUT",
        "NODE_FAIL",
        "PREEMPTED",
        "OUT_OF_MEMORY",
        "BOOT_FAIL",
        "DEADLINE",
    )

    def __init__(self, cluster: Any, console: Console, walltime: str | None, interval: float = 2.0):
        self.cluster, self.console, self.walltime, self.interval = cluster, console, walltime, interval
        self.started: list[str] = []
        self.state: dict[str, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="repalign-slurm-jobs", daemon=True)

    def __enter__(self) -> SlurmJobs:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def poll(self) -> None:
        for job in list(getattr(self.cluster, "workers", {}).values()):
            jid = getattr(job, "job_id", None)
            if jid and jid not in self.started:
                self.started.append(str(jid))
        open_ids = [j for j in self.started if self.state.get(j) not in self.FINAL]
        if not open_ids:
            return
        try:
            out = subprocess.run(
                ["squeue", "-h", "-t", "all", "-o", "%i %T", "-j", ",".join(open_ids)],
                capture_output=True,
                text=True,
                timeout=30,
                env=child_env(),
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return
        for line in out.splitlines():
            jid, _, state = line.strip().partition(" ")
            if jid in open_ids and state and self.state.get(jid) != state:
                self.state[jid] = state
                if state == "TIMEOUT":
                    self.console.print(
                        f"[yellow]SLURM job {jid} exceeded its walltime ({self.walltime}); "
                        "Dask retries its tasks on another worker[/yellow]"
                    )
                elif state in ("CANCELLED", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY", "FAILED"):
                    self.console.print(f"[yellow]SLURM job {jid} ended: {state}[/yellow]")

    def timed_out(self) -> list[str]:
        self.poll()
        return [j for j in self.started if self.state.get(j) == "TIMEOUT"]


def _failure_reason(exc: BaseException, jobs: SlurmJobs | None) -> str:
    """One line for a failed task; a worker lost to the SLURM walltime says so."""
    msg = f"{type(exc).__name__}: {exc}"
    if jobs is not None and type(exc).__name__ == "KilledWorker":
        late = jobs.timed_out()
        if late:
            msg = (
                f"SLURM walltime exceeded: worker job(s) {', '.join(late)} ran past walltime {jobs.walltime} "
                f"(state TIMEOUT) while running this task; it was tried {1 + _allowed_failures()} time(s). "
                "Raise [executor] walltime or split the task. (" + msg + ")"
            )
    return msg


def _allowed_failures() -> int:
    import dask

    return int(dask.config.get("distributed.scheduler.allowed-failures"))


def run_dask(
    tasks: Sequence[Task],
    settings: ExecutorSettings,
    *,
    console: Console | None = None,
    progress: bool = True,
    cluster: Any = None,
) -> dict[str, str]:
    """Run tasks on Dask: submit each with its dependencies' futures, so Dask's
    scheduler orders them, retries them (``settings.retries``) and reschedules the
    tasks of a worker that dies. Worker processes (and re-spawned ones) start with a
    clean environment (``repalign.children.clean_environ``)."""
    with clean_environ():
        return _run_dask(tasks, settings, console=console, progress=progress, cluster=cluster)


def _run_dask(
    tasks: Sequence[Task],
    settings: ExecutorSettings,
    *,
    console: Console | None = None,
    progress: bool = True,
    cluster: Any = None,
) -> dict[str, str]:
    import dask
    from dask.distributed import Client, LocalCluster, as_completed

    console = console or Console(stderr=True)
    ordered = order_tasks(list(tasks))
    own_cluster = None
    jobs: SlurmJobs | None = None
    # A task whose worker dies (killed, scancel-ed, over its walltime) is rescheduled; after
    # `retries` such losses it fails with KilledWorker instead of being retried forever.
    config_cm = dask.config.set({"distributed.scheduler.allowed-failures": int(settings.retries)})
    config_cm.__enter__()
    if cluster is None and settings.scheduler:
        client = Client(settings.scheduler)
    else:
        if cluster is None:
            if settings.kind == "slurm":
                own_cluster = cluster = slurm_cluster(settings)
            else:
                resources = {"GPU": settings.gpus_per_worker} if settings.gpus_per_worker else None
                own_cluster = cluster = LocalCluster(
                    n_workers=settings.n_workers,
                    threads_per_worker=settings.threads_per_worker,
                    processes=True,
                    memory_limit=settings.memory_limit,
                    host="127.0.0.1",
                    dashboard_address="127.0.0.1:0",
                    resources=resources,
                )
        client = Client(cluster)
        if settings.kind == "slurm" or type(cluster).__name__ == "SLURMCluster":
            jobs = SlurmJobs(cluster, console, settings.slurm.get("walltime", "02:00:00")).__enter__()
    try:
        if client.dashboard_link:
            console.print(f"Dask dashboard: {client.dashboard_link}")
        futures: dict[str, Any] = {}
        for t in ordered:
            deps = [futures[d] for d in t.deps]
            futures[t.key] = client.submit(
                _execute, t, *deps, key=f"repalign-{t.stage}-{t.key}", retries=settings.retries, pure=False
            )
        status: dict[str, str] = {}
        failures: dict[str, str] = {}
        by_future = {f.key: k for k, f in futures.items()}
        started = time.monotonic()

        def table() -> Table:
            running = sum(1 for f in futures.values() if f.status == "pending")
            tab = Table.grid(padding=(0, 2))
            tab.add_row(
                f"tasks {len(status)}/{len(futures)} finished",
                f"pending/running {running}",
                f"failed {len(failures)}",
                f"{time.monotonic() - started:.0f}s",
            )
            return tab

        live_cm = Live(table(), console=console, refresh_per_second=4) if progress else contextlib.nullcontext()
        with live_cm as live:
            for fut in as_completed(list(futures.values())):
                key = by_future[fut.key]
                if fut.status == "finished":
                    status[key], stale = fut.result()
                    for msg in stale:
                        warnings.warn(msg, StaleOutputWarning, stacklevel=2)
                else:
                    exc = fut.exception()
                    msg = _failure_reason(exc, jobs)
                    # a dependency's failure surfaces here too: call it blocked
                    dep_failed = any(d in failures for d in next(t for t in ordered if t.key == key).deps)
                    status[key] = "blocked" if dep_failed else f"failed: {msg}"
                    if not dep_failed:
                        failures[key] = msg
                if live is not None:
                    live.update(table())
        if failures:
            raise TaskFailed(failures, status)
        return status
    finally:
        if jobs is not None:
            jobs.__exit__(None, None, None)
            console.print(f"SLURM jobs started: {len(jobs.started)}")
        client.close()
        if own_cluster is not None:
            own_cluster.close()  # cancels every job it still has
        config_cm.__exit__(None, None, None)


def execute(tasks: Iterable[Task], settings: ExecutorSettings, *, progress: bool = True) -> dict[str, str]:
    """Run tasks with the executor named in ``settings``."""
    tasks = list(tasks)
    if settings.kind == "local" and not settings.scheduler:
        return run_local(tasks, retries=settings.retries, progress=progress)
    return run_dask(tasks, settings, progress=progress)
