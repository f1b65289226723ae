"""Where R and the repalign R package are: the one place that locates them.

Shared infrastructure below every stage (like :mod:`repalign.store`): the rpy2
bridge :mod:`repalign.r`, the ``[r]`` stage and the dynamics GLMM all take the R
library from :func:`rlib_path`, the environment of an ``Rscript`` child from
:func:`r_env`, run it with :func:`run_child` (its own process group, dying with
this process) and key its results on :func:`r_code_key`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["PROJECT_ROOT", "rlib_path", "r_env", "r_code_key", "run_child"]

# Source checkout root (holds analysis/fit_models.R and, after `make install`, .rlib and .venv).
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def rlib_path() -> Path:
    """Library holding the repalign R package: ``$REPALIGN_RLIB`` or ``<project>/.rlib``
    (where ``make install-rpkg`` installs it)."""
    return Path(os.environ.get("REPALIGN_RLIB", PROJECT_ROOT / ".rlib")).resolve()


def r_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for an ``Rscript`` child: the project's R library (:func:`rlib_path`)
    first on ``R_LIBS``, and ``RETICULATE_PYTHON`` (unless set) pointing at this Python,
    which has repalign and pyarrow for reading Parquet without the R package arrow.

    ``base``: the environment to extend (default ``os.environ``); not modified.
    """
    env = dict(os.environ if base is None else base)
    env.setdefault("RETICULATE_PYTHON", sys.executable)
    lib = rlib_path()
    if lib.is_dir():
        env["R_LIBS"] = os.pathsep.join([str(lib)] + ([env["R_LIBS"]] if env.get("R_LIBS") else []))
    return env


def r_code_key() -> dict:
    """What identifies the R code the R stage runs: the installed repalign R
    package's version and a sha256 of the package sources (``R/*.R``,
    ``DESCRIPTION``, ``NAMESPACE``) and of ``analysis/fit_models.R``."""
    from repalign.store import files_sha256

    installed = rlib_path() / "repalign" / "DESCRIPTION"
    version = None
    if installed.is_file():
        for line in installed.read_text(errors="replace").splitlines():
            if line.startswith("Version:"):
                version = line.split(":", 1)[1].strip()
    sources = [p for p in [PROJECT_ROOT / "DESCRIPTION", PROJECT_ROOT / "NAMESPACE",
                           PROJECT_ROOT / "analysis" / "fit_models.R", *(PROJECT_ROOT / "R").glob("*.R")]
               if p.is_file()]
    return {"installed_version": version, "sources": files_sha256(sources, PROJECT_ROOT)}


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

    proc = subprocess.Popen(list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            text=True, env=env, cwd=cwd, start_new_session=True, preexec_fn=_die_with_parent)
    watchdog = None
    try:
        # the watchdog blocks reading its stdin; our end closes when we die, however we die
        watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(proc.pid)], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
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
