"""What a config gets wrong is said at plan time, in one line naming the entry
(issue #24): layer names against the architecture, the stimulus set of a file
source without ``stimuli =``; every warning of the report names its model; the R
script's default seed is the pipeline's."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import child_python_env, digits_study
from typer.testing import CliRunner

from repalign.config import load_config
from repalign.errors import ValidationError
from repalign.features import load_stimulus_set
from repalign.pipeline.plan import resolve_config

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _cfg(tmp_path: Path, body: str):
    p = tmp_path / "study.toml"
    p.write_text(textwrap.dedent(body))
    return load_config(p, output=tmp_path / "out")


# ---- layer names ------------------------------------------------------------------------


def test_unknown_layer_fails_the_plan_in_one_short_line(tmp_path):
    cfg = tmp_path / "study.toml"
    cfg.write_text(
        digits_study(2, models=({"name": "efficientnet_lite0", "layers": ["penultimate", "blocks.10"]},))
        + '\n[[metrics]]\nmetric = "dimensionality"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "repalign", "run", str(cfg), "--dry-run"],
        capture_output=True,
        text=True,
        env=child_python_env(),
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 1
    err = proc.stderr.strip()
    assert "\n" not in err and "Traceback" not in err
    assert "[[models]] #1 (efficientnet_lite0): unknown layer 'blocks.10'" in err
    assert "closest: _blocks.10" in err and len(err) < 600  # the closest names, not all 184
    assert not (tmp_path / "out").exists()


def test_layer_names_of_a_pretrained_model_are_checked_without_its_weights(tmp_path, monkeypatch):
    # an empty Hugging Face cache: the check builds the architecture on the "meta" device
    from repalign.models import get_spec
    from repalign.models.layers import check_layers

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = get_spec("open_clip/ViT-B-32:openai")
    check_layers(spec, ["output", "transformer.resblocks.11"], "entry")  # real names pass
    with pytest.raises(
        ValidationError, match=r"^entry: unknown layer 'resblocks\.11' for model 'open_clip/ViT-B-32:openai'"
    ):
        check_layers(spec, ["resblocks.11"], "entry")


# ---- a file source's stimulus set ---------------------------------------------------------

DIGITS = '[[stimuli]]\nname = "digits"\nsource = "digits"\nn = 2\n'


def _file_entry(path: str, extra: str = "") -> str:
    return f'[[representations]]\nname = "mine"\nsource = "file"\npath = "{path}"\nids_file = "ids.txt"\n{extra}'


def _write(tmp_path: Path, ids, d: int = 4) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((len(ids), d)))
    (tmp_path / "ids.txt").write_text("\n".join(ids) + "\n")


def test_file_without_stimuli_takes_the_set_its_ids_cover(tmp_path):
    ids = load_stimulus_set({"source": "digits", "n": 2}).ids
    _write(tmp_path, ids)
    ref = resolve_config(_cfg(tmp_path, DIGITS + _file_entry("x.npy"))).reps["mine"]
    assert ref.stimuli == "digits"


def test_file_of_other_ids_without_stimuli_is_an_error_naming_the_entry(tmp_path):
    # 30 of the user's own images: neither the [[stimuli]] set nor THINGS concepts
    _write(tmp_path, [f"img{i:02d}" for i in range(30)])
    with pytest.raises(ValidationError) as err:
        resolve_config(_cfg(tmp_path, DIGITS + _file_entry("x.npy")))
    msg = str(err.value)
    assert "\n" not in msg
    assert "[[representations]] #1 (mine): no stimuli = key" in msg
    assert "30 ids (e.g. 'img00')" in msg and 'add stimuli = "<a [[stimuli]] name>" or stimuli = "things"' in msg
    assert "[[stimuli]] sets: digits" in msg


def test_file_whose_ids_cover_two_sets_must_say_which(tmp_path):
    ids = load_stimulus_set({"source": "digits", "n": 2}).ids
    _write(tmp_path, ids)
    body = DIGITS + '[[stimuli]]\nname = "fewer"\nsource = "digits"\nn = 1\n' + _file_entry("x.npy")
    with pytest.raises(
        ValidationError, match=r"\(mine\): its ids cover several \[\[stimuli\]\] sets \(digits, fewer\)"
    ):
        resolve_config(_cfg(tmp_path, body))


@pytest.mark.data
def test_file_of_things_ids_without_stimuli_is_things(tmp_path):
    from repalign.datasets.things import load_things_ids

    ids = load_things_ids()[:30]
    _write(tmp_path, ids)
    assert resolve_config(_cfg(tmp_path, _file_entry("x.npy"))).reps["mine"].stimuli == "things"
    # one id that is not a THINGS concept: no silent "things"
    _write(tmp_path, list(ids[:29]) + ["my_photo_7"])
    with pytest.raises(
        ValidationError,
        match=r"ids \(e\.g\. 'my_photo_7'\) match no \[\[stimuli\]\] set and are not THINGS concept ids",
    ):
        resolve_config(_cfg(tmp_path, _file_entry("x.npy")))


# ---- warnings name their model -----------------------------------------------------------


def test_diagnostic_warnings_name_the_model_they_are_about(tmp_path):
    from repalign.pipeline.report import diagnostic_warnings

    p = tmp_path / "choice_model_diagnostics.csv"
    pd.DataFrame(
        {
            "group": ["model=pixels, layer=output", "model=lite0, layer=penultimate", "model=x, layer=y"],
            "converged": [True, True, True],
            "messages": ["fold 2: boundary (singular) fit", None, ""],
        }
    ).to_csv(p, index=False)
    assert diagnostic_warnings(p) == [
        "choice_model_diagnostics.csv (model=pixels, layer=output): fold 2: boundary (singular) fit"
    ]
    q = tmp_path / "accuracy_diagnostics.csv"
    pd.DataFrame({"dataset": ["cue-conflict"], "messages": ["Model failed to converge"]}).to_csv(q, index=False)
    assert diagnostic_warnings(q) == ["accuracy_diagnostics.csv (dataset=cue-conflict): Model failed to converge"]


# ---- the R script's seed -----------------------------------------------------------------


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="R not installed")
def test_fit_models_default_seed_is_the_pipelines():
    from repalign.config import RunSection
    from repalign.rlib import r_env

    if not (ROOT / ".rlib" / "repalign").is_dir() and "REPALIGN_RLIB" not in os.environ:
        pytest.skip("R package not installed (make install-rpkg)")
    proc = subprocess.run(
        ["Rscript", str(ROOT / "analysis" / "fit_models.R"), "--help"],
        capture_output=True,
        text=True,
        env=r_env(),
        timeout=120,
    )
    m = re.search(r"--seed=SEED\s+seed of folds and bootstrap \[default (\d+)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    assert int(m[1]) == RunSection().seed


def _warns(n: int, path: str) -> None:
    import warnings

    warnings.warn(f"{n} fits did not converge", RuntimeWarning, stacklevel=2)
    Path(path).write_text("x")


def test_a_warning_inside_a_task_names_the_task(tmp_path):
    import warnings

    from repalign.task import Task, run_local

    t = Task(
        key="k1",
        stage="learners",
        outputs=(tmp_path / "a.txt",),
        fn=_warns,
        args=(3, str(tmp_path / "a.txt")),
        label="stimuli-category pixels/output@digits",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run_local([t], progress=False)
    msgs = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert msgs == ["learners stimuli-category pixels/output@digits: 3 fits did not converge"]
