"""The offline demo (analysis/configs/demo.toml) end to end: a model-recovery
study on scikit-learn's digits that needs no download. The report must name the
generating model (EfficientNet-Lite1) as the most aligned."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from repalign.config import load_config
from repalign.pipeline import run
from repalign.store import read_table

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "analysis" / "configs" / "demo.toml"


# demo_run: session fixture in conftest.py (shared with test_report_browser.py)


def test_demo_runs_every_stage(demo_run):
    out, status = demo_run
    assert set(status.values()) == {"done"}
    assert len(status) == 16  # 5 extractions, 5 dimensionality, 5 learners, 1 R stage
    trials = [read_table(p, kind="trials") for p in sorted((out / "learners").glob("*.parquet"))]
    assert len(trials) == 5
    for df in trials:
        assert len(df) == 20 * 120 and df["participant"].nunique() == 20
        assert set(df["choice"].unique()) == {0, 1}
    # every model's learner is compared with the same simulated choices
    assert all((df["choice"].to_numpy() == trials[0]["choice"].to_numpy()).all() for df in trials)


def test_demo_recovers_the_generating_model(demo_run):
    out, _ = demo_run
    (scores_path,) = list((out / "r").glob("*/alignment_scores.csv"))
    scores = pd.read_csv(scores_path).sort_values("pseudo_r2", ascending=False)
    assert scores.iloc[0]["model"] == "efficientnet_lite1"
    assert scores.iloc[0]["ci_low"] > scores.iloc[1]["ci_high"]  # separated beyond the bootstrap CIs
    findings = json.loads((out / "findings.json").read_text())
    assert any("generated from efficientnet_lite1" in f and "recovered it" in f for f in findings)
    html = (out / "report.html").read_text()
    assert "recovered it as the most aligned model" in html and "<h2>Metrics</h2>" in html
    assert list((out / "r").glob("*/figures/*.png"))  # at least one figure was written


def test_demo_rerun_does_no_repeated_work(demo_run):
    out, _ = demo_run
    again = run(load_config(DEMO, output=out), progress=False, report=False)
    assert set(again.values()) == {"skipped"}
