"""Where R and the repalign R package are: the one place that locates them.

Shared infrastructure below every stage (like :mod:`repalign.store`): the rpy2
bridge :mod:`repalign.r`, the ``[r]`` stage and the dynamics GLMM all take the R
library from :func:`rlib_path`, the environment of an ``Rscript`` child from
:func:`r_env`, run it with :func:`run_child` (its own process group, dying with
this process) and key its results on :func:`r_code_key`.
"""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from repalign.children import child_env
from repalign.errors import RepalignError

__all__ = ["PROJECT_ROOT", "checkout_root", "rlib_path", "r_env", "r_code_key", "run_child", "installed_r_package"]


def checkout_root() -> Path | None:
    """The source checkout this package runs from (the nearest folder above the
    package holding both ``pyproject.toml`` and the R package's ``DESCRIPTION``),
    or None when it runs from an installed wheel."""
    for folder in Path(__file__).resolve().parents:
        if (folder / "pyproject.toml").is_file() and (folder / "DESCRIPTION").is_file():
            return folder
    return None


# Source checkout root (holds analysis/fit_models.R and, after `make install`, .rlib and
# .venv); None when repalign runs from an installed wheel.
PROJECT_ROOT = checkout_root()


def rlib_path() -> Path | None:
    """Library holding the repalign R package: ``$REPALIGN_RLIB``, else the checkout's
    ``.rlib`` (where ``make install-rpkg`` installs it) when it exists, else None
    (R's own library paths, e.g. a site library where the package was installed)."""
    if os.environ.get("REPALIGN_RLIB"):
        return Path(os.environ["REPALIGN_RLIB"]).resolve()
    if PROJECT_ROOT is not None and (PROJECT_ROOT / ".rlib").is_dir():
        return (PROJECT_ROOT / ".rlib").resolve()
    return None


