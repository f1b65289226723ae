"""The R stage's options are declared once (``repalign.r_config.RSection``): the flags of
``analysis/fit_models.R`` and the arguments of ``repalign::fit_run`` are checked against
it here, and ``[r] variant`` reaches R."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from repalign.r_config import RSection, r_flag
from repalign.r_stage import fit_models_flags, run_fit_models
from repalign.store import write_table

ROOT = Path(__file__).resolve().parents[2]
#: options of the script and of fit_run that are not [r] keys: where to read and write, brms' cache
NOT_CONFIG = {"input", "output", "cache_dir", "project", "verbose"}


def _script_flags() -> set[str]:
    return set(re.findall(r'make_option\("(--[a-z-]+)"', (ROOT / "analysis" / "fit_models.R").read_text()))


def _fit_run_args() -> set[str]:
    src = (ROOT / "R" / "run.R").read_text()
    head = src[src.index("fit_run <- function(") :]
    head = head[: head.index(") {\n")]
    return set(re.findall(r"[(,]\s*([a-z_]+)\s*(?==|,|$)", head))


def test_every_r_key_is_a_flag_of_fit_models_and_an_argument_of_fit_run():
    keys = set(RSection.model_fields)
    flags = _script_flags()
    assert {r_flag(k) for k in keys} <= flags, sorted({r_flag(k) for k in keys} - flags)
    assert flags - {r_flag(k) for k in keys} == {"--output", "--cache-dir"}  # not [r] keys
    args = _fit_run_args()
    assert "variant" in args and "n_boot" in args  # the parser reads the signature
    assert args - NOT_CONFIG == keys - {"input"}, (sorted(args - NOT_CONFIG), sorted(keys))


def test_flags_of_the_options():
    flags = fit_models_flags(
        {
            "input": "/x",
            "variant": "published",
            "n_boot": 10,
            "levels": [],
            "by": [],
            "id_dataset": None,
            "min_models_per_effect": 2.5,
        }
    )
    pairs = dict(zip(flags[::2], flags[1::2]))
    assert pairs == {"--variant": "published", "--n-boot": "10", "--levels": "none", "--min-models-per-effect": "2.5"}


def test_r_variant_reaches_r(tmp_path):
    """``[r] variant = "published"`` goes to fit_run, which has no published form of its
    models and says so in the stage's warnings; the default says nothing of it."""
    rng = np.random.default_rng(0)
    rows = [
        {
            "dataset": "cue-conflict",
            "agent": subject if kind == "network" else "people",
            "agent_type": kind,
            "subject": subject,
            "stimulus_id": f"img{i:02d}",
            "category": "cat",
            "response": "cat",
            "correct": bool(rng.random() < acc),
        }
        for subject, kind, acc in (("netA", "network", 0.9), ("s1", "human", 0.7), ("s2", "human", 0.7))
        for i in range(40)
    ]
    write_table(pd.DataFrame(rows), tmp_path / "in" / "decisions.parquet", "decisions", {"test": "variant"})
    notes = {}
    for variant in ("default", "published"):
        out = run_fit_models(str(tmp_path / variant), {"input": str(tmp_path / "in"), "variant": variant})
        w = out / "warnings.txt"
        notes[variant] = w.read_text() if w.is_file() else ""
    assert "variant 'published'" in notes["published"]
    assert "variant" not in notes["default"]


def test_the_r_stage_does_not_fit_the_dynamics_glmm_again(tmp_path):
    """With the [dynamics] stage's glmm.csv among its inputs the R stage takes its
    coefficients (a planted row here) instead of fitting the same GLMM again; without it,
    it fits the GLMM itself."""
    rows = [
        {
            "agent": agent,
            "agent_type": kind,
            "run": run,
            "epoch": epoch,
            "phase": phase,
            "image_name": f"img{i}.png",
            "correct": i < k,
        }
        for agent, kind, k0 in (("human", "human", 8), ("vit", "network", 12))
        for run in (1, 2)
        for epoch in (1, 2, 3)
        for phase, k in (("train", k0 + 2 * epoch), ("test", k0 + epoch))
        for i in range(20)
    ]
    inp = tmp_path / "in"
    write_table(pd.DataFrame(rows), inp / "trials-dynamics.parquet", "dynamics", {"test": "dynamics"})
    fitted = run_fit_models(str(tmp_path / "fitted"), {"input": str(inp)})
    terms = pd.read_csv(fitted / "dynamics_coefficients.csv")["term"]
    assert "(Intercept)" in set(terms)  # fitted here
    pd.DataFrame({"term": ["planted"], "estimate": [42.0]}).to_csv(inp / "glmm.csv", index=False)
    reused = run_fit_models(str(tmp_path / "reused"), {"input": str(inp)})
    coefs = pd.read_csv(reused / "dynamics_coefficients.csv")
    assert coefs["term"].tolist() == ["planted"] and coefs["estimate"].tolist() == [42.0]
    assert "not fitted again" in (reused / "summary.txt").read_text()
