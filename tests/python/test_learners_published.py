"""``variant="published"`` of the Demircan et al. (2024) learners against the seed's
own code, and human choices read from a file in the paper's format.

Expected values (tests/python/data/naturalcogsci_learners.json) come from running
candemircan/naturalcogsci's published code path (``bin/run_learners.py``
``fit_regulariser`` + ``naturalcogsci/learners.py``) outside this repository on the
registry's condition files with ``load_spose(49)``; only its numbers are stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from repalign.errors import ValidationError
from repalign.learners import CategoryLearner, RewardLearner

pytestmark = pytest.mark.usefixtures("one_thread")  # small linear algebra: one thread

EXPECTED = json.loads((Path(__file__).parent / "data" / "naturalcogsci_learners.json").read_text())


# --- the published pipeline against the seed's numbers ----------------------------------------
@pytest.mark.data
def test_published_category_learner_reproduces_the_seed_on_files_1_to_5(spose):
    from repalign.datasets import load_category_tasks

    before = spose.values.copy()
    df = CategoryLearner(variant="published").simulate(load_category_tasks(range(1, 6)), spose)
    for f in range(1, 6):
        g = df[df["task"] == str(f)].sort_values("trial")
        exp = EXPECTED["category"][str(f)]
        assert g["C"].iloc[0] == exp["C"]  # the seed picks 20, 3, 15, 3, 15
        assert np.abs(g["value"].to_numpy() - np.asarray(exp["p1"])).max() <= 1e-6
    # the side effect is the seed's on its own copy; the caller's features stay as they were
    assert np.array_equal(spose.values, before)


@pytest.mark.data
def test_published_category_learner_with_the_seeds_pca_transform(spose):
    from repalign.datasets import load_category_tasks

    df = CategoryLearner(variant="published", pca=49).simulate(load_category_tasks([1]), spose)
    exp = EXPECTED["category_pca49"]["1"]
    assert df["C"].iloc[0] == exp["C"]
    assert np.abs(df["value"].to_numpy() - np.asarray(exp["p1"])).max() <= 1e-6


@pytest.mark.data
def test_reward_learner_default_and_published_both_reproduce_the_seed(spose):
    from repalign.datasets import load_reward_tasks

    tasks = load_reward_tasks([int(k) for k in EXPECTED["reward"]])
    for variant in ("default", "published"):
        df = RewardLearner(variant=variant).simulate(tasks, spose)
        for f, values in EXPECTED["reward"].items():
            got = df[df["task"] == f].sort_values("trial")[["value_left", "value_right"]].to_numpy()
            assert np.abs(got - np.asarray(values)).max() <= 1e-6, (variant, f)


@pytest.mark.data
def test_published_ard_reward_learner_reproduces_the_seed(spose):
    from repalign.datasets import load_reward_tasks

    df = RewardLearner(variant="published", ard=True).simulate(load_reward_tasks([1]), spose)
    got = df.sort_values("trial")[["value_left", "value_right"]].to_numpy()
    assert np.abs(got - np.asarray(EXPECTED["reward_ard"]["1"])).max() <= 1e-6


# --- the published variant's arguments -----------------------------------------------------------
def _toy():
    from repalign.datasets import CategoryTask, Embedding

    rng = np.random.default_rng(0)
    ids = [f"s{i}" for i in range(12)]
    emb = Embedding(ids, rng.normal(size=(12, 3)), "toy")
    cats = np.array([0, 1] * 6)
    return CategoryTask("t", tuple(ids), tuple(ids), cats), emb


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"variant": "seed"}, "CategoryLearner: variant must be 'default' or 'published'"),
        ({"variant": "published", "selection": "prequential"}, "chooses C by training accuracy"),
        ({"variant": "published", "tol": 1e-8}, "default tol"),
        ({"variant": "published", "C": 1.0, "C_grid": [1.0, 2.0]}, "either C"),
        ({"variant": "published", "device": "cuda"}, "on the CPU"),
        ({"variant": "published", "pca": 13}, r"pca=13 must be between 1 and min\(#trials, #dims\)=3"),
        ({"C_grid": "seed"}, "'default' or 'published'"),
    ],
)
def test_category_learner_rejects_bad_arguments(kwargs, message):
    task, emb = _toy()
    with pytest.raises(ValidationError, match=message):
        CategoryLearner(**kwargs).simulate(task, emb)


def test_reward_learner_rejects_an_unknown_variant():
    from repalign.datasets import Embedding, RewardTask

    emb = Embedding(["a", "b"], np.eye(2), "toy")
    task = RewardTask(
        "r", np.array([["a", "b"]], dtype=object), np.array([["a", "b"]], dtype=object), np.array([[1.0, 2.0]])
    )
    with pytest.raises(ValidationError, match="variant must be 'default' or 'published'"):
        RewardLearner(variant="seed").simulate(task, emb)


def test_published_category_learner_with_one_c_is_one_pass_and_keeps_no_c_column():
    # planted: with a grid of one C, the search's pass precedes the final one, so
    # (unlike C given alone) the final pass sees features the search changed
    task, emb = _toy()
    one = CategoryLearner(variant="published", C=1.0).simulate(task, emb)
    grid = CategoryLearner(variant="published", C_grid=[1.0]).simulate(task, emb)
    assert "C" not in one.columns and grid["C"].unique().tolist() == [1.0]
    assert np.abs(one["value"].to_numpy() - grid["value"].to_numpy()).max() > 1e-3


# --- the fast published category path against today's scikit-learn loop (reference_impls) ------
def _ref_published():
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from reference_impls import ref_published_category

    return ref_published_category


@pytest.mark.parametrize("d,pca", [(5, None), (40, None), (300, None), (40, 10), (300, 50), (1024, None)])
def test_fast_published_category_equals_the_sklearn_loop_on_synthetic_tasks(d, pca):
    # the truth is today's scikit-learn loop (an independent implementation: one
    # LogisticRegression per fit, numpy statistics); categories follow three features plus
    # noise, with a constant feature (s.d. 0 → 1) and a repeated row, so the search's C
    # choice, the in-place standardisation and every fit are exercised
    from repalign.learners._published import published_category

    ref = _ref_published()
    rng = np.random.default_rng(d)
    for rep in range(3):
        T = 60 + 20 * rep
        X = rng.normal(size=(T, d))
        X[:, 0] = 3.0  # constant feature
        X[T // 2] = X[T // 3]  # a repeated stimulus
        w = np.zeros(d)
        w[1:4] = 3.0  # the rule lives in three features
        y = (X @ w + rng.normal(size=T) > 0).astype(np.int64)
        y[:3] = [1, 1, 0]  # first trials of one class: P stays 0.5 until both are seen
        X0 = X.copy()
        p_ref, C_ref = ref(X, y, pca=pca)
        p, C = published_category(X, y, pca=pca)
        assert np.array_equal(X, X0)  # the caller's array is never changed
        assert C == C_ref
        assert np.abs(p - p_ref).max() <= 1e-9
        assert p[0] == 0.5 and p[1] == 0.5 and p[2] == 0.5


def test_fast_published_category_with_one_c_equals_the_sklearn_loop():
    from repalign.learners._published import published_category

    ref = _ref_published()
    rng = np.random.default_rng(7)
    X = rng.normal(size=(50, 20))
    y = (X[:, 0] > 0).astype(np.int64)
    for C in (0.0001, 1.0, 20.0):
        p_ref, _ = ref(X, y, C=C)
        p, _ = published_category(X, y, C=C)
        assert np.abs(p - p_ref).max() <= 1e-9


def _numpy_pass(X, y):
    """The seed's pass without fits, in numpy (as ref_published_category_pass): rows
    0..t of X standardised in place at every step with both categories seen."""
    has0 = has1 = False
    for t in range(len(y)):
        has0, has1 = has0 or y[t] == 0, has1 or y[t] == 1
        if has0 and has1:
            rows = X[: t + 1]
            mu, sd = rows.mean(axis=0), rows.std(axis=0)
            rows -= mu
            rows /= np.where(sd == 0, 1, sd)


def _awkward_features(rng, T, d):
    """Columns that make numpy's rounding matter: all 0 (sparse), 0 until late then
    non-zero, one value 0.1 on the first rows (3 × 0.1 / 3 ≠ 0.1: numpy's s.d. is a
    rounding residue, not 0, and the rows become ±1), constant 3.0, large offset
    (1e3 ± 1), fp16-quantised values with ties; the rest normal."""
    X = rng.normal(size=(T, d))
    X[:, 0] = 0.0
    X[:, 1] = 0.0
    X[T // 2 :, 1] = rng.normal(size=T - T // 2)
    X[:, 2] = 0.1
    X[5:, 2] = rng.normal(size=T - 5)
    X[:, 3] = 3.0
    X[:, 4] = 1e3 + rng.normal(size=T)
    X[:, 5:9] = X[:, 5:9].astype(np.float16).astype(np.float64).round(1)
    X[:, 9] = np.maximum(X[:, 9], 0)  # ReLU-like: exact zeros mixed with values
    return X


def test_closed_form_pass_equals_numpys_in_place_standardisation_over_many_passes():
    # planted truth: numpy's in-place standardisation of the seed, pass after pass on the
    # same array (18 passes, as the C search and the final pass make); the closed form
    # (O(T·d) per pass) must give the same arrays to round-off, and the columns whose
    # result is numpy's rounding (the 0.1 column: its first rows stay equal, and numpy's
    # mean of equal values decides them) must be found and kept bit for bit
    from repalign.learners._published_pass import PassState, run_pass, unsafe_columns

    rng = np.random.default_rng(3)
    for T, d, first in ((120, 40, [1, 1, 1, 0]), (60, 12, [0, 1])):
        X = _awkward_features(rng, T, d)
        y = (rng.random(T) < 0.5).astype(np.int64)
        y[: len(first)] = first
        force = unsafe_columns(X, y, 18)
        assert force[2] and not force[0]  # rounding decides the 0.1 column; 0 stays 0
        assert not force[10:].any()  # normal columns go on in closed form
        ref, fast = X.copy(), X.copy()
        st = PassState(T, d, force)
        buf = np.empty((T, d + 1))
        for p in range(18):
            assert run_pass(fast, y, p > 0, *st.arrays(), buf) == len(first) - 1
            _numpy_pass(ref, y)
            assert np.abs(fast - ref).max() <= 1e-11 * max(1.0, np.abs(ref).max())
            assert np.array_equal(fast[:, force], ref[:, force])  # numpy's arithmetic, bit for bit
        assert (fast[:, 0] == 0).all()


@pytest.mark.parametrize("d", [130, 400])
def test_fast_published_category_equals_the_sklearn_loop_on_awkward_wide_features(d):
    # model widths (closed-form standardisation, fits in n ≤ T coordinates) on the
    # awkward columns above; categories follow three normal features plus noise
    from repalign.learners._published import EXACT_BELOW, published_category

    assert d >= EXACT_BELOW
    ref = _ref_published()
    rng = np.random.default_rng(d)
    T = 100
    X = _awkward_features(rng, T, d)
    y = (X[:, 10:13].sum(1) + rng.normal(size=T) > 0).astype(np.int64)
    y[:4] = [1, 1, 1, 0]
    p_ref, C_ref = ref(X, y)
    p, C = published_category(X, y)
    assert C == C_ref
    assert np.abs(p - p_ref).max() <= 1e-9
    for C in (0.0001, 20.0):  # one pass at a fixed C: weak and strong fits
        assert np.abs(published_category(X, y, C=C)[0] - ref(X, y, C=C)[0]).max() <= 1e-9


@pytest.mark.data
def test_fast_published_category_equals_the_sklearn_loop_on_real_task_files(spose):
    # the registry's condition files (first 12 and 6 spread over all 1,050), SPoSE-49
    # features and 512- and 2048-wide projections of them (model-like widths: the
    # closed-form standardisation and the reduced fits)
    from repalign.datasets import load_category_tasks
    from repalign.learners._published import published_category

    ref = _ref_published()
    tasks = load_category_tasks(list(range(1, 13)) + [200, 400, 600, 800, 1000, 1050])
    rng = np.random.default_rng(0)
    wide = {
        w: spose.values @ rng.normal(size=(spose.values.shape[1], w)) + rng.normal(size=(len(spose.ids), w))
        for w in (512, 2048)
    }
    for i, task in enumerate(tasks):
        idx = spose.index_of(task.concepts)
        y = np.asarray(task.categories, dtype=np.int64)
        X = {5: wide[512], 2: wide[2048]}.get(i % 6, spose.values)[idx]
        p_ref, C_ref = ref(X, y)
        p, C = published_category(X, y)
        assert C == C_ref, task.task_id
        assert np.abs(p - p_ref).max() <= 1e-9, task.task_id


# --- [[learners]] entries: variant and human choices ---------------------------------------------
def _write_config(tmp_path, learners: str):
    from repalign.config import load_config

    p = tmp_path / "study.toml"
    p.write_text(
        '[run]\noutput = "out"\nseed = 2\n\n[[representations]]\nname = "spose"\nsource = "spose49"\n\n' + learners
    )
    return load_config(p)


def _plan_learners(config):
    """The [[learners]] stage alone, planned as a run plans it."""
    from repalign.pipeline.plan import plan_stage

    return plan_stage(config, "learners")


@pytest.mark.data
def test_config_variant_is_in_the_task_key_and_runs_the_published_learner(tmp_path):
    from repalign.store import read_table
    from repalign.task import run_local

    base = '[[learners]]\ntask = "demircan-category"\ntasks = [2]\n'
    k_none = _plan_learners(_write_config(tmp_path, base))[0].key
    k_default = _plan_learners(_write_config(tmp_path, base + 'variant = "default"\n'))[0].key
    (pub,) = _plan_learners(_write_config(tmp_path, base + 'variant = "published"\n'))
    assert k_none == k_default != pub.key
    run_local([pub], progress=False)
    df = read_table(pub.outputs[0], kind="trials")
    assert df["C"].unique().tolist() == [EXPECTED["category"]["2"]["C"]]
    assert np.abs(df["value"].to_numpy() - np.asarray(EXPECTED["category"]["2"]["p1"])).max() <= 1e-6
    with pytest.raises(
        ValidationError, match=r"#1: CategoryLearner: variant='published' chooses C by training accuracy"
    ):
        _plan_learners(_write_config(tmp_path, base + 'variant = "published"\nselection = "prequential"\n'))
    with pytest.raises(ValidationError, match="variant must be 'default' or 'published', got 'seed'"):
        _plan_learners(_write_config(tmp_path, base + 'variant = "seed"\n'))


def _paper_format_category_file(path: Path, tasks, planted: dict[str, tuple[str, np.ndarray]]) -> None:
    """A file like naturalcogsci's above_chance.csv: one row per participant and
    0-based trial, with the image and the planted choices."""
    by_id = {t.task_id: t for t in tasks}
    rows = []
    for participant, (cond, choice) in planted.items():
        task = by_id[cond]
        for i in range(len(task)):
            rows.append(
                {
                    "image": task.images[i].replace("\\/", "/"),
                    "choice": int(choice[i]),
                    "true_category_binary": int(task.categories[i]),
                    "cond_file": int(cond),
                    "participant": participant,
                    "trial": i,
                }
            )
    pd.DataFrame(rows).sample(frac=1.0, random_state=0).to_csv(path, index=False)  # any row order


@pytest.mark.data
def test_human_choices_from_a_paper_format_file_are_joined_to_the_learner(tmp_path, spose):
    from repalign.datasets import load_category_tasks
    from repalign.store import read_table
    from repalign.task import run_local

    tasks = load_category_tasks([3, 7])
    rng = np.random.default_rng(1)
    planted = {
        "P1": ("3", rng.integers(0, 2, 120)),
        "P2": ("7", rng.integers(0, 2, 120)),
        "P3": ("3", rng.integers(0, 2, 120)),
    }
    _paper_format_category_file(tmp_path / "above_chance.csv", tasks, planted)
    (task,) = _plan_learners(
        _write_config(tmp_path, '[[learners]]\ntask = "demircan-category"\nC = 1.0\nchoices = "above_chance.csv"\n')
    )
    run_local([task], progress=False)
    df = read_table(task.outputs[0], kind="trials")
    ref = CategoryLearner(C=1.0).simulate(tasks, spose)
    assert sorted(df["participant"].unique()) == ["P1", "P2", "P3"] and len(df) == 360
    for p, (cond, choice) in planted.items():
        g = df[df["participant"] == p].sort_values("trial")
        assert (g["task"] == cond).all() and np.array_equal(g["choice"].to_numpy(), choice)
        r = ref[ref["task"] == cond].sort_values("trial")
        assert np.array_equal(g["value"].to_numpy(), r["value"].to_numpy())
        assert np.array_equal(g["stimulus_id"].to_numpy(), r["stimulus_id"].to_numpy())


@pytest.mark.data
def test_human_choices_file_errors_name_the_problem(tmp_path):
    from repalign.datasets import load_category_tasks

    tasks = load_category_tasks([3])
    good = tmp_path / "good.csv"
    _paper_format_category_file(good, tasks, {"P1": ("3", np.zeros(120, dtype=int))})
    df = pd.read_csv(good)

    def plan(frame, extra=""):
        frame.to_csv(tmp_path / "c.csv", index=False)
        return _plan_learners(
            _write_config(tmp_path, '[[learners]]\ntask = "demircan-category"\nchoices = "c.csv"\n' + extra)
        )

    with pytest.raises(
        ValidationError,
        match=r"missing column\(s\) \['choice'\]; the paper's format needs participant, cond_file, trial, choice",
    ):
        plan(df.drop(columns="choice"))
    with pytest.raises(
        ValidationError, match=r"unknown cond_file\(s\) \[2000\] for the category tasks \(valid: 1–1050\)"
    ):
        plan(df.assign(cond_file=2000))
    with pytest.raises(ValidationError, match=r"participant 'P1' must have trials 0\.\.119 once each"):
        plan(df.assign(trial=df["trial"] + 1))
    with pytest.raises(ValidationError, match="column 'choice' must be 0/1"):
        plan(df.assign(choice=2))
    wrong = df.copy()
    wrong.loc[wrong["trial"] == 5, "image"] = "stimuli/anvil/anvil_99x.jpg"
    with pytest.raises(
        ValidationError, match=r"participant 'P1', cond_file 3, trial 5: image 'stimuli/anvil/anvil_99x.jpg' is not"
    ):
        plan(wrong)
    with pytest.raises(ValidationError, match="either 'choices'"):
        plan(df, "tasks = [3]\n")
    with pytest.raises(ValidationError, match="choices file .*nope.csv: not found"):
        _plan_learners(_write_config(tmp_path, '[[learners]]\ntask = "demircan-reward"\nchoices = "nope.csv"\n'))
    with pytest.raises(
        ValidationError, match="'choices' .* applies only to tasks demircan-category and demircan-reward"
    ):
        _plan_learners(_write_config(tmp_path, '[[learners]]\ntask = "things-decisions"\nchoices = "c.csv"\n'))


@pytest.mark.data
def test_reward_human_choices_from_a_paper_format_file(tmp_path, spose):
    from repalign.datasets import load_reward_tasks
    from repalign.store import read_table
    from repalign.task import run_local

    (task5,) = load_reward_tasks([5])
    choice = np.random.default_rng(2).integers(0, 2, 60)
    pd.DataFrame(
        {
            "left_image": task5.images[:, 0],
            "right_image": task5.images[:, 1],
            "choice": choice,
            "cond_file": "5",
            "trial": np.arange(60),
            "participant": "XJ3K",
        }
    ).to_csv(tmp_path / "r.csv", index=False)
    (task,) = _plan_learners(_write_config(tmp_path, '[[learners]]\ntask = "demircan-reward"\nchoices = "r.csv"\n'))
    run_local([task], progress=False)
    df = read_table(task.outputs[0], kind="trials").sort_values("trial")
    ref = RewardLearner().simulate(task5, spose)
    assert df["participant"].unique().tolist() == ["XJ3K"] and np.array_equal(df["choice"].to_numpy(), choice)
    assert np.array_equal(df["value"].to_numpy(), ref["value"].to_numpy())
    swapped = pd.read_csv(tmp_path / "r.csv")
    swapped[["left_image", "right_image"]] = swapped[["right_image", "left_image"]].to_numpy()
    swapped.to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(ValidationError, match=r"participant 'XJ3K', cond_file 5, trial 0: left_image"):
        _plan_learners(_write_config(tmp_path, '[[learners]]\ntask = "demircan-reward"\nchoices = "r.csv"\n'))
