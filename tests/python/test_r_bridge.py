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
from builders import choice_trials

from repalign import r
from repalign.children import child_env
from repalign.rlib import rlib_path
from repalign.store import write_table

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (ROOT / ".rlib" / "repalign").is_dir() and "REPALIGN_RLIB" not in os.environ,
    reason="R package not installed (make install-rpkg)",
)


def _simulated_trials(seed: int = 0) -> pd.DataFrame:
    """Two learners on one task, 10 people x 40 trials; the people follow model 'good'."""
    rng = np.random.default_rng(seed)
    base, good, choice = choice_trials(rng, 10, 40, slope=1.5, participant="p{:02d}")
    frames = []
    for model, value in (("good", good), ("noise", rng.normal(size=len(base)))):
        frames.append(
            base.assign(
                model=model,
                value=value,
                choice=choice,
                reward_left=rng.normal(size=len(base)),
                reward_right=rng.normal(size=len(base)),
            )
        )
    return pd.concat(frames, ignore_index=True)


def test_bridge_returns_the_numbers_of_the_rscript_path(tmp_path):
    trials = _simulated_trials()
    write_table(trials, tmp_path / "in" / "trials.parquet", "trials", {"test": "bridge"})
    env = child_env(dict(R_LIBS=str(rlib_path()), RETICULATE_PYTHON=sys.executable))
    proc = subprocess.run(
        [
            "Rscript",
            str(ROOT / "analysis" / "fit_models.R"),
            "--input",
            str(tmp_path / "in"),
            "--output",
            str(tmp_path / "out"),
            "--n-boot",
            "200",
            "--k",
            "5",
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "pseudo-R2" in proc.stdout
    via_script = pd.read_csv(tmp_path / "out" / "alignment_scores.csv").sort_values("model", ignore_index=True)
    for ext in ("pdf", "png"):
        assert (tmp_path / "out" / "figures" / f"learning_curves.{ext}").stat().st_size > 1000
    cv = r.cv_choice_model(trials, k=5, seed=1)  # the script's --seed
    via_bridge = r.alignment_scores(cv, n_boot=200, seed=1).sort_values("model", ignore_index=True)
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
    code = (
        "import pandas as pd\nfrom repalign import r\n"
        "try:\n    r.cv_choice_model(pd.DataFrame({'a': [1]}))\n"
        "except r.RUnavailableError as e:\n    print('unavailable:', e)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=child_env({"R_HOME": "/nonexistent/R"}),
    )
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
        trials = pd.concat(
            [
                learner.simulate(tasks, spose, model="spose-49", layer="embedding"),
                learner.simulate(tasks, random, model="random-49", layer="embedding"),
            ],
            ignore_index=True,
        )
    finally:
        torch.set_num_threads(threads)
    assert len(trials) == 2 * 25 * 150
    # Each person has their own task sequence: pool tasks, 5 participant folds.
    scores = r.score_choice_models(trials, by=["model", "layer"], k=5, n_boot=500)
    s = scores.set_index("model")
    print(
        f"\nTHINGSDecisions CV pseudo-R2: SPoSE-49 {s.loc['spose-49', 'pseudo_r2']:.4f} "
        f"[{s.loc['spose-49', 'ci_low']:.4f}, {s.loc['spose-49', 'ci_high']:.4f}], "
        f"random-49 {s.loc['random-49', 'pseudo_r2']:.4f} "
        f"[{s.loc['random-49', 'ci_low']:.4f}, {s.loc['random-49', 'ci_high']:.4f}]"
    )
    assert s.loc["spose-49", "pseudo_r2"] > s.loc["random-49", "pseudo_r2"] + 0.05
    assert s.loc["spose-49", "pseudo_r2"] > 0.1
    assert (s["n_trials"] == 3750).all() and (s["n_participants"] == 25).all()


def test_plan_r_runs_the_script_atomically_and_validates_its_section(tmp_path):
    from repalign.config import load_config
    from repalign.errors import ValidationError
    from repalign.pipeline.plan import plan_stage
    from repalign.task import run_local

    write_table(_simulated_trials(), tmp_path / "run" / "learners" / "trials.parquet", "trials", {})
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text('[run]\noutput = "run"\nseed = 3\n[r]\ninput = "run/learners"\nn_boot = 100\n')
    config = load_config(cfg_path)
    tasks = plan_stage(config, "r")
    assert len(tasks) == 1 and tasks[0].stage == "r" and not tasks[0].done()
    assert tasks[0].key == plan_stage(config, "r")[0].key  # deterministic
    run_local(tasks)
    out = tasks[0].outputs[0].parent
    assert tasks[0].done() and "pseudo-R2" in (out / "summary.txt").read_text()
    scores = pd.read_csv(out / "alignment_scores.csv")
    assert sorted(scores["model"]) == ["good", "noise"]
    assert [p.name for p in out.parent.glob(".repalign-tmp/*")] in ([], [".repalign-owned"])  # published, none left
    cfg_path.write_text('[run]\noutput = "run"\n[r]\nengine = "stan"\n')
    with pytest.raises(ValidationError, match="engine must be 'lme4' or 'brms'"):
        plan_stage(load_config(cfg_path), "r")
    cfg_path.write_text('[run]\noutput = "run"\n[r]\nfolds = 3\n')
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['folds'\]; valid keys: input"):
        plan_stage(load_config(cfg_path), "r")


# ---- every bridge error is an RError ----------------------------------------------------------


def test_formula_syntax_errors_and_duplicated_trials_are_rerrors():
    trials = _simulated_trials()
    with pytest.raises(r.RError, match=r"R error in formula 'choice ~ 0 \+ value \+': .*unexpected end of input"):
        r.cv_choice_model(trials, formula="choice ~ 0 + value +")
    with pytest.raises(r.RError, match=r"formula 'choice ~ \(value'"):
        r.fit_choice_model(trials[trials["model"] == "good"], formula="choice ~ (value")
    with pytest.raises(r.RError, match="formula must be a string"):
        r.cv_choice_model(trials, formula=3)
    assert issubclass(r.RUnavailableError, r.RError)
    dup = pd.concat([trials, trials[(trials["participant"] == "p02") & (trials["trial"] <= 3)]], ignore_index=True)
    with pytest.raises(
        r.RError,
        match=r"6 duplicated row\(s\) with the same model, layer, task, participant, "
        r"trial .*model=good, layer=l, task=t1, participant=p02, trial=1",
    ):
        r.cv_choice_model(dup)


# ---- model-level statistics -------------------------------------------------------------------


def test_model_level_spearman_equals_scipy_and_recovers_a_planted_relation():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(5)
    n = 30
    models = pd.DataFrame(
        {
            "model": [f"m{i:02d}" for i in range(n)],
            "objective": ["a", "b"] * (n // 2),
            # ties on purpose: scipy ranks them with mid-ranks
            "params": rng.integers(1, 8, n).astype(float) * 1e6,
            "intrinsic_dim": rng.uniform(5, 40, n),
        }
    )
    models["train_size"] = 10 ** rng.uniform(4, 9, n)
    # alignment rises with training data in both objectives; averaged over two tasks
    base = 0.02 * np.log10(models["train_size"]) + rng.normal(0, 0.01, n)
    ad = pd.concat(
        [models.assign(task=t, layer="l", pseudo_r2=base + d) for t, d in (("x", 0.01), ("y", -0.01))],
        ignore_index=True,
    )
    cor = r.model_level_correlations(ad, n_boot=300).set_index(["group", "predictor"])
    align = ad.groupby("model", sort=False)["pseudo_r2"].mean().to_numpy()
    for group, rows in (("all", slice(None)), ("a", models["objective"] == "a"), ("b", models["objective"] == "b")):
        for pred in ("train_size", "params", "intrinsic_dim"):
            ref = spearmanr(models.loc[rows, pred], align[np.asarray(models.index[rows])])
            got = cor.loc[(group, pred)]
            assert got["rho"] == pytest.approx(ref.statistic, abs=1e-12)
            assert got["p.value"] == pytest.approx(ref.pvalue, rel=1e-9)
            assert got["conf.low"] <= got["rho"] <= got["conf.high"]
    assert cor.loc[("all", "train_size"), "rho"] > 0.8 and cor.loc[("all", "train_size"), "conf.low"] > 0.6
    assert cor.loc[("all", "params"), "conf.low"] < 0 < cor.loc[("all", "params"), "conf.high"]


# ---- Rscript analysis/fit_models.R from a plain shell ----------------------------------------


def _plain_project(tmp_path: Path) -> Path:
    """A directory holding a `.venv` of this Python (as `make install` makes one), from
    which the script is run with a bare environment."""
    proj = tmp_path / "proj"
    proj.mkdir()
    if sys.prefix == sys.base_prefix:
        pytest.skip("the test needs to run inside a virtual environment (make install makes .venv)")
    (proj / ".venv").symlink_to(sys.prefix, target_is_directory=True)
    return proj


def _plain_env(home: Path) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "HOME": str(home), "R_LIBS": str(rlib_path())}


def test_fit_models_script_runs_from_a_plain_shell_and_leaves_out_models_without_metadata(tmp_path):
    proj = _plain_project(tmp_path)
    rng = np.random.default_rng(11)
    n_p, n_t = 10, 40
    base = pd.DataFrame(
        {
            "task": "t1",
            "participant": np.repeat([f"p{i:02d}" for i in range(n_p)], n_t),
            "trial": np.tile(np.arange(1, n_t + 1), n_p),
            "layer": "l",
        }
    )
    truth = rng.normal(size=len(base))
    choice = (rng.random(len(base)) < 1 / (1 + np.exp(-2 * truth))).astype(np.int64)
    # six networks; alignment falls with the noise mixed into their value; "spose49" has no metadata
    noise = {"net1": 0.2, "net2": 0.6, "net3": 1.0, "net4": 1.5, "net5": 2.5, "spose49": 0.1}
    frames = [
        base.assign(model=m, value=truth + s * rng.normal(size=len(base)), choice=choice) for m, s in noise.items()
    ]
    inp = tmp_path / "in"
    write_table(pd.concat(frames, ignore_index=True), inp / "trials.parquet", "trials", {"test": "plain"})
    ids = {"net1": 30.0, "net2": 25.0, "net3": 20.0, "net4": 15.0, "net5": 10.0, "spose49": 40.0}
    write_table(
        pd.DataFrame(
            {
                "model": list(ids),
                "layer": "l",
                "dataset": "d",
                "metric": "dimensionality_twonn",
                "value": list(ids.values()),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "n": 400,
            }
        ),
        inp / "metrics.parquet",
        "metrics",
        {"test": "plain"},
    )
    pd.DataFrame(
        {
            "name": [f"net{i}" for i in range(1, 6)],
            "family": ["A", "A", "B", "B", "B"],
            "objective": "supervised",
            # net5 has no parameter count (as the open_clip rows once had none)
            "train_size": [1e7, 1e6, 1e5, 1e4, 1e3],
            "params": [5e7, 4e7, 3e7, 2e7, np.nan],
        }
    ).to_csv(inp / "models.csv", index=False)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            "Rscript",
            str(ROOT / "analysis" / "fit_models.R"),
            "--input",
            str(inp),
            "--output",
            str(out),
            "--levels",
            "model",
            "--n-boot",
            "200",
        ],
        capture_output=True,
        text=True,
        env=_plain_env(tmp_path),
        cwd=proj,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reticulate" not in proc.stderr
    assert (
        "model(s) without metadata in " in proc.stdout
        and "left out of the model-level statistics and alignment models: spose49" in proc.stdout
    )
    scores = pd.read_csv(out / "alignment_scores.csv")
    assert sorted(scores["model"]) == sorted(noise)  # scored, then left out of the model-level part
    s = scores.set_index("model")["pseudo_r2"]
    assert s["net1"] > s["net3"] > s["net5"]  # the planted order of the noise
    ad = pd.read_csv(out / "alignment_data.csv")
    assert sorted(ad["model"]) == [f"net{i}" for i in range(1, 6)]
    cor = pd.read_csv(out / "model_correlations.csv").set_index(["group", "predictor"])
    # alignment falls with the noise, which falls with training size, params and ID: rho = 1 over 5 models
    for pred in ("train_size", "params", "intrinsic_dim"):
        assert cor.loc[("all", pred), "rho"] == pytest.approx(1.0)
        assert cor.loc[("all", pred), "n_models"] == (4 if pred == "params" else 5)
    # the model the params correlation leaves out is named: its CSV note, the notes, warnings.txt (the report)
    left = "1 model(s) without params left out: net5/l"
    assert cor.loc[("all", "params"), "note"].endswith(left)
    assert pd.isna(cor.loc[("all", "train_size"), "note"]) or left not in cor.loc[("all", "train_size"), "note"]
    assert f"model-level correlation with params (all, 4 models): {left}" in proc.stdout
    assert cor.loc[("supervised", "intrinsic_dim"), "p.value"] < 0.01
    coefs = pd.read_csv(out / "alignment_coefficients.csv")
    # intercept, log10(train_size + 1), scale(intrinsic_dim): one objective, so no objective terms
    assert list(coefs["term"]) == ["(Intercept)", "log10(train_size + 1)", "scale(intrinsic_dim)"]
    assert np.isfinite(coefs["estimate"]).all()
    assert (coefs["inference"] == "none").all() and coefs["std.error"].isna().all() and coefs["conf.low"].isna().all()
    assert coefs["note"].str.contains(r"saturated: 5 model\(s\) for 3 fixed effect\(s\)").all()
    warnings = (out / "warnings.txt").read_text()
    assert "spose49" in warnings and "saturated" in warnings
    assert f"model-level correlation with params (all, 4 models): {left}" in warnings
    assert "saturated: 5 model(s)" in proc.stdout


def test_fit_models_script_without_tables_exits_non_zero_and_writes_nothing(tmp_path):
    proj = _plain_project(tmp_path)
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    proc = subprocess.run(
        ["Rscript", str(ROOT / "analysis" / "fit_models.R"), "--input", str(tmp_path / "empty"), "--output", str(out)],
        capture_output=True,
        text=True,
        env=_plain_env(tmp_path),
        cwd=proj,
        timeout=120,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == f"error: no repalign Parquet tables under {tmp_path / 'empty'}"
    assert not out.exists()


def test_fit_models_script_fits_the_accuracy_glmm_on_decisions_tables(tmp_path):
    """Only `decisions` tables (texture-shape): fit_run fits one accuracy GLMM per dataset
    and recovers the planted accuracies of two networks and the people."""
    proj = _plain_project(tmp_path)
    rng = np.random.default_rng(3)
    images = [f"img{i:03d}" for i in range(150)]
    ease = rng.normal(0, 0.3, len(images))  # image difficulty on the logit scale
    rows = []
    for agent, kind, acc, subjects in (
        ("netA", "network", 0.9, ["netA"]),
        ("netB", "network", 0.55, ["netB"]),
        ("people", "human", 0.75, [f"s{i}" for i in range(4)]),
    ):
        logit = np.log(acc / (1 - acc))
        for subj in subjects:
            p = 1 / (1 + np.exp(-(logit + ease)))
            for img, pi in zip(images, p):
                rows.append(
                    {
                        "dataset": "cue-conflict",
                        "agent": agent if kind != "human" else subj,
                        "agent_type": kind,
                        "subject": subj,
                        "stimulus_id": img,
                        "category": "cat",
                        "response": "cat",
                        "correct": bool(rng.random() < pi),
                    }
                )
    inp = tmp_path / "in"
    write_table(pd.DataFrame(rows), inp / "decisions.parquet", "decisions", {"test": "decisions"})
    out = tmp_path / "out"
    proc = subprocess.run(
        ["Rscript", str(ROOT / "analysis" / "fit_models.R"), "--input", str(inp), "--output", str(out)],
        capture_output=True,
        text=True,
        env=_plain_env(tmp_path),
        cwd=proj,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    est = pd.read_csv(out / "accuracy_estimates.csv").set_index("agent")
    assert sorted(est.index) == ["humans", "netA", "netB"]
    for agent, acc in (("netA", 0.9), ("netB", 0.55), ("humans", 0.75)):
        assert est.loc[agent, "accuracy.low"] < acc < est.loc[agent, "accuracy.high"]
    assert not (out / "alignment_scores.csv").exists()


def test_fit_models_script_groups_choice_models_by_task_kind_with_both_kinds(tmp_path):
    """The naturalcogsci set-up ([r] by = model, layer, task_kind): category and reward
    tasks, four networks. Each network gets one score per task kind and one
    model-level row per (network, task kind), the kind standing in for the task (it
    stopped with duplicated model-level rows: both kinds became task "pooled")."""
    proj = _plain_project(tmp_path)
    rng = np.random.default_rng(5)
    frames = []
    noise = {"net1": 0.2, "net2": 0.6, "net3": 1.5, "net4": 4.0}  # alignment falls with the noise
    for kind, tasks in (("category", ["c1", "c2", "c3"]), ("reward", ["r1", "r2", "r3"])):
        for task in tasks:  # one participant per task file, as in the paper's condition files
            base = pd.DataFrame(
                {"task": task, "participant": f"{task}-p", "trial": np.arange(1, 121), "layer": "l", "task_kind": kind}
            )
            truth = rng.normal(size=len(base))
            choice = (rng.random(len(base)) < 1 / (1 + np.exp(-2 * truth))).astype(np.int64)
            frames += [
                base.assign(model=m, value=truth + s * rng.normal(size=len(base)), choice=choice)
                for m, s in noise.items()
            ]
    inp = tmp_path / "in"
    write_table(pd.concat(frames, ignore_index=True), inp / "trials.parquet", "trials", {"test": "task kinds"})
    pd.DataFrame(
        {
            "name": list(noise),
            "family": ["A", "A", "B", "B"],
            "objective": "supervised",
            "train_size": [1e7, 1e6, 1e5, 1e4],
            "params": [4e7, 3e7, 2e7, 1e7],
        }
    ).to_csv(inp / "models.csv", index=False)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            "Rscript",
            str(ROOT / "analysis" / "fit_models.R"),
            "--input",
            str(inp),
            "--output",
            str(out),
            "--by",
            "model,layer,task_kind",
            "--levels",
            "model",
            "--n-boot",
            "100",
        ],
        capture_output=True,
        text=True,
        env=_plain_env(tmp_path),
        cwd=proj,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    scores = pd.read_csv(out / "alignment_scores.csv")
    assert sorted(zip(scores["model"], scores["task_kind"])) == [(m, k) for m in noise for k in ("category", "reward")]
    ad = pd.read_csv(out / "alignment_data.csv")
    assert len(ad) == 8 and (ad["task"] == ad["task_kind"]).all()  # the kind is the task level of (1 | task)
    for kind, g in ad.groupby("task_kind"):
        s = g.set_index("model")["pseudo_r2"]
        assert s["net1"] > s["net2"] > s["net3"] > s["net4"], kind  # the planted order
    cor = pd.read_csv(out / "model_correlations.csv").set_index(["group", "predictor"])
    assert cor.loc[("all", "train_size"), "n_models"] == 4 and cor.loc[("all", "train_size"), "rho"] == pytest.approx(
        1.0
    )
    coefs = pd.read_csv(out / "alignment_coefficients.csv")
    assert "log10(train_size + 1)" in set(coefs["term"]) and np.isfinite(coefs["estimate"]).all()
