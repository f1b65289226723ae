"""``[dynamics]`` config section → pipeline tasks (the registered planner, ``STAGE``;
``repalign.pipeline.plan.plan_stage(config, "dynamics")`` plans this stage alone) and
the module-level task functions they run.

Outputs (content-keyed, written atomically) under ``<output>/dynamics/``::

    trials-observed-<key>.parquet     dynamics table of the Huber et al. agents
    trials-<name>-<key>.parquet       dynamics table of one simulated agent
    <key>/curves.parquet              accuracy_summary (all runs)
    <key>/objects.parquet             accuracy_by_object (all runs)
    <key>/lag.parquet                 generalisation_lag (run selection applied)
    <key>/efficiency.parquet          data_efficiency (run selection applied)
    <key>/glmm/…                      R GLMM tidy table + figures (glmm = true)

The section arrives validated (``DynamicsSection``); each task receives, by name, a
frozen ``DynamicsJob`` (the section and the trial tables the plan fixed) and the paths
it writes, nothing else of the config.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from repalign.config import Config, parse_section
from repalign.datasets.registry import files
from repalign.dynamics.config import DynamicsSection
from repalign.dynamics.curves import (
    accuracy_by_object,
    accuracy_summary,
    data_efficiency,
    generalisation_lag,
)
from repalign.dynamics.table import check_dynamics_table, load_dynamics_table
from repalign.errors import ValidationError
from repalign.stages import Stage
from repalign.store import read_table, write_table
from repalign.task import Task
from repalign.task import content_key as _key

SECTION_KEYS = tuple(DynamicsSection.model_fields)
ANALYSES = ("curves", "objects", "lag", "efficiency")
_VERSION = "1"  # bump when an output's definition changes


def dynamics_params(section: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validated analysis parameters of a ``[dynamics]`` section, defaults filled in."""
    # (a Python caller may pass tuples, e.g. HUMAN_LEARNERS; a config file holds lists)
    section = {k: list(v) if isinstance(v, tuple) else v for k, v in dict(section or {}).items() if k != "simulate"}
    return section_params(parse_section(DynamicsSection, section, "[dynamics]"))


def section_params(section: DynamicsSection) -> dict[str, Any]:
    """The analysis parameters of a validated ``[dynamics]`` section (its keys but ``simulate``)."""
    return {k: list(v) if isinstance(v, list) else v for k, v in section.spec().items() if k != "simulate"}


@dataclass(frozen=True)
class DynamicsJob:
    """What a dynamics task runs: the validated, frozen ``[dynamics]`` section and the
    values the plan fixed for it. A task receives this (picklable) by name and nothing
    else of the config.

    section: the ``DynamicsSection`` (agents, analysis parameters, glmm, glmm_nagq);
    trial_paths: the dynamics tables (parquet paths, observed and simulated agents) the
    analyses and the GLMM read, in plan order (empty for the observed-trials task).
    """

    section: DynamicsSection
    trial_paths: tuple[str, ...] = ()

    @property
    def params(self) -> dict[str, Any]:
        """The analysis parameters (``section_params``: every key but ``simulate``)."""
        return section_params(self.section)


def analyse(table: pd.DataFrame, params: Mapping[str, Any] | None = None) -> dict[str, pd.DataFrame]:
    """All four analyses of one trial table: {"curves", "objects", "lag", "efficiency"}."""
    p = dynamics_params({k: v for k, v in (params or {}).items() if k in SECTION_KEYS and k != "simulate"})
    runs = {"human": p["human_runs"]} if p["human_runs"] else None
    return {
        "curves": accuracy_summary(table),
        "objects": accuracy_by_object(table),
        "lag": generalisation_lag(table, runs, n_trials=p["chance_trials"], p=p["chance_p"], level=p["chance_level"]),
        "efficiency": data_efficiency(table, runs, n_train=p["n_train"], baseline=p["efficiency_baseline"]),
    }


# --- task functions (module level: picklable) -------------------------------------------------


def write_observed_trials(job: DynamicsJob, path: str, provenance: Mapping[str, Any]) -> str:
    """Task: the Huber et al. trials of the section's ``agents`` as one dynamics table at ``path``."""
    write_table(load_dynamics_table(tuple(job.section.agents)), path, "dynamics", provenance)
    return path


