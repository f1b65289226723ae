"""repalign.r: the rpy2 bridge to the R package, against the Rscript path, and the
THINGSDecisions acceptance check (SPoSE-49 reward learners beat random features)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repalign import r
from repalign.store import write_table
from builders import choice_trials

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(not (ROOT / ".rlib" / "repalign").is_dir() and "REPALIGN_RLIB" not in os.environ,
                                reason="R package not installed (make install-rpkg)")


def _simulated_trials(seed: int = 0) -> pd.DataFrame:
    """Two learners on one task, 10 people x 40 trials; the people follow model 'good'."""
    rng = np.random.default_rng(seed)
    base, good, choice = choice_trials(rng, 10, 40, slope=1.5, participant="p{:02d}")
    frames = []
    for model, value in (("good", good), ("noise", rng.normal(size=len(base)))):
        frames.append(base.assign(model=model, value=value, choice=choice,
                                  reward_left=rng.normal(size=len(base)), reward_right=rng.normal(size=len(base))))
    return pd.concat(frames, ignore_index=True)


def test_bridge_returns_the_numbers_of_the_rscript_path(tmp_path):
    trials = _simulated_trials()
    write_table(trials, tmp_path / "in" / "trials.parquet", "trials", {"test": "bridge"})
    env = dict(os.environ, R_LIBS=str(r.rlib_path()), RETICULATE_PYTHON=sys.executable)
    proc = subprocess.run(["Rscript", str(ROOT / "analysis" / "fit_models.R"), "--input", str(tmp_path / "in"),
                           "--output", str(tmp_path / "out"), "--n-boot", "200", "--k", "5"],
                          capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "pseudo-R2" in proc.stdout
    via_script = pd.read_csv(tmp_path / "out" / "alignment_scores.csv").sort_values("model", ignore_index=True)
    for ext in ("pdf", "png"):
        assert (tmp_path / "out" / "figures" / f"learning_curves.{ext}").stat().st_size > 1000
    cv = r.cv_choice_model(trials, k=5)
    via_bridge = r.alignment_scores(cv, n_boot=200).sort_values("model", ignore_index=True)
    assert list(via_bridge["model"]) == ["good", "noise"]
    for col in ("nll", "pseudo_r2", "ci_low", "ci_high", "n_trials"):
        np.testing.assert_allclose(via_bridge[col].to_numpy(float), via_script[col].to_numpy(float), rtol=1e-9)
    # The planted learner explains the choices; the noise learner does not.
    assert via_bridge["pseudo_r2"][0] > 0.15 > via_bridge["pseudo_r2"][1]
    assert len(cv) == len(trials) and cv["prob"].between(0, 1).all()


def test_r_errors_carry_r_message():
    trials = _simulated_trials().drop(columns=["choice"])
    with pytest.raises(r.RError, match=r"missing column\(s\) choice"):
        r.cv_choice_model(trials)
    one = _simulated_trials()
    one = one[one["participant"] == "p00"]
    with pytest.raises(r.RError, match="at least 2 participants; got 1"):
        r.cv_choice_model(one)


def test_missing_r_package_or_r_is_a_clear_error():
    with pytest.raises(r.RUnavailableError, match="'notapackage' is not installed.*make install-rpkg"):
        r._require_package("notapackage")
    code = ("import pandas as pd\nfrom repalign import r\n"
            "try:\n    r.cv_choice_model(pd.DataFrame({'a': [1]}))\n"
            "except r.RUnavailableError as e:\n    print('unavailable:', e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, R_HOME="/nonexistent/R"))
    assert "unavailable: R_HOME=/nonexistent/R holds no R installation" in proc.stdout, proc.stderr


@pytest.mark.data
def test_things_decisions_spose_beats_random_features():
    """THINGSDecisions (25 people x 150 trials): reward learners reading SPoSE-49
    predict held-out people's choices better than learners reading random features."""
    from repalign.datasets import Embedding, load_spose, load_things_decisions
    from repalign.learners import RewardLearner

    tasks = load_things_decisions().tasks()
    spose = load_spose(49)
    rng = np.random.default_rng(0)
    random = Embedding(spose.ids, rng.normal(size=spose.values.shape), name="random-49")
    import torch

    learner = RewardLearner()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # torch's small batched SVDs crawl when threads oversubscribe 2 shared cores
    try:
        trials = pd.concat([learner.simulate(tasks, spose, model="spose-49", layer="embedding"),
                            learner.simulate(tasks, random, model="random-49", layer="embedding")],
                           ignore_index=True)
    finally:
        torch.set_num_threads(threads)
    assert len(trials) == 2 * 25 * 150
    # Each person has their own task sequence: pool tasks, 5 participant folds.
    scores = r.score_choice_models(trials, by=["model", "layer"], k=5, n_boot=500)
    s = scores.set_index("model")
    print(f"\nTHINGSDecisions CV pseudo-R2: SPoSE-49 {s.loc['spose-49', 'pseudo_r2']:.4f} "
          f"[{s.loc['spose-49', 'ci_low']:.4f}, {s.loc['spose-49', 'ci_high']:.4f}], "
          f"random-49 {s.loc['random-49', 'pseudo_r2']:.4f} "
          f"[{s.loc['random-49', 'ci_low']:.4f}, {s.loc['random-49', 'ci_high']:.4f}]")
    assert s.loc["spose-49", "pseudo_r2"] > s.loc["random-49", "pseudo_r2"] + 0.05
    assert s.loc["spose-49", "pseudo_r2"] > 0.1
    assert (s["n_trials"] == 3750).all() and (s["n_participants"] == 25).all()


def test_plan_r_runs_the_script_atomically_and_validates_its_section(tmp_path):
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.task import run_local

    write_table(_simulated_trials(), tmp_path / "run" / "learners" / "trials.parquet", "trials", {})
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text('[run]\noutput = "run"\nseed = 3\n[r]\ninput = "run/learners"\nn_boot = 100\n')
    config = load_config(cfg_path)
    tasks = r.plan_r(config)
    assert len(tasks) == 1 and tasks[0].stage == "r" and not tasks[0].done()
    assert tasks[0].key == r.plan_r(config)[0].key  # deterministic
    run_local(tasks)
    out = tasks[0].outputs[0].parent
    assert tasks[0].done() and "pseudo-R2" in (out / "summary.txt").read_text()
    scores = pd.read_csv(out / "alignment_scores.csv")
    assert sorted(scores["model"]) == ["good", "noise"]
    assert not list(out.parent.glob("*.partial-*"))
    cfg_path.write_text('[run]\noutput = "run"\n[r]\nengine = "stan"\n')
    with pytest.raises(ValidationError, match="engine must be 'lme4' or 'brms'"):
        r.plan_r(load_config(cfg_path))
    cfg_path.write_text('[run]\noutput = "run"\n[r]\nfolds = 3\n')
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['folds'\]; valid keys: input"):
        r.plan_r(load_config(cfg_path))
