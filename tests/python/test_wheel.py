"""repalign installs and runs from a wheel, away from the source checkout.

Builds the wheel, installs it (without dependencies) into a fresh virtual environment that
borrows this environment's third-party packages, and runs the CLI and a metric from an
unrelated directory: package data (the curated models table, the data registry) must come
from the installed package, not from repository-relative paths.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from repalign.children import child_env

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("wheel")
    # every child gets a clean environment (what an embedded R changed undone: repalign.children), and
    # nothing of this checkout on the path (pip would find repalign there and install nothing)
    env = child_env(unset=("PYTHONPATH", "REPALIGN_MODELS_CSV", "REPALIGN_RLIB"))
    # build from a copy of what the wheel is made of, so that the build leaves nothing in the checkout
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    shutil.copytree(ROOT / "python", src / "python", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp / "dist"),
            str(src),
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("repalign-*.whl")
    env_dir = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env_dir)], check=True, env=env)
    py = env_dir / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        ).stdout.strip()
    )
    inst = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "-q", str(wheel)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert inst.returncode == 0, inst.stderr[-3000:]
    # third-party packages from this environment (added after the install, so that pip
    # does not find this checkout's editable repalign there); a .pth line adds the folder only (its own .pth
    # files, e.g. this checkout's editable install, are not processed)
    (site / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    work = tmp / "elsewhere"
    work.mkdir()
    return wheel, env_dir, work, env


def test_wheel_holds_package_data(wheel_env):
    wheel, *_ = wheel_env
    names = zipfile.ZipFile(wheel).namelist()
    for data in ("repalign/models/models.csv", "repalign/datasets/registry.tsv", "repalign/py.typed"):
        assert data in names, f"{data} missing from {wheel.name}"


def test_installed_package_runs_from_another_directory(wheel_env):
    _, env_dir, work, env = wheel_env
    where = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", "import repalign; print(repalign.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(env_dir) in where and str(ROOT) not in where, where
    out = subprocess.run(
        [str(env_dir / "bin" / "repalign"), "models", "list"],
        cwd=work,
        env={**env, "COLUMNS": "250"},  # wide enough for every column (the table fits the terminal)
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    # values that only the curated models table inside the wheel holds (ILSVRC-2012 train size, params)
    line = next(ln for ln in out.stdout.splitlines() if "efficientnet_lite0 " in ln)
    assert "1,281,167" in line and "4,652,008" in line, line
    # a metric with a planted truth: linear CKA is 1 under rotation and isotropic scaling, ~0 for
    # independent noise
    code = (
        "import numpy as np; from repalign.metrics import cka; r = np.random.default_rng(0); "
        "X = r.normal(size=(300, 20)); Q, _ = np.linalg.qr(r.normal(size=(20, 20))); "
        "print(cka(X, 3 * X @ Q), cka(X, r.normal(size=(300, 20))))"
    )
    res = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", code], cwd=work, env=env, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    same, noise = map(float, res.stdout.split())
    assert same == pytest.approx(1.0, abs=1e-9)
    assert noise < 0.15


def test_installed_package_reads_nothing_outside_itself(wheel_env):
    """From a wheel: no source checkout, figure colours from the package's own models table, and
    no R package found without REPALIGN_RLIB or R's own libraries — said in one line."""
    _, env_dir, work, env = wheel_env
    code = (
        "from repalign import rlib; from repalign.style import model_objectives; "
        "print(rlib.checkout_root(), rlib.rlib_path()); print(model_objectives(['efficientnet_lite0', "
        "'clip_vit_b32']))\n"
        "try:\n    rlib.installed_r_package(); print('found')\nexcept rlib.RPackageMissing as e:\n    "
        "print('missing:', e)"
    )
    # R's own libraries only (the Makefile's R_LIBS names the checkout's .rlib)
    bare = {k: v for k, v in env.items() if k not in ("R_LIBS", "R_LIBS_USER")}
    bare["R_LIBS_USER"] = str(work / "no-user-library")
    res = subprocess.run(
        [str(env_dir / "bin" / "python"), "-c", code], cwd=work, env=bare, capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr[-2000:]
    lines = res.stdout.splitlines()
    assert lines[0] == "None None", lines
    # the curated table says: ImageNet classification = supervised, CLIP = image-text contrastive
    assert "'efficientnet_lite0': 'supervised'" in lines[1], lines[1]
    assert lines[2].startswith("missing: the repalign R package is not installed (looked in no source checkout"), lines[
        2
    ]
