"""The same install everywhere: the environment is the lock, children start clean after R
was embedded, nothing in the package reaches outside it, no machine's paths in the tree."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from repalign.children import child_env, embedded_changes, shell_prologue
from repalign.versions import lock_differences, read_lock

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"


def _tracked(*patterns: str) -> list[Path]:
    out = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", *patterns], capture_output=True, text=True, env=child_env()
    )
    if out.returncode != 0:
        pytest.fail(f"git ls-files failed: {out.stderr.strip()}")
    return [ROOT / p for p in out.stdout.splitlines() if (ROOT / p).is_file()]


# --- the lock ----------------------------------------------------------------------------------
def test_the_environment_is_the_lock():
    """`make install` made this interpreter's environment from requirements/lock.txt: the same
    package names and versions (a CPU build of torch may carry its +cpu label)."""
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip(f"not the checkout's .venv made by `make install` (sys.prefix = {sys.prefix})")
    assert lock_differences(LOCK) == []


def test_lock_pins_every_package_with_hashes():
    entries = read_lock(LOCK)
    names = {e.name for e in entries}
    # direct dependencies of pyproject.toml (and the extras test, r) are all pinned
    for name in ("numpy", "scikit-learn", "torch", "torchvision", "pyarrow", "rpy2", "pytest", "pip", "setuptools"):
        assert name in names, name
    assert all(re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", e.version) for e in entries)
    assert all(e.hashes and all(h.startswith("sha256:") for h in e.hashes) for e in entries)
    assert len(names) == len(entries), "a package pinned twice"


def test_lock_differences_name_what_differs(tmp_path):
    """A planted lock and environment: one package missing, one at another version, one extra, a
    CPU build of torch that matches its pin, and an entry for another platform that is ignored."""
    lock = tmp_path / "lock.txt"
    lock.write_text(
        "alpha==1.0 \\\n    --hash=sha256:aa\n"
        "beta-pkg==2.0 \\\n    --hash=sha256:bb\n"
        "gamma==3.0 ; sys_platform == 'nonexistent-os' \\\n    --hash=sha256:cc\n"
        "torch==2.14.1 \\\n    --hash=sha256:dd\n"
        "nvidia-cublas==13.1 ; sys_platform == 'linux' \\\n    --hash=sha256:ee\n"
    )
    installed = {"beta-pkg": "2.1", "torch": "2.14.1+cpu", "extra": "0.1", "repalign": "0.1.0"}
    assert lock_differences(lock, installed) == [
        "alpha: missing (lock: 1.0)",
        "beta-pkg: 2.1 installed, lock: 2.0",
        "extra: 0.1 installed, not in the lock",
    ]


def test_cpu_requirements_leave_out_the_cuda_build_only():
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import lock as lockscript
    finally:
        sys.path.pop(0)
    cpu = lockscript.requirements("cpu")
    full = {e.name for e in read_lock(LOCK)}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"repalign-cpu-{os.getpid()}.txt"
    path.write_text(cpu)
    try:
        kept = {e.name for e in read_lock(path)}
    finally:
        path.unlink()
    dropped = full - kept
    assert {"torch", "torchvision"} <= dropped
    assert all(re.match(r"^(torch|torchvision|triton|nvidia-|cuda-)", n) for n in dropped), dropped
    assert "numpy" in kept and "scikit-learn" in kept and "--hash=sha256:" in cpu


# --- clean children ------------------------------------------------------------------------------
R_AVAILABLE = shutil.which("R") is not None


@pytest.mark.skipif(not R_AVAILABLE, reason="R is not installed")
def test_children_start_clean_after_r_was_embedded(tmp_path):
    """Embed R first (rpy2, as repalign.r does), then start each kind of child: a Python that
    imports ssl (fails with R's LD_LIBRARY_PATH where the system has another libpython), pip
    building a wheel, Rscript, a SLURM job script's prologue and the browser."""
    from repalign import r
    from repalign.rlib import r_env

    r._robjects()  # embeds R (once per process) through repalign.children.embedding_r
    changes = embedded_changes()
    assert "LD_LIBRARY_PATH" in changes, f"embedding R changed {sorted(changes)}"
    before, after = changes["LD_LIBRARY_PATH"]
    assert os.environ.get("LD_LIBRARY_PATH") == after  # this process keeps what R needs

    probe = "import os, ssl; print(os.environ.get('LD_LIBRARY_PATH'))"
    py = subprocess.run([sys.executable, "-c", probe], env=child_env(), capture_output=True, text=True)
    assert py.returncode == 0, py.stderr[-1500:]
    assert py.stdout.strip() == str(before)

    # pip building a (tiny) wheel: the build's Python imports ssl through setuptools' entry points
    pkg = tmp_path / "tiny"
    (pkg / "tiny").mkdir(parents=True)
    (pkg / "tiny" / "__init__.py").write_text("")
    (pkg / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = '
        '"setuptools.build_meta"\n[project]\nname = "tiny"\nversion = "1"\n'
    )
    pip = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(pkg),
        ],
        env=child_env(),
        capture_output=True,
        text=True,
    )
    assert pip.returncode == 0, pip.stderr[-1500:]
    assert list((tmp_path / "dist").glob("tiny-1-*.whl"))

    rs = subprocess.run(
        ["Rscript", "-e", "cat(requireNamespace('repalign', quietly = TRUE))"],
        env=r_env(),
        capture_output=True,
        text=True,
    )
    assert rs.returncode == 0 and rs.stdout.strip() == "TRUE", rs.stderr[-1500:]

    # a SLURM job inherits this process's (R-changed) environment; its prologue undoes that
    script = "\n".join(shell_prologue() + [f"{sys.executable} -c {probe!r}"])
    job = subprocess.run(["bash", "-c", script], env=dict(os.environ), capture_output=True, text=True)
    assert job.returncode == 0, job.stderr[-1500:]
    assert job.stdout.strip() == str(before)

    # code that spawns from os.environ itself (Dask's nanny) runs inside clean_environ
    from repalign.children import clean_environ

    with clean_environ():
        spawned = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert spawned.returncode == 0, spawned.stderr[-1500:]
    assert spawned.stdout.strip() == str(before) and os.environ.get("LD_LIBRARY_PATH") == after

    browser = shutil.which("chromium")
    if browser:
        out = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--version"],
            env=child_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0 and "Chromium" in out.stdout, out.stderr[-1500:]


