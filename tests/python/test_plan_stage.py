"""A stage alone (``repalign.pipeline.plan.plan_stage``, behind ``repalign metrics``,
``repalign dynamics``, …) is planned the way ``plan_all`` plans it: one validation of
the whole config, one resolution, the stage's registered planner; and the dynamics
tasks receive their frozen job by name (issue #23)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from repalign.config import Config, load_config
from repalign.dynamics.plan import DynamicsJob
from repalign.dynamics.simulate import SimulateJob
from repalign.errors import ValidationError
from repalign.pipeline import plan_all
from repalign.pipeline.plan import plan_stage

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "configs" / "demo.toml"


def test_a_stage_alone_plans_the_tasks_plan_all_plans_for_it(tmp_path, monkeypatch):
    import repalign.r_stage
    import repalign.rlib

    # the demo's [r] stage keys on the installed R code: held fixed (no R package needed to plan)
    monkeypatch.setattr(repalign.rlib, "r_code_key", lambda: {"held": "fixed"})
    monkeypatch.setattr(repalign.r_stage, "r_code_key", lambda: {"held": "fixed"})
    cfg = load_config(DEMO, tmp_path / "out")
    every = plan_all(cfg)
    stages = {t.stage for t in every}
    assert {"features", "metrics", "learners"} <= stages
    for name in ("features", "metrics", "learners"):  # stages that read no upstream tables
        alone = plan_stage(cfg, name)
        assert sorted(t.key for t in alone) == sorted(t.key for t in every if t.stage == name), name
    # what `repalign metrics` runs: the extractions its tasks read, then its tasks
    with_inputs = plan_stage(cfg, "metrics", with_inputs=True)
    needed = {d for t in with_inputs if t.stage == "metrics" for d in t.deps}
    assert needed and needed <= {t.key for t in with_inputs if t.stage != "metrics"}
    assert plan_stage(cfg, "embed") == []  # no [[embed]] section: nothing to plan


def test_a_stage_alone_validates_the_whole_config_as_plan_all_does(tmp_path):
    # a bad value in another stage's section stops the stand-alone plan with plan_all's one line
    raw = {"dynamics": {"agents": ["human"]}, "metrics": [{"metric": "rsa", "datasett": "mur92"}]}
    cfg = Config(path=tmp_path / "c.toml", raw=raw, output=tmp_path / "out")
    with pytest.raises(ValidationError) as run_all:
        plan_all(cfg)
    with pytest.raises(ValidationError) as alone:
        plan_stage(cfg, "dynamics")
    assert str(alone.value) == str(run_all.value) and "datasett" in str(alone.value)
    assert "\n" not in str(alone.value)


def test_dynamics_tasks_receive_their_frozen_job_by_name(tmp_path, monkeypatch):
    import repalign.rlib

    monkeypatch.setattr(repalign.rlib, "r_code_key", lambda: {"held": "fixed"})  # no installed R package needed
    features = tmp_path / "feats.parquet"
    features.write_bytes(b"not read when planning, only hashed")
    section = {
        "agents": ["human", "vit"],
        "human_runs": [1, 2],
        "chance_trials": 24,
        "glmm": True,
        "glmm_nagq": 1,
        "simulate": [{"name": "mine", "features": str(features), "runs": [3], "C": 2.5, "threads": 0}],
    }
    cfg = Config(path=tmp_path / "c.toml", raw={"dynamics": section}, output=tmp_path / "out")
    tasks = plan_stage(cfg, "dynamics")
    assert [t.label for t in tasks] == ["observed trials", "simulate mine", "curves, lag, efficiency", "R GLMM"]
    assert all(t.args == () for t in tasks)  # nothing by position
    observed, simulated, analyses, glmm = tasks
    jobs = [t.kwargs["job"] for t in (observed, analyses, glmm)]
    assert all(isinstance(j, DynamicsJob) for j in jobs)
    # the planted values arrive in the job, validated and typed
    section_of = jobs[1].section
    assert section_of.agents == ["human", "vit"] and section_of.human_runs == [1, 2]
    assert section_of.chance_trials == 24 and section_of.glmm_nagq == 1
    assert jobs[1].params["chance_trials"] == 24 and "simulate" not in jobs[1].params
    assert jobs[1].trial_paths == (str(observed.outputs[0]), str(simulated.outputs[0]))
    assert jobs[2] == jobs[1] and glmm.kwargs["lag_path"] == str(analyses.outputs[2])
    sim = simulated.kwargs["job"]
    assert isinstance(sim, SimulateJob) and sim.name == "mine" and sim.features_path == str(features)
    assert sim.entry.runs == [3] and sim.entry.C == 2.5 and sim.entry.threads == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        jobs[1].trial_paths = ()  # type: ignore[misc]
    with pytest.raises(Exception, match="frozen"):
        section_of.agents = ["human"]  # the section model is frozen too
