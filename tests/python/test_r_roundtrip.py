"""Python -> R -> Python -> R: the docs/r.md §6 chain on synthetic data with a planted
effect, and R fits handed to Python (``repalign.r.RFit``) and passed back to R
(tidy, predict, figures)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import alignment_study
from scipy.stats import spearmanr

from repalign import r

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not (ROOT / ".rlib" / "repalign").is_dir() and "REPALIGN_RLIB" not in os.environ,
    reason="R package not installed (make install-rpkg)",
)

N_MODELS = 15  # 3 estimable fixed effects x 5 models each: the saturation guard lets intervals through


@pytest.fixture(scope="module")
def study():
    """15 models whose alignment rises with log training size (planted; see
    ``builders.alignment_study``): (trials, models, metrics)."""
    return alignment_study(n_models=N_MODELS)


@pytest.fixture(scope="module")
def chain(study):
    """The docs/r.md §6 chain, as written there."""
    trials, models, metrics = study
    scores = r.score_choice_models(trials, by=["model", "layer"], n_boot=200)
    ad = r.alignment_data(scores, models, metrics)
    fit = r.fit_alignment_model(ad, level="model", engine="lme4")
    return scores, ad, fit


def test_scores_and_alignment_data_are_pandas(chain, study):
    scores, ad, _ = chain
    assert isinstance(scores, pd.DataFrame) and isinstance(ad, pd.DataFrame)
    assert len(scores) == N_MODELS and set(ad["task"]) == {"pooled"}  # pooled over tasks: one task level
    # the planted order: less noise (larger i, larger train_size) -> higher pseudo-R²
    rho = spearmanr(ad["train_size"], ad["pseudo_r2"]).statistic
    assert rho > 0.8, ad[["model", "train_size", "pseudo_r2"]]


def test_alignment_fit_is_a_handle_that_recovers_the_planted_effect(chain):
    _, ad, fit = chain
    assert isinstance(fit, r.RFit) and fit.kind == "alignment"
    assert "model-level alignment model (lme4)" in repr(fit)
    tab = fit.tidy().set_index("term")
    size = tab.loc["log10(train_size + 1)"]
    assert tab["inference"].eq("wald").all(), tab[["inference", "note"]]  # 15 models, 3 effects: not saturated
    assert size["estimate"] > 0 and size["conf.low"] > 0, tab  # the planted positive effect, CI above 0
    assert "dropped" in fit.diagnostics["messages"]  # (1 | task) with one level, and the single objective


def test_predict_and_figures_pass_the_fit_back_to_r(chain, tmp_path):
    _, ad, fit = chain
    pred = fit.predict()
    assert pred.shape == (N_MODELS,) and np.isfinite(pred).all()
    assert spearmanr(pred, ad["pseudo_r2"]).statistic > 0.8
    # new rows: a larger training set predicts higher alignment (the planted direction)
    new = ad.iloc[[0, 0]].assign(train_size=[1e3, 1e8])
    lo, hi = fit.predict(new)
    assert hi > lo
    paths = fit.save_figure(tmp_path / "size", data=ad)  # plot_alignment_vs_size(ad, fit): the fit goes back to R
    paths += fit.save_figure(tmp_path / "coefs")
    paths += r.save_figure("plot_alignment_vs_size", tmp_path / "size2", ad, fit=fit)
    for p in paths:
        assert p.stat().st_size > 1000, p
    # any R function takes the handle back: the R object is the fit itself
    assert list(r.r_call("base::class", fit)) == ["repalign_alignment_fit"]


def test_choice_model_handle(study):
    trials, _, _ = study
    one = trials[trials["model"] == f"net{N_MODELS - 1:02d}"]
    fit = r.fit_choice_model(one)
    assert isinstance(fit, r.RFit) and fit.kind == "choice"
    tab = fit.tidy().set_index("term")
    assert tab.loc["value", "estimate"] > 0 and tab.loc["value", "conf.low"] > 0
    p = fit.predict(one.iloc[:5])
    assert p.shape == (5,) and ((p > 0) & (p < 1)).all()
    # P(choice = 1) rises with the learner's value
    assert np.corrcoef(p, one["value"].iloc[:5])[0, 1] > 0.9