def test_child_env_keeps_what_the_caller_sets_again():
    """A key set again on purpose after R started is kept; set_ and unset apply last."""
    env = child_env({"REPALIGN_X": "1"}, unset=("HOME",), base={"HOME": "/h", "PATH": "/bin"})
    assert env["REPALIGN_X"] == "1" and "HOME" not in env and env["PATH"] == "/bin"


# --- nothing outside the package, no machine paths -------------------------------------------------
def test_no_package_module_reaches_above_itself():
    offenders = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in (ROOT / "python" / "repalign").rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if re.search(r"parents\[\s*([2-9]|\d\d+)\s*\]", line)
    ]
    assert not offenders, offenders


def test_no_absolute_machine_path_in_tracked_files():
    pattern = re.compile(r"(?<![\w.])/(?:work|root|home/\w+|Users/\w+|tmp/pytest-of)/[\w.-]+")
    allowed = {"tests/python/test_install.py"}  # the pattern itself
    hits = []
    for p in _tracked():
        rel = str(p.relative_to(ROOT))
        if rel in allowed or p.suffix in (".png", ".jpg", ".parquet", ".npy", ".rds", ".whl"):
            continue
        try:
            text = p.read_text()
        except UnicodeDecodeError:
            continue
        hits += [f"{rel}: {m.group(0)}" for m in pattern.finditer(text)]
    assert not hits, "\n".join(hits[:20])
