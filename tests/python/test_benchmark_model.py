"""The cross-benchmark alignment model from Python (rpy2): metrics tables of several
benchmarks with a planted effect of training-set size → the tidy alignment table → the
hierarchical model recovers the effect, and the common scale is the documented one."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    not (ROOT / ".rlib" / "repalign").is_dir() and "REPALIGN_RLIB" not in os.environ,
    reason="the repalign R package is not installed (make install-rpkg)",
)


def _planted(n_models=20, slope=0.06, seed=0):
    """Metrics tables of four benchmarks (odd-one-out with a noise ceiling, RSA with its
    ceiling, error consistency with the people's κ, CKA) whose scaled value rises by
    ``slope`` per log10 training images, plus model metadata and intrinsic dimensionality."""
    rng = np.random.default_rng(seed)
    names = [f"net{i:02d}" for i in range(n_models)]
    size = np.round(10 ** rng.uniform(3, 9, n_models))
    objective = np.where(np.arange(n_models) % 2 == 0, "supervised", "self-supervised")
    models = pd.DataFrame({"name": names, "family": "CNN", "objective": objective, "train_size": size})
    x = np.log10(size + 1)
    model_effect = rng.normal(0, 0.05, n_models)
    rows = []

    def add(model, dataset, metric, value, ci=None, **extra):
        lo, hi = ci if ci is not None else (np.nan, np.nan)
        rows.append(
            {
                "model": model,
                "layer": "" if model in ("human", "humans") else "penultimate",
                "dataset": dataset,
                "metric": metric,
                "value": float(value),
                "ci_low": lo,
                "ci_high": hi,
                "n": 100,
                **extra,
            }
        )

    # benchmark: scaled = 0.1 + slope * x + model effect + noise; raw = chance + scaled * (ceiling - chance)
    specs = [
        ("train_90", "odd_one_out_cosine", 1 / 3, 0.67, ("human", "noise_ceiling_sim")),
        ("mur92", "rsa_spearman", 0.0, 0.4, ("human", "rsa_spearman_ceiling_upper")),
        ("edges", "kappa_to_humans", 0.0, 0.3, ("humans", "kappa_to_humans")),
    ]
    for dataset, metric, chance, ceiling, (who, cmetric) in specs:
        add(who, dataset, cmetric, ceiling)
        scaled = 0.1 + slope * x + model_effect + rng.normal(0, 0.02, n_models)
        for m, s in zip(names, scaled):
            v = chance + s * (ceiling - chance)
            add(m, dataset, metric, v, (v - 0.01, v + 0.01))
    for m, xi, u in zip(names, x, model_effect):
        add(m, "mur92", "cka_linear", 0.2 + 0.02 * xi + u / 5 + rng.normal(0, 0.005))
        add(m, "mur92", "dimensionality_twonn", rng.normal(20, 3))
    return pd.DataFrame(rows), models


def test_alignment_table_and_model_recover_the_planted_size_effect():
    from repalign import r

    metrics, models = _planted()
    table = r.benchmark_table(metrics)
    assert set(table["benchmark"]) == {"odd_one_out:train_90", "rsa:mur92", "error_consistency:edges", "cka:mur92"}
    assert not table["model"].isin(["human", "humans"]).any()
    ooo = table[table["benchmark"] == "odd_one_out:train_90"].set_index("model")
    raw = metrics[(metrics["metric"] == "odd_one_out_cosine")].set_index("model")["value"]
    np.testing.assert_allclose(ooo["scaled"], (raw[ooo.index] - 1 / 3) / (0.67 - 1 / 3), atol=1e-12)
    assert (table.loc[table["benchmark"] == "cka:mur92", "scale"] == "standardised").all()

    # the model on the three benchmarks with chance and ceiling (CKA's standardised scale has other units)
    res = r.fit_benchmark_model(table[table["scale"] == "chance_ceiling"], models, metrics, min_models_per_effect=0)
    coefs = res["coefficients"].set_index("term")
    size = coefs.loc["log10(train_size + 1)"]
    # the planted slope (0.06 per log10 image on the three chance/ceiling benchmarks) lies in the interval
    # and the size effect is clearly positive
    assert size["conf.low"] > 0
    assert size["conf.low"] <= 0.06 <= size["conf.high"]
    # no planted difference between objectives
    inter = coefs.loc["log10(train_size + 1):objectivesupervised"]
    assert inter["conf.low"] <= 0 <= inter["conf.high"]
    slopes = res["slopes"]
    assert set(slopes["method"]) == {"partial pooling", "no pooling"}
    pp = slopes[slopes["method"] == "partial pooling"].set_index("benchmark")
    for b in ("odd_one_out:train_90", "rsa:mur92", "error_consistency:edges"):
        assert pp.loc[b, "conf.low"] <= 0.06 <= pp.loc[b, "conf.high"], (b, pp.loc[b].to_dict())


def test_the_r_stage_fits_it_when_a_run_holds_two_benchmarks(tmp_path):
    """fit_models.R on metrics tables only (no human trials): the alignment table, the
    coefficients, the slopes, and one printed line per fixed effect."""
    import subprocess

    from repalign.rlib import r_env
    from repalign.store import write_table

    metrics, models = _planted(seed=1)
    inp = tmp_path / "in"
    write_table(metrics[metrics["metric"] != "cka_linear"], inp / "metrics" / "m.parquet", "metrics")
    models.to_csv(inp / "models.csv", index=False)
    proc = subprocess.run(
        [
            "Rscript",
            str(ROOT / "analysis" / "fit_models.R"),
            "--input",
            str(inp),
            "--output",
            str(tmp_path / "out"),
            "--min-models-per-effect",
            "0",
        ],
        capture_output=True,
        text=True,
        env=r_env(),
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("benchmark_model ")]
    terms = [ln.split()[1] for ln in lines]
    assert "log10(train_size" in " ".join(terms)
    assert all(ln.endswith("benchmarks 3 models 20") for ln in lines), lines
    for name in ("benchmark_table.csv", "benchmark_coefficients.csv", "benchmark_slopes.csv"):
        assert (tmp_path / "out" / name).is_file(), name
    table = pd.read_csv(tmp_path / "out" / "benchmark_table.csv")
    assert len(table) == 3 * 20
