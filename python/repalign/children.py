"""The environment of every child process repalign (or its tests) starts.

Embedding R through rpy2 changes this process's environment: R's start-up
(``etc/ldpaths``) puts R's own library folder and the system library folder first
on ``LD_LIBRARY_PATH`` and sets ``R_HOME``. A child that inherits that
environment may load the wrong shared libraries — e.g. a venv's Python then loads
the system's ``libpython`` beside its own modules and ``import ssl`` fails with an
undefined symbol. So a child's behaviour would depend on what ran before it in
the same process.

:func:`child_env` is the one place that builds a child's environment: this
process's environment with what the R embedding changed put back as it was
before (:func:`embedding_r`, used by :mod:`repalign.r` around rpy2's start of R,
records it), plus only what the caller sets for that child. Every ``pip``,
``python``, ``Rscript``, SLURM command and browser start takes its environment
from here.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping

__all__ = ["child_env", "embedding_r", "embedded_changes"]

# Keys R's start-up sets or changes; used only when R was embedded before this
# module could record the change (e.g. by a user's own rpy2 import).
_R_STARTUP_KEYS = ("LD_LIBRARY_PATH", "R_HOME", "R_SHARE_DIR", "R_INCLUDE_DIR", "R_DOC_DIR")

# key -> (value before the embedding or None if unset, value right after it)
_CHANGES: dict[str, tuple[str | None, str | None]] = {}


@contextlib.contextmanager
def embedding_r() -> Iterator[None]:
    """Wrap the call that embeds R in this process: the environment keys it
    changes are recorded, so that :func:`child_env` can undo them for children."""
    before = dict(os.environ)
    try:
        yield
    finally:
        after = dict(os.environ)
        for key in set(before) | set(after):
            if before.get(key) != after.get(key) and key not in _CHANGES:
                _CHANGES[key] = (before.get(key), after.get(key))


def embedded_changes() -> dict[str, tuple[str | None, str | None]]:
    """What embedding R changed in this process's environment: key -> (before, after)."""
    return dict(_CHANGES)


def _r_embedded_elsewhere() -> bool:
    """R was started in this process without :func:`embedding_r` recording it."""
    if _CHANGES or "rpy2.rinterface" not in sys.modules:
        return False
    try:
        return bool(sys.modules["rpy2.rinterface"].rpy2_embeddedR_isinitialized)
    except AttributeError:
        return False


def child_env(
    set_: Mapping[str, str] | None = None, *, unset: Iterable[str] = (), base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Environment for a child process.

    ``base`` (default ``os.environ``, not modified) with every key that embedding
    R changed put back to its value before R started — unless the caller's code
    changed that key again since — then ``unset`` removed and ``set_`` applied.
    If R was embedded without being recorded, R's start-up keys
    (``LD_LIBRARY_PATH``, ``R_HOME``, …) are dropped instead.
    """
    env = dict(os.environ if base is None else base)
    for key, (before, after) in _CHANGES.items():
        if env.get(key) != after:
            continue  # set again on purpose after R started: keep it
        if before is None:
            env.pop(key, None)
        else:
            env[key] = before
    if _r_embedded_elsewhere():
        for key in _R_STARTUP_KEYS:
            env.pop(key, None)
    for key in unset:
        env.pop(key, None)
    env.update(set_ or {})
    return env


def shell_prologue() -> list[str]:
    """Shell lines that give a job script (e.g. a SLURM job, which inherits the
    submitting process's environment) the same clean environment as
    :func:`child_env`: ``unset``/``export`` for each key that embedding R changed."""
    import shlex

    clean, now = child_env(), dict(os.environ)
    lines = []
    for key in sorted(set(clean) | set(now)):
        if clean.get(key) == now.get(key):
            continue
        lines.append(f"unset {key}" if key not in clean else f"export {key}={shlex.quote(clean[key])}")
    return lines


@contextlib.contextmanager
def clean_environ() -> Iterator[None]:
    """While active, this process's own environment is :func:`child_env`'s: for code
    that starts processes it does not let us configure (Dask's nanny spawns worker
    processes, and re-spawns a killed one, from ``os.environ``). Restored after."""
    saved = dict(os.environ)
    clean = child_env()
    try:
        for key in set(saved) - set(clean):
            del os.environ[key]
        os.environ.update(clean)
        yield
    finally:
        for key in set(os.environ) - set(saved):
            del os.environ[key]
        os.environ.update(saved)