def read_trials(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Concatenate dynamics tables; an agent present in two tables is an error."""
    frames, owner = [], {}
    for path in paths:
        df = check_dynamics_table(read_table(path, kind="dynamics"), where=str(path))
        for agent in df["agent"].unique():
            if agent in owner:
                raise ValidationError(f"agent {agent!r} appears in both {owner[agent]} and {path}")
            owner[agent] = path
        frames.append(df)
    if not frames:
        raise ValidationError("no dynamics tables given")
    return pd.concat(frames, ignore_index=True)


def write_analyses(job: DynamicsJob, outdir: str, provenance: Mapping[str, Any]) -> dict[str, str]:
    """Task: curves / objects / lag / efficiency tables of the job's trial tables, into ``outdir``."""
    results = analyse(read_trials(job.trial_paths), job.params)
    # Written in a fixed order with lag last: the task counts as done when all exist.
    out = {}
    for name in ANALYSES:
        out[name] = str(write_table(results[name], Path(outdir) / f"{name}.parquet", "generic", provenance))
    return out


def fit_glmm(job: DynamicsJob, outdir: str, lag_path: str | None = None) -> str:
    """Task: the R GLMM report (``repalign.r.dynamics_report``) on the job's trial
    tables, with the section's ``glmm_nagq`` (0: penalised IRLS, 1: Laplace).

    Writes ``glmm.csv`` (tidy fixed effects), ``slopes.csv``, ``curves.pdf`` and
    ``lag.pdf`` into ``outdir``, atomically (a temporary folder renamed into place);
    needs R and the installed R package (``make install-rpkg``)."""
    from repalign.r import dynamics_report
    from repalign.store import publish_dir, temp_name

    trials = read_trials(job.trial_paths)
    lag = read_table(lag_path) if lag_path else None
    out = Path(outdir)
    tmp = temp_name(out)
    tmp.mkdir(parents=True)
    try:
        dynamics_report(trials, tmp, nagq=job.section.glmm_nagq, lag=lag)
        publish_dir(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return str(out / "glmm.csv")


# --- the plan ---------------------------------------------------------------------------------


def _plan_stage(config: Config, entries: dict, resolved, upstream) -> list[Task]:
    return _plan(config, entries["dynamics"] or DynamicsSection())  # validated by check_study


def _plan(config: Config, section: DynamicsSection) -> list[Task]:
    """Tasks of the validated ``[dynamics]`` section: observed trials, one task per
    simulated agent (``plan_simulations``), the Python analyses and (``glmm = true``)
    the R GLMM."""
    sims = section.simulate
    params = section_params(section)
    root = config.output / "dynamics"
    tasks: list[Task] = []
    trial_tasks: list[Task] = []
    if params["agents"]:
        inputs = sorted(
            f.sha256
            for f in files("learning-dynamics")
            if f.path in {f"data/{a}_classification_data.csv" for a in params["agents"]}
        )
        key = _key({"v": _VERSION, "agents": params["agents"], "inputs": inputs})
        prov = {
            "producer": "repalign.dynamics.write_observed_trials",
            "agents": params["agents"],
            "inputs_sha256": inputs,
            "key": key,
        }
        path = root / f"trials-observed-{key}.parquet"
        trial_tasks.append(
            Task(
                f"dynamics:trials:observed:{key}",
                "dynamics",
                (path,),
                write_observed_trials,
                kwargs=dict(job=DynamicsJob(section), path=str(path), provenance=prov),
                label="observed trials",
            )
        )
    if sims:
        from repalign.dynamics.simulate import plan_simulations  # needs learners/features

        planned = plan_simulations(sims, config, root)
        tasks.extend(t for t in planned if t.stage != "dynamics")  # the features tasks they read
        trial_tasks.extend(t for t in planned if t.stage == "dynamics")
    if not trial_tasks:
        raise ValidationError("[dynamics]: nothing to analyse (agents = [] and no [[dynamics.simulate]])")
    tasks.extend(trial_tasks)
    trial_paths = [str(t.outputs[0]) for t in trial_tasks]
    deps = tuple(t.key for t in trial_tasks)
    akey = _key(
        {
            "v": _VERSION,
            "trials": [t.key for t in trial_tasks],
            "params": {k: v for k, v in params.items() if k not in ("agents", "glmm")},
        }
    )
    outdir = root / akey
    job = DynamicsJob(section, tuple(trial_paths))
    prov = {"producer": "repalign.dynamics.write_analyses", "params": params, "trials": trial_paths, "key": akey}
    analyses = Task(
        f"dynamics:analyses:{akey}",
        "dynamics",
        tuple(outdir / f"{n}.parquet" for n in ANALYSES),
        write_analyses,
        kwargs=dict(job=job, outdir=str(outdir), provenance=prov),
        deps=deps,
        label="curves, lag, efficiency",
    )
    tasks.append(analyses)
    if params["glmm"]:
        from repalign.rlib import r_code_key

        glmm_dir = outdir / f"glmm-nagq{params['glmm_nagq']}"
        gkey = _key({"analyses": akey, "nagq": params["glmm_nagq"], "r_code": r_code_key()})
        tasks.append(
            Task(
                f"dynamics:glmm:{gkey}",
                "dynamics",
                (glmm_dir / "glmm.csv",),
                fit_glmm,
                kwargs=dict(job=job, outdir=str(glmm_dir), lag_path=str(outdir / "lag.parquet")),
                deps=deps + (analyses.key,),
                label="R GLMM",
            )
        )
    return tasks


def analysis_outputs(tasks: Sequence[Task]) -> dict[str, Path]:
    """Paths of the analysis tables (and the GLMM table, if planned) of a plan."""
    out: dict[str, Path] = {}
    for t in tasks:
        if t.key.startswith("dynamics:analyses:"):
            out.update({p.stem: p for p in t.outputs})
        elif t.key.startswith("dynamics:glmm:"):
            out["glmm"] = t.outputs[0]
    return out


STAGE = Stage(
    "dynamics",
    ("dynamics",),
    _plan_stage,
    models={"dynamics": DynamicsSection},
    tasks=(write_observed_trials, write_analyses, fit_glmm),
)