def r_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an ``Rscript`` child: a clean child environment
    (:func:`repalign.children.child_env`), the project's R library (:func:`rlib_path`)
    first on ``R_LIBS``, and ``RETICULATE_PYTHON`` (unless set) pointing at this Python,
    which has repalign and pyarrow for reading Parquet without the R package arrow.

    ``base``: the environment to extend (default ``os.environ``); not modified.
    """
    env = child_env(base=base)
    env.setdefault("RETICULATE_PYTHON", sys.executable)
    lib = rlib_path()
    if lib is not None and lib.is_dir():
        env["R_LIBS"] = os.pathsep.join([str(lib)] + ([env["R_LIBS"]] if env.get("R_LIBS") else []))
    return env


class RPackageMissing(RepalignError):
    """The repalign R package is in none of the places R code is looked for."""


def installed_r_package() -> Path:
    """Folder of the installed repalign R package: in :func:`rlib_path` when set, else
    wherever R finds it (``find.package``). Raises :class:`RPackageMissing`, in one
    line naming where it looked, when neither has it."""
    lib = rlib_path()
    if lib is not None and (lib / "repalign" / "DESCRIPTION").is_file():
        return lib / "repalign"
    found = None
    try:
        proc = run_child(["Rscript", "-e", 'cat(find.package("repalign", quiet = TRUE))'], env=r_env())
        found = proc.stdout.strip() if proc.returncode == 0 else None
    except OSError:
        pass
    if found and (Path(found) / "DESCRIPTION").is_file():
        return Path(found)
    where = (
        f"REPALIGN_RLIB={os.environ['REPALIGN_RLIB']}"
        if os.environ.get("REPALIGN_RLIB")
        else (f"{PROJECT_ROOT / '.rlib'}" if PROJECT_ROOT is not None else "no source checkout")
    )
    raise RPackageMissing(
        f"the repalign R package is not installed (looked in {where} and R's own libraries): "
        "run `make install-rpkg` in a checkout, or `R CMD INSTALL` it and/or set REPALIGN_RLIB"
    )


# R: the installed package's functions, deparsed in name order, hashed. The lazy-load
# database itself differs between two installs of the same sources, its deparsed code does not.
_R_CODE_HASH = """
e <- new.env()
invisible(lazyLoad(file.path(commandArgs(TRUE)[1], "R", "repalign"), envir = e))
f <- tempfile()
ctl <- c("keepNA", "keepInteger", "niceNames", "showAttributes")
src <- lapply(sort(ls(e, all.names = TRUE)), function(n) c(n, deparse(get(n, envir = e), control = ctl)))
writeLines(unlist(src), f)
cat(unname(tools::md5sum(f)))
"""
_CODE_HASHES: dict[tuple[str, int], str] = {}


def _installed_code_hash(pkg: Path) -> str:
    rdb = pkg / "R" / "repalign.rdb"
    memo = (str(rdb), rdb.stat().st_mtime_ns if rdb.is_file() else 0)
    if memo not in _CODE_HASHES:
        proc = run_child(["Rscript", "-e", _R_CODE_HASH, str(pkg)], env=r_env())
        if proc.returncode != 0 or not proc.stdout.strip():
            raise RPackageMissing(
                f"cannot read the installed repalign R package at {pkg}: "
                f"{(proc.stderr.strip().splitlines() or ['no output'])[-1]}"
            )
        namespace = (pkg / "NAMESPACE").read_bytes() if (pkg / "NAMESPACE").is_file() else b""
        _CODE_HASHES[memo] = hashlib.sha256(proc.stdout.strip().encode() + b"\0" + namespace).hexdigest()
    return _CODE_HASHES[memo]


def r_code_key() -> dict:
    """What identifies the R code the R stage runs: the installed repalign R package's
    version and a hash of its installed code (every function, deparsed, and its
    NAMESPACE: a changed package of the same version changes the key), and, in a source
    checkout, a sha256 of ``analysis/fit_models.R``."""
    from repalign.store import files_sha256

    pkg = installed_r_package()
    version = None
    for line in (pkg / "DESCRIPTION").read_text(errors="replace").splitlines():
        if line.startswith("Version:"):
            version = line.split(":", 1)[1].strip()
    key = {"installed_version": version, "installed_code": _installed_code_hash(pkg)}
    if PROJECT_ROOT is not None and (PROJECT_ROOT / "analysis" / "fit_models.R").is_file():
        key["script"] = files_sha256([PROJECT_ROOT / "analysis" / "fit_models.R"], PROJECT_ROOT)
    return key


def run_child(args: Sequence[str], *, env: dict | None = None, cwd: str | os.PathLike | None = None):
    """Run a child process (Rscript) that dies with this one.

    The child gets its own process group (``start_new_session``), so that it and
    anything it forks can be killed together; it is killed if this process dies
    even by SIGKILL (Linux ``PR_SET_PDEATHSIG``, and a small watchdog process that
    kills the whole group once this process's end of a pipe closes); on any
    exception here (KeyboardInterrupt included) the group is killed before the
    exception goes on. Returns ``subprocess.CompletedProcess`` (text stdout/stderr).
    """
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen(
        list(args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=child_env() if env is None else env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=_die_with_parent,
    )
    watchdog = None
    try:
        # the watchdog blocks reading its stdin; our end closes when we die, however we die
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(proc.pid)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            env=child_env(),
        )
        out, err = proc.communicate()
    except BaseException:
        _kill_group(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    finally:
        if watchdog is not None:
            watchdog.stdin.close()  # a normal end: the watchdog finds the group gone, or kills stragglers
            watchdog.wait()
    _kill_group(proc.pid, signal.SIGKILL)  # anything the child left running in its group
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


_WATCHDOG = """
import os, signal, sys
sys.stdin.read()
try:
    os.killpg(int(sys.argv[1]), signal.SIGKILL)
except OSError:
    pass
"""


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when its parent dies."""
    import sys

    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
        except (OSError, AttributeError):
            pass  # the watchdog still kills it


def _kill_group(pgid: int, sig) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass
