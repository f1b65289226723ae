"""What computed a result: repalign's version and git revision, Python and every
installed package (compared with the committed lock), torch and its CUDA build, R
and its packages.

Each run writes :func:`environment_versions` to ``<output>/versions.json`` and the
report shows it under "What was run", so a study's numbers can be recomputed in
the same environment later (``make install`` installs ``requirements/lock.txt``).
"""

from __future__ import annotations

import json
import platform
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from repalign.children import child_env
from repalign.rlib import PROJECT_ROOT, r_env

__all__ = ["LockEntry", "read_lock", "lock_path", "lock_differences", "environment_versions"]

#: R packages whose versions each run records
R_PACKAGES = ("repalign", "lme4", "brms", "rstan", "broom.mixed", "tidyverse", "reticulate", "jsonlite")

_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


@dataclass(frozen=True)
class LockEntry:
    """One pinned package of the lock: normalised name, version, environment marker
    (None: every platform) and its sha256 hashes."""

    name: str
    version: str
    marker: str | None
    hashes: tuple[str, ...]

    def applies(self) -> bool:
        """Whether this entry is for the running interpreter and platform."""
        if not self.marker:
            return True
        from packaging.markers import Marker

        return Marker(self.marker).evaluate()


def normalise(name: str) -> str:
    """PEP 503 normalised package name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_lock(path: str | Path) -> list[LockEntry]:
    """The entries of a hash-pinned requirements lock (``uv pip compile
    --generate-hashes`` output): ``name==version [; marker] \\`` followed by
    ``--hash=sha256:…`` lines."""
    entries: list[LockEntry] = []
    name = version = marker = None
    hashes: list[str] = []

    def close():
        if name is not None:
            entries.append(LockEntry(normalise(name), version, marker, tuple(hashes)))

    for raw in Path(path).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash="):
            hashes.append(line.removeprefix("--hash=").rstrip(" \\"))
            continue
        m = _NAME.match(line)
        if m:
            close()
            name, version, marker, hashes = m.group(1), m.group(2), m.group(3), []
    close()
    return entries


def lock_path() -> Path | None:
    """The committed lock of a source checkout (``requirements/lock.txt``), or None."""
    if PROJECT_ROOT is None:
        return None
    path = PROJECT_ROOT / "requirements" / "lock.txt"
    return path if path.is_file() else None


def installed_packages() -> dict[str, str]:
    """Every distribution installed in this interpreter: normalised name -> version."""
    out = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[normalise(name)] = dist.version
    return out


# packages the lock pins by version whose build may differ on purpose (CPU or CUDA torch:
# `make install TORCH=cpu` installs torch==X+cpu); compared without the local version label
_LOCAL_LABEL_OK = {"torch", "torchvision"}


def lock_differences(path: str | Path | None = None, installed: dict[str, str] | None = None) -> list[str]:
    """How this environment differs from the lock, one line per package (empty: it
    matches): missing, other version, or installed but not in the lock (repalign
    itself, pip and setuptools excepted)."""
    path = path or lock_path()
    if path is None:
        return ["no lock file (not a source checkout)"]
    installed = installed_packages() if installed is None else installed
    wanted = {e.name: e.version for e in read_lock(path) if e.applies()}
    out = []
    cpu_build = installed.get("torch", "").endswith("+cpu")
    for name, version in sorted(wanted.items()):
        have = installed.get(name)
        if have is None:
            if cpu_build and (
                name.startswith("nvidia-") or name in ("triton", "cuda-bindings", "cuda-pathfinder", "cuda-toolkit")
            ):
                continue  # CUDA libraries are not needed beside a CPU build of torch
            out.append(f"{name}: missing (lock: {version})")
        elif have != version and not (name in _LOCAL_LABEL_OK and have.split("+")[0] == version):
            out.append(f"{name}: {have} installed, lock: {version}")
    for name in sorted(set(installed) - set(wanted) - {"repalign", "pip", "setuptools", "wheel"}):
        out.append(f"{name}: {installed[name]} installed, not in the lock")
    return out


def _git_revision() -> str | None:
    if PROJECT_ROOT is None or not (PROJECT_ROOT / ".git").exists():
        return None
    try:
        rev = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            env=child_env(),
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(PROJECT_ROOT), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
            env=child_env(),
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return (rev + (" (with uncommitted changes)" if dirty else "")) if rev else None


_R_VERSIONS = """
p <- strsplit(commandArgs(TRUE)[1], ",")[[1]]
v <- vapply(p, function(x) tryCatch(as.character(utils::packageVersion(x)), error = function(e) NA_character_), "")
cat(jsonlite::toJSON(c(list(R = R.version.string), as.list(v[!is.na(v)])), auto_unbox = TRUE))
"""


def r_versions() -> dict[str, str]:
    """R's version string and the versions of :data:`R_PACKAGES` (empty without R)."""
    try:
        proc = subprocess.run(
            ["Rscript", "-e", _R_VERSIONS, ",".join(R_PACKAGES)],
            capture_output=True,
            text=True,
            timeout=60,
            env=r_env(),
        )
        return json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else {}
    except (OSError, subprocess.SubprocessError, ValueError):
        return {}


@lru_cache(maxsize=1)
def environment_versions() -> dict:
    """What this process computes with (cached per process): ``repalign``
    (version, git revision), ``python``, ``platform``, ``torch`` (version, CUDA build,
    whether a GPU is visible), ``lock`` (the lock file and how the environment differs
    from it), ``packages`` (every installed distribution) and ``r`` (R and its packages)."""
    packages = installed_packages()
    torch_info: dict = {"version": packages.get("torch")}
    try:
        import torch

        torch_info.update(cuda=torch.version.cuda, cuda_available=bool(torch.cuda.is_available()))
    except ImportError:
        pass
    lock = lock_path()
    return {
        "repalign": {"version": packages.get("repalign"), "git_revision": _git_revision()},
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch_info,
        "lock": {
            "file": "requirements/lock.txt" if lock else None,
            "differences": lock_differences(lock, packages) if lock else None,
        },
        "packages": packages,
        "r": r_versions(),
    }


def write_versions(output: str | Path) -> Path:
    """Write :func:`environment_versions` to ``<output>/versions.json`` (atomically)."""
    from repalign.store import temp_name

    path = Path(output) / "versions.json"
    tmp = temp_name(path)
    tmp.write_text(json.dumps(environment_versions(), indent=1, sort_keys=True))
    tmp.replace(path)
    return path
