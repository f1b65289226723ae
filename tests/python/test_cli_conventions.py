"""The command line's conventions (issue #24): --version, -h everywhere, one meaning
per short flag, run -c/--config and --output, run --dry-run (the plan, nothing
written), one quiet flag, cached re-runs said to be cached, tables fitted to the
terminal, the models list's offline column."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import typer
from builders import child_python_env, digits_study
from typer.testing import CliRunner

from repalign.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


def _commands() -> list[tuple[str, object]]:
    """(path, command) of every command and group under the app (typer's own click:
    classes are checked by what they have, not by click's names)."""
    out = []

    def walk(cmd, path: str) -> None:
        out.append((path, cmd))
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(sub, f"{path} {name}".strip())

    walk(typer.main.get_command(app), "")
    return out


def test_version_prints_the_package_version():
    from importlib.metadata import version

    for flag in ("--version", "-V"):
        res = runner.invoke(app, [flag])
        assert res.exit_code == 0, res.output
        assert res.output.strip() == f"repalign {version('repalign')}"


@pytest.mark.parametrize("path", [p for p, _ in _commands()])
def test_h_is_help_everywhere(path):
    args = path.split() if path else []
    long = runner.invoke(app, args + ["--help"])
    short = runner.invoke(app, args + ["-h"])
    assert long.exit_code == 0 and short.exit_code == 0, short.output
    assert short.output == long.output and "Usage:" in short.output


def test_each_short_flag_has_one_meaning_across_commands():
    meaning: dict[str, set[str]] = {}
    for _path, cmd in _commands():
        for p in cmd.params:
            if p.param_type_name != "option" or p.hidden:
                continue
            shorts = [o for o in p.opts + p.secondary_opts if re.fullmatch(r"-[A-Za-z]", o)]
            longs = [o for o in p.opts if o.startswith("--")]
            for s in shorts:
                meaning.setdefault(s, set()).add(longs[0] if longs else s)
    clashes = {s: m for s, m in meaning.items() if len(m) > 1}
    assert not clashes, clashes
    # the conventional ones mean what they say wherever they appear
    assert meaning["-c"] == {"--config"} and meaning["-o"] == {"--output"} and meaning["-q"] == {"--quiet"}


def test_commands_that_write_an_output_folder_take_o_and_q():
    for path, cmd in _commands():
        if path in ("run", "features", "metrics", "simulate", "embed", "dynamics"):
            opts = {o for p in cmd.params for o in p.opts}
            assert {"-o", "--output", "-q", "--quiet"} <= opts, (path, sorted(opts))


def test_no_progress_is_a_hidden_alias_of_quiet():
    res = runner.invoke(app, ["dynamics", "--help"], env={"COLUMNS": "200"})
    assert "--quiet" in res.output and "--no-progress" not in res.output
    dyn = dict(_commands())["dynamics"]
    assert any("--no-progress" in p.secondary_opts for p in dyn.params)


def _study(tmp_path: Path) -> Path:
    cfg = tmp_path / "study.toml"
    cfg.write_text(digits_study(2, output="out") + '\n[[metrics]]\nmetric = "dimensionality"\nmethods = ["pr"]\n')
    return cfg


def test_run_dry_run_prints_the_plan_and_writes_nothing(tmp_path):
    cfg = _study(tmp_path)
    out = tmp_path / "elsewhere"
    res = runner.invoke(app, ["run", "-c", str(cfg), "-o", str(out), "--dry-run"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert not out.exists() and not (tmp_path / "out").exists()  # no folder, no lock, no versions.json
    assert "2 to run" in res.output and "nothing written" in res.output
    stages = [ln.split()[0] for ln in res.output.splitlines() if re.match(r"^\w+ \(\d+ ", ln)]
    assert stages == ["features", "metrics"]
    assert re.search(r"^\s+to run\s+pixels on digits", res.output, re.M)


def test_run_output_positional_config_quiet_and_cached_rerun(tmp_path):
    cfg = _study(tmp_path)
    out = tmp_path / "chosen"
    first = runner.invoke(app, ["run", str(cfg), "--output", str(out), "-q", "--no-report"])
    assert first.exit_code == 0, first.output
    assert any((out / "metrics").glob("*.parquet")) and not (tmp_path / "out").exists()
    assert "finished in" in first.output and "2 done" in first.output
    # the same study through -c: everything cached, and the run says so
    again = runner.invoke(app, ["run", "-c", str(cfg), "-o", str(out), "-q"])
    assert again.exit_code == 0, again.output
    assert "all 2 tasks cached: nothing recomputed" in again.output
    html = (out / "report.html").read_text()
    assert "2 tasks: all 2 cached (nothing recomputed)" in html and " tasks in " not in html
    plan = runner.invoke(app, ["run", "-c", str(cfg), "-o", str(out), "--dry-run"], env={"COLUMNS": "200"})
    assert "2 cached" in plan.output and "to run" not in plan.output


def test_run_two_different_configs_is_one_line_error(tmp_path):
    a = _study(tmp_path)
    b = tmp_path / "other.toml"
    b.write_text(a.read_text())
    proc = subprocess.run(
        [sys.executable, "-m", "repalign", "run", str(a), "-c", str(b), "--dry-run"],
        capture_output=True,
        text=True,
        env=child_python_env(),
        cwd=tmp_path,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().count("\n") == 0 and "two configs given" in proc.stderr
    none = subprocess.run(
        [sys.executable, "-m", "repalign", "run"], capture_output=True, text=True, env=child_python_env(), cwd=tmp_path
    )
    assert none.returncode == 1 and "no config given" in none.stderr and "Traceback" not in none.stderr


def _listing(tmp_path: Path, *args: str) -> pd.DataFrame:
    csv = tmp_path / f"models{len(args)}.csv"
    res = runner.invoke(app, ["models", "list", *args, "--csv", str(csv)], env={"COLUMNS": "120"})
    assert res.exit_code == 0, res.output
    return pd.read_csv(csv)


def test_models_list_offline_column_and_filter(tmp_path):
    from repalign.models import get_spec

    full = _listing(tmp_path)
    status = dict(zip(full["name"], full["offline"]))
    # planted truths: what needs no download by construction, and what cannot run here at all
    assert status["efficientnet_lite0"] == "yes: packaged" and status["pixels"] == "yes: pixels"
    assert status["random:open_clip/ViT-B-32"] == "yes: random-init"
    assert all(status[n] == "no: features file" for n in full["name"] if get_spec(n).backend == "external")
    off = _listing(tmp_path, "--offline")
    assert set(off["name"]) == {n for n, s in status.items() if s.startswith("yes")}
    assert {"efficientnet_lite0", "minilm", "pixels"} <= set(off["name"])


def test_backend_random_lists_the_random_rows_of_the_default_list(tmp_path):
    default = {n for n in _listing(tmp_path)["name"] if n.startswith("random:")}
    rnd = set(_listing(tmp_path, "--backend", "random")["name"])
    assert rnd == default and len(rnd) > 3


@pytest.mark.parametrize("width", [80, 120])
def test_models_list_fits_the_terminal(width):
    res = runner.invoke(app, ["models", "list"], env={"COLUMNS": str(width)})
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert max(map(len, lines)) <= width
    names = [ln.split()[0] for ln in lines if ln.startswith("  ") and ln.split()]
    assert "open_clip/ViT-B-32:openai" in names  # names whole, never cut to "…"
    assert "offline" in res.output and "…" not in res.output


def test_layers_no_shapes_needs_no_weights(tmp_path):
    # an empty Hugging Face cache and no network: the pretrained weights cannot be there
    env = child_python_env() | {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    proc = subprocess.run(
        [sys.executable, "-m", "repalign", "models", "layers", "open_clip/ViT-B-32:openai", "--no-shapes"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    assert "transformer.resblocks.11 " in proc.stdout and "conv1 " in proc.stdout
