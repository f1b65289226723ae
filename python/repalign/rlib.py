"""Where R and the repalign R package are: the one place that locates them.

Shared infrastructure below every stage (like :mod:`repalign.store`): the rpy2
bridge :mod:`repalign.r`, the ``[r]`` stage and the dynamics GLMM all take the R
library from :func:`rlib_path` and the environment of an ``Rscript`` child from
:func:`r_env`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["PROJECT_ROOT", "rlib_path", "r_env"]

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
