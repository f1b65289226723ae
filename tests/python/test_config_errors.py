"""Bad configs and bad inputs: each fails before any task runs with ONE line naming
the section (and entry), the key, what was expected and the value given — and
nothing is written to the output directory.

Every case builds on a small offline study (scikit-learn digits, the pixel
baseline), so no data download is needed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from repalign.errors import RepalignError

BASE = """
[run]
output = "out"

[[stimuli]]
source = "digits"
n = 2

[[models]]
name = "pixels"
"""

DIMS = '\n[[metrics]]\nmetric = "dimensionality"\nmethods = ["pr"]\n'


def _folder(tmp_path: Path, broken: bool = False) -> Path:
    """Three small PNGs (and one file that is not an image)."""
    import numpy as np
    from PIL import Image

    d = tmp_path / "imgs" / "a"
    d.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)).save(d / f"{i}.png")
    if broken:
        (d / "broken.png").write_bytes(b"not an image")
    return tmp_path / "imgs"


# (id, config text, regex the whole one-line message must match)
CASES = [
    # [run] and the file's top level
    (
        "run-seed-string",
        '[run]\noutput = "out"\nseed = "abc"\n' + BASE.split("\n", 3)[3],
        r"\[run\] seed: expected an integer, got 'abc'",
    ),
    (
        "run-seed-bool",
        BASE.replace('output = "out"', 'output = "out"\nseed = true'),
        r"\[run\] seed: expected an integer, got True",
    ),
    (
        "run-name-int",
        BASE.replace('output = "out"', 'output = "out"\nname = 5'),
        r"\[run\] name: expected a string, got 5",
    ),
    (
        "run-unknown-key",
        BASE.replace('output = "out"', 'output = "out"\nsed = 1'),
        r"\[run\]: unknown key\(s\) \['sed'\]; valid keys: name, output, seed, description",
    ),
    (
        "unknown-section",
        BASE + '\n[[modles]]\nname = "pixels"\n',
        r"unknown section\(s\) \['modles'\]; valid sections: run, stimuli, .*",
    ),
    (
        "models-as-table",
        BASE.replace("[[models]]", "[models]"),
        r"\[\[models\]\]: expected an array of tables \(\[\[models\]\] entries\), got a table \(\[models\]\)",
    ),
    (
        "metrics-as-table",
        BASE + DIMS.replace("[[metrics]]", "[metrics]"),
        r"\[\[metrics\]\]: expected an array of tables \(\[\[metrics\]\] entries\), got a table \(\[metrics\]\)",
    ),
    ("run-as-array", BASE.replace("[run]", "[[run]]"), r"\[run\]: expected a table, got an array of tables"),
    ("r-as-array", BASE + "\n[[r]]\nk = 5\n", r"\[r\]: expected a table, got an array of tables"),
    (
        "empty-study",
        '[run]\noutput = "out"\n',
        r".*c\.toml: empty study: no stage section; add at least one of \[\[stimuli\]\], \[\[models\]\], .*",
    ),
    ("invalid-toml", BASE + "\n[[metrics]\n", r".*c\.toml: invalid TOML: .*"),
    # [[stimuli]] / [[models]] / [[representations]]
    ("stimuli-n-string", BASE.replace("n = 2", 'n = "2"'), r"\[\[stimuli\]\] #1 n: expected an integer, got '2'"),
    (
        "stimuli-unknown-source",
        BASE.replace('source = "digits"', 'source = "digitz"'),
        r"\[\[stimuli\]\] #1: unknown source 'digitz'; valid: mur92, learning-dynamics, .*digits",
    ),
    (
        "stimuli-key-not-for-source",
        BASE.replace("n = 2", 'n = 2\npath = "imgs"'),
        r"\[\[stimuli\]\] #1: key 'path' does not apply to source 'digits'",
    ),
    (
        "stimuli-limit-zero",
        BASE.replace("n = 2", "n = 2\nlimit = 0"),
        r"\[\[stimuli\]\] #1 limit: expected an integer ≥ 1, got 0",
    ),
    (
        "models-batch-size-string",
        BASE + 'batch_size = "big"\n',
        r"\[\[models\]\] #1 batch_size: expected an integer, got 'big'",
    ),
    (
        "models-layers-int",
        BASE + '\n[[models]]\nname = "pixels"\nalias = "px"\nlayers = 5\n',
        r"\[\[models\]\] #2 layers: expected a string or a list of strings, got 5",
    ),
    (
        "models-missing-name",
        BASE + "\n[[models]]\nalias = 'x'\n",
        r"\[\[models\]\] #2: missing required key\(s\) \['name'\]",
    ),
    (
        "models-skip-bad-string",
        BASE + 'skip_bad = "yes"\n',
        r"\[\[models\]\] #1 skip_bad: expected true or false, got 'yes'",
    ),
    (
        "models-unknown-key",
        BASE + 'layer = "output"\n',
        r"\[\[models\]\] #1: unknown key\(s\) \['layer'\]; valid keys: name, layers, .*",
    ),
    (
        "representations-dims-string",
        BASE + '\n[[representations]]\nname = "noise"\nsource = "random"\ndims = "64"\n',
        r"\[\[representations\]\] #1 dims: expected an integer, got '64'",
    ),
    (
        "representations-random-no-dims",
        BASE + '\n[[representations]]\nname = "noise"\nsource = "random"\n',
        r"\[\[representations\]\] #1: source 'random' needs dims ≥ 1",
    ),
    (
        "representations-key-not-for-source",
        BASE + '\n[[representations]]\nname = "s"\nsource = "spose49"\ndims = 3\n',
        r"\[\[representations\]\] #1: key\(s\) \['dims'\] do not apply to source 'spose49'",
    ),
    # [[metrics]]
    (
        "rsa-n-boot-string",
        BASE + '\n[[metrics]]\nmetric = "rsa"\nn_boot = "x"\n',
        r"\[\[metrics\]\] #1 n_boot: expected an integer, got 'x'",
    ),
    (
        "metrics-unknown-metric",
        BASE + DIMS + '\n[[metrics]]\nmetric = "rsaa"\n',
        r"\[\[metrics\]\] #2: 'metric' must be one of odd_one_out, noise_ceiling, .*, got 'rsaa'",
    ),
    (
        "metrics-level-out-of-range",
        BASE + DIMS + "level = 1.5\n",
        r"\[\[metrics\]\] #1 level: expected a finite number in \(0, 1\), got 1\.5",
    ),
    (
        "metrics-methods-int",
        BASE + DIMS.replace('["pr"]', "3"),
        r"\[\[metrics\]\] #1 methods: expected a string or a list of strings, got 3",
    ),
    (
        "cka-missing-reference",
        BASE + '\n[[metrics]]\nmetric = "cka"\n',
        r"\[\[metrics\]\] #1: missing required key\(s\) \['reference'\]",
    ),
    (
        "metrics-variant-typo",
        BASE + DIMS + 'variant = "publishd"\n',
        r"\[\[metrics\]\] #1: variant must be 'default' or 'published', got 'publishd'",
    ),
    (
        "metrics-unknown-representation",
        BASE + DIMS.replace('methods = ["pr"]', 'representations = ["clip"]'),
        r"\[\[metrics\]\] #1: unknown representation\(s\) \['clip'\]; defined: pixels/output@digits",
    ),
    # [[learners]]
    ("learners-task-int", BASE + "\n[[learners]]\ntask = 5\n", r"\[\[learners\]\] #1 task: expected a string, got 5"),
    (
        "learners-C-string",
        BASE + '\n[[learners]]\ntask = "demo-category"\nC = "big"\n',
        r"\[\[learners\]\] #1 C: expected a number, got 'big'",
    ),
    (
        "learners-simulate-temperature",
        BASE + '\n[[learners]]\ntask = "demo-category"\nsimulate = { temperature = "hot" }\n',
        r"\[\[learners\]\] #1 simulate\.temperature: expected a number, got 'hot'",
    ),
    (
        "learners-simulate-unknown-key",
        BASE + '\n[[learners]]\ntask = "demo-category"\nsimulate = { temp = 1 }\n',
        r"\[\[learners\]\] #1 simulate: unknown key\(s\) \['temp'\]; valid keys: temperature, lapse, seed",
    ),
    (
        "learners-stimuli-task-needs-stimuli",
        BASE + '\n[[learners]]\ntask = "stimuli-category"\n',
        r"\[\[learners\]\] #1: task 'stimuli-category' needs 'stimuli' \(a \[\[stimuli\]\] name\)",
    ),
    (
        "learners-selection",
        BASE + '\n[[learners]]\ntask = "demo-category"\nselection = "best"\n',
        r"\[\[learners\]\] #1: selection must be 'prequential' or 'train_accuracy', got 'best'",
    ),
    # [[embed]]
    (
        "embed-n-dims-string",
        BASE + '\n[[embed]]\nname = "e"\nn_dims = "50"\n',
        r"\[\[embed\]\] #1 n_dims: expected an integer, got '50'",
    ),
    (
        "embed-unknown-method",
        BASE + '\n[[embed]]\nname = "e"\nmethod = "pca"\n',
        r"\[\[embed\]\] #1: method = 'pca'; valid: spose, vice",
    ),
    (
        "embed-key-of-other-method",
        BASE + '\n[[embed]]\nname = "e"\nspike = 0.1\n',
        r"\[\[embed\]\] #1: key\(s\) \['spike'\] do not apply to method 'spose'; its keys: l1, prune_threshold",
    ),
    # [dynamics]
    (
        "dynamics-chance-p-string",
        BASE + '\n[dynamics]\nchance_p = "x"\n',
        r"\[dynamics\] chance_p: expected a number, got 'x'",
    ),
    (
        "dynamics-agents-string",
        BASE + '\n[dynamics]\nagents = "human"\n',
        r"\[dynamics\] agents: expected a list of strings, got 'human'",
    ),
    (
        "dynamics-nagq",
        BASE + "\n[dynamics]\nglmm_nagq = 2\n",
        r"\[dynamics\]: glmm_nagq: must be 0 \(fast, penalised IRLS\) or 1 \(Laplace\)",
    ),
    (
        "dynamics-simulate-C",
        BASE + '\n[dynamics]\n[[dynamics.simulate]]\nmodel = "pixels"\nC = "x"\n',
        r"\[\[dynamics\.simulate\]\] #1 C: expected a number, got 'x'",
    ),
    # [r], [executor]
    ("r-k-string", BASE + DIMS + '\n[r]\nk = "five"\n', r"\[r\] k: expected an integer, got 'five'"),
    (
        "r-levels-string",
        BASE + DIMS + '\n[r]\nlevels = "model"\n',
        r"\[r\] levels: expected a list of values among 'model', 'trial', got 'model'",
    ),
    ("r-engine", BASE + DIMS + '\n[r]\nengine = "stan"\n', r"\[r\]: engine must be 'lme4' or 'brms', got 'stan'"),
    (
        "executor-kind",
        BASE + '\n[executor]\nkind = "cloud"\n',
        r"\[executor\]: kind must be one of local, dask, slurm, got 'cloud'",
    ),
    (
        "executor-workers-string",
        BASE + '\n[executor]\nn_workers = "4"\n',
        r"\[executor\] n_workers: expected an integer, got '4'",
    ),
    (
        "report-unknown-key",
        BASE + "\n[report]\ntitle = 1\n",
        r"\[report\]: unknown key\(s\) \['title'\]; this section takes no keys",
    ),
    # bad inputs
    (
        "folder-missing",
        BASE.replace('source = "digits"\nn = 2', 'source = "folder"\npath = "no/such/dir"'),
        r"stimulus folder not found: .*no/such/dir",
    ),
    (
        "folder-broken-image",
        BASE.replace('source = "digits"\nn = 2', 'name = "f"\nsource = "folder"\npath = "imgs"'),
        r"\[\[stimuli\]\] 'f': cannot read image .*broken\.png \(id 'a/broken'\): cannot identify image file .*; "
        r"fix or remove it, or set skip_bad = true in \[\[models\]\] 'pixels'",
    ),
    (
        "output-not-creatable",
        BASE.replace('output = "out"', 'output = "afile/out"'),
        r"\[run\] output: cannot create directory .*afile/out: .*",
    ),
]


@pytest.mark.parametrize("text,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_and_writes_nothing(tmp_path, text, pattern):
    from repalign.pipeline import run

    _folder(tmp_path, broken=True)
    (tmp_path / "afile").write_text("a file where a directory should be")
    cfg = tmp_path / "c.toml"
    cfg.write_text(text)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    with pytest.raises(RepalignError) as info:
        run(cfg, report=False, progress=False)
    msg = str(info.value)
    assert "\n" not in msg, msg
    assert re.fullmatch(pattern, msg), msg
    assert not (tmp_path / "out").exists()
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_case_count():
    assert len(CASES) >= 30


def test_missing_config_file(tmp_path):
    from repalign.config import load_config

    with pytest.raises(RepalignError, match=r"^config file not found: .*nope\.toml$"):
        load_config(tmp_path / "nope.toml")


def test_cli_prints_one_line_without_traceback(tmp_path, monkeypatch, capsys):
    """``repalign run c.toml`` with ``seed = "abc"``: one line on stderr, exit 1."""
    import repalign.cli as cli

    cfg = tmp_path / "c.toml"
    cfg.write_text('[run]\noutput = "/tmp/x/o"\nseed = "abc"\n')
    monkeypatch.setattr(sys, "argv", ["repalign", "run", str(cfg)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert err == "error: [run] seed: expected an integer, got 'abc'\n"


def test_cli_os_error_is_one_line(monkeypatch, capsys):
    """An OS error on a user path (here: permission denied) is one line naming the path."""
    import repalign.cli as cli

    def denied():
        raise PermissionError(13, "Permission denied", "/data/images/cat.png")

    monkeypatch.setattr(cli, "app", denied)
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 1
    assert capsys.readouterr().err == "error: Permission denied: /data/images/cat.png\n"


def test_valid_variant_and_its_default_keep_the_task_keys(tmp_path):
    """``variant = "default"`` written out gives the keys of a config without it;
    ``"published"`` validates and changes the key (it is a different computation)."""
    from repalign.config import load_config
    from repalign.pipeline import plan_all

    def keys(extra: str) -> set[str]:
        cfg = tmp_path / "c.toml"
        cfg.write_text(BASE + DIMS + extra)
        return {t.key for t in plan_all(load_config(cfg)) if t.stage == "metrics"}

    plain = keys("")
    assert keys('variant = "default"\n') == plain
    assert keys('variant = "published"\n') != plain


def test_skip_bad_plans_past_a_broken_image(tmp_path):
    """The plan-time image check leaves a model with ``skip_bad = true`` alone (its
    extraction skips the file and records it)."""
    from repalign.config import load_config
    from repalign.pipeline import plan_all

    _folder(tmp_path, broken=True)
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        BASE.replace('source = "digits"\nn = 2', 'name = "f"\nsource = "folder"\npath = "imgs"') + "skip_bad = true\n"
    )
    tasks = plan_all(load_config(cfg))
    assert [t.stage for t in tasks] == ["features"]
    assert tasks[0].kwargs["skip_bad"] is True
