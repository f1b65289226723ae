"""Simulated agents: repalign's multiclass learner (``repalign.learners``) reading a
model's image features on the same training sequences and test sets as a human
participant or a fine-tuning run, written as a ``dynamics`` table so that it goes
through the same curves, lag and GLMM code as humans and networks.

A simulated run replays one run of a *source* agent (default: each human
participant): per epoch the 36 training images in that run's order, each
predicted and then learned from, then that epoch's 51 test images, predicted
only. The learner is deterministic, so runs differ only by their sequences.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from repalign.config import Config, parse_section
from repalign.datasets import Embedding
from repalign.datasets.learning_dynamics import AGENTS, load_learning_dynamics
from repalign.datasets.registry import files
from repalign.dynamics.config import SimulateEntry
from repalign.dynamics.table import DYNAMICS_COLUMNS, check_dynamics_table, dynamics_table_from
from repalign.errors import ValidationError
from repalign.store import write_table
from repalign.task import Task, safe_name

#: Extra columns of a simulated table (beyond ``DYNAMICS_COLUMNS``).
SIM_COLUMNS = ("source_agent", "source_prediction", "model", "layer", "prob_p", "prob_q", "prob_v", "value")
_VERSION = "1"


@contextmanager
def torch_threads(n: int | None):
    """Run the block with ``n`` torch intra-op threads (None: leave as is)."""
    import torch

    old = torch.get_num_threads()
    if n is not None:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def simulate_dynamics(
    features: Embedding,
    agent: str,
    sequences: str = "human",
    runs: Sequence[int] | None = None,
    C: float = 1.0,
    pca: int | None = None,
    device: str | None = None,
    batch_size: int = 16,
    model: str = "",
    layer: str = "",
    threads: int | None = 1,
) -> pd.DataFrame:
    """Run ``MulticlassLearner(C, pca)`` on ``features`` over the sequences of
    ``sequences``' runs (default: all) and return a ``dynamics`` table.

    features: an ``Embedding`` keyed by learning-dynamics image ids
    (``second_gen_p_3_z_90``; all 342 images, e.g. ``repalign.features.extract``
    on ``load_stimulus_set({"source": "learning-dynamics"})``). agent: the name of
    the simulated agent (``agent_type`` "learner"). The result has the columns of
    ``DYNAMICS_COLUMNS`` — every stimulus column copied from the source trials —
    plus ``SIM_COLUMNS``: the source's own answer, the learner's class
    probabilities and ``value`` (probability of the true class).

    threads: torch CPU threads while the learner runs. Default 1: each of its
    ~216 sequential fits is a small Newton problem, where intra-op threads only add
    synchronisation; on a loaded 2-core machine 2 threads were ~20x slower than 1
    (52 s vs 2.7 s for one run on 5-d features). None keeps torch's setting.
    """
    from repalign.learners import MulticlassLearner, huber_tasks  # later stage, imported when used

    if sequences not in AGENTS:
        raise ValidationError(f"sequences: unknown agent {sequences!r}; known: {', '.join(AGENTS)}")
    if agent in AGENTS:
        raise ValidationError(f"simulated agent name {agent!r} clashes with an observed agent; choose another name")
    data = load_learning_dynamics((sequences,))
    tasks = huber_tasks(data, agent=sequences, runs=list(runs) if runs is not None else None)
    learner = MulticlassLearner(
        C=float(C), pca=None if pca is None else int(pca), batch_size=int(batch_size), device=device
    )
    with torch_threads(threads):
        sim = learner.simulate(tasks, features, model=model, layer=layer)
    run_of_task = {t.task_id: int(t.task_id.rsplit("run", 1)[1]) for t in tasks}
    sim["run"] = sim["task"].map(run_of_task).astype(np.int64)

    # The learner saw each run's trials ordered by epoch, train before test, file order
    # within (huber_tasks); order the source trials the same way and align row by row.
    source = dynamics_table_from(data.trials)
    source = source[source["run"].isin(set(run_of_task.values()))]
    source = source.assign(_ph=(source["phase"] == "test").astype(int), _row=np.arange(len(source)))
    source = source.sort_values(["run", "epoch", "_ph", "_row"], kind="stable")
    sim = sim.sort_values(["run", "trial"], kind="stable")
    if len(sim) != len(source) or not np.array_equal(
        sim["stimulus_id"].to_numpy(dtype=str) + ".png", source["image_name"].to_numpy(dtype=str)
    ):
        raise ValidationError(
            "simulated trials do not line up with the source trials "
            f"(agent {sequences!r}); repalign.learners.huber_tasks changed its order"
        )
    out = source.drop(columns=["_ph", "_row"]).reset_index(drop=True)
    out["source_agent"] = sequences
    out["source_prediction"] = out["prediction"]
    out["agent"] = agent
    out["agent_type"] = "learner"
    out["prediction"] = sim["prediction"].to_numpy(dtype=str)
    out["correct"] = sim["correct"].to_numpy(dtype=bool)
    out["model"] = model
    out["layer"] = layer
    for c in ("p", "q", "v"):
        out[f"prob_{c}"] = sim[f"prob_{c}"].to_numpy(dtype=np.float64)
    out["value"] = sim["value"].to_numpy(dtype=np.float64)
    out = out[list(DYNAMICS_COLUMNS) + list(SIM_COLUMNS)]
    return check_dynamics_table(out, where=f"simulated agent {agent!r}")


@dataclass(frozen=True)
class SimulateJob:
    """What one simulated-agent task runs: its validated, frozen
    ``[[dynamics.simulate]]`` entry and the values the plan fixed for it, received by
    name (picklable; nothing else of the config).

    entry: the ``SimulateEntry``; name: the agent's name (the entry's, or
    ``learner:<model or file stem>``); features_path: the features file the learner
    reads (the entry's file, resolved, or the one its features task writes); model,
    layer: the names the table gives the features (a file's own metadata wins).
    """

    entry: SimulateEntry
    name: str
    features_path: str
    model: str = ""
    layer: str = ""


def _entry(entry: SimulateEntry | Mapping[str, Any], i: int) -> SimulateEntry:
    if isinstance(entry, SimulateEntry):
        return entry
    return parse_section(SimulateEntry, entry, f"[[dynamics.simulate]] #{i + 1}")


def _spec(e: SimulateEntry) -> dict[str, Any]:
    """The entry's values as its task key hashes them (defaults filled in)."""
    source = e.model if e.model is not None else Path(e.features).stem
    return {
        "name": e.name if e.name is not None else f"learner:{source}",
        "model": e.model,
        "layer": e.layer,
        "pooling": e.pooling,
        "features": e.features,
        "sequences": e.sequences,
        "runs": e.runs,
        "C": float(e.C),
        "pca": e.pca,
        "device": e.device,
        "batch_size": e.batch_size,
        "threads": None if e.threads in (None, 0) else e.threads,
    }


def write_simulated_trials(job: SimulateJob, path: str, provenance: Mapping[str, Any]) -> str:
    """Task: the job's features file → learner → dynamics table at ``path``."""
    from repalign.features import load_features

    e = job.entry
    feats = load_features(job.features_path)
    model, layer = job.model, job.layer
    if e.features is not None:  # a file names its own model and layer
        model = str(feats.meta.get("model", job.name))
        layer = str(feats.meta.get("layer", ""))
    table = simulate_dynamics(
        feats,
        job.name,
        e.sequences,
        e.runs,
        float(e.C),
        e.pca,
        e.device,
        e.batch_size,
        model=model,
        layer=layer,
        threads=None if e.threads in (None, 0) else e.threads,
    )
    prov = dict(provenance, features=feats.meta.get("path"), features_cache_key=feats.meta.get("cache_key"))
    write_table(table, path, "dynamics", prov)
    return path


def plan_simulations(entries: Sequence[SimulateEntry | Mapping[str, Any]], config: Config, root: Path) -> list[Task]:
    """One task per ``[[dynamics.simulate]]`` entry (validated, or as written: validated
    here; output: a dynamics table). An entry
    with ``model`` reads the features of a features-stage task over the
    learning-dynamics images (``repalign.features.plan_model_features``: the same
    task as a [[models]] entry asking for them), which the returned tasks include."""
    if isinstance(entries, Mapping):
        entries = [entries]
    # every entry is checked before any is planned (planning a model's features reads its images)
    checked, names = [], set()
    for i, entry in enumerate(entries):
        e = _entry(entry, i)
        spec = _spec(e)
        if spec["name"] in names:
            raise ValidationError(f"[[dynamics.simulate]]: two entries are named {spec['name']!r}")
        names.add(spec["name"])
        checked.append((e, spec))
    tasks = []
    for e, spec in checked:
        if spec["features"] is not None:
            fpath = config.resolve(spec["features"])
            if not fpath.is_file():
                raise ValidationError(f"[[dynamics.simulate]] {spec['name']!r}: no features file at {fpath}")
            spec["features"] = str(fpath)
            inputs = {"features_sha256": hashlib.sha256(fpath.read_bytes()).hexdigest()}
            feature_task, layer = None, ""
        else:
            from repalign.features import plan_model_features

            feature_task, layer, fpath = plan_model_features(
                config, spec["model"], {"source": "learning-dynamics"}, spec["layer"], spec["pooling"], spec["device"]
            )
            inputs = {"features_cache_key": feature_task.output_keys[0]}
            if feature_task.key not in {t.key for t in tasks}:
                tasks.append(feature_task)
        inputs["sequences_sha256"] = [
            f.sha256
            for f in files("learning-dynamics")
            if f.path == f"data/{spec['sequences']}_classification_data.csv"
        ]
        key = hashlib.sha256(
            json.dumps({"v": _VERSION, "spec": spec, "inputs": inputs}, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        path = root / f"trials-{safe_name(spec['name'])}-{key}.parquet"
        prov = {"producer": "repalign.dynamics.write_simulated_trials", "spec": spec, "inputs": inputs, "key": key}
        tasks.append(
            Task(
                f"dynamics:trials:{safe_name(spec['name'])}:{key}",
                "dynamics",
                (path,),
                write_simulated_trials,
                kwargs=dict(
                    job=SimulateJob(e, spec["name"], str(fpath), spec["model"] or "", layer),
                    path=str(path),
                    provenance=prov,
                ),
                deps=(feature_task.key,) if feature_task is not None else (),
                label=f"simulate {spec['name']}",
            )
        )
    return tasks
