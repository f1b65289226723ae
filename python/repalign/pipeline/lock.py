"""One run at a time per output directory.

``output_lock(dir)`` holds ``<dir>/.repalign.lock`` (``filelock``: an OS file
lock, released by the kernel when its holder dies, even on SIGKILL) for a whole
run. A second run on the same directory **waits**: it prints who holds the lock
(pid, host, config, start time, from ``<dir>/.repalign.lock.json``) and blocks
until the first run ends; it then finds the first run's outputs finished and
skips them, so every task is computed once. ``timeout`` (seconds) makes it give
up instead, with an error naming the holder.

Under the lock, ``clean_leftovers`` removes what killed runs left behind: the
entries of repalign's marked ``.repalign-tmp`` folders whose writer is gone, and
marked extraction parts folders of earlier plans; never a file by its name. When
the lock is released, emptied ``.repalign-tmp`` folders are removed again.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from repalign.errors import RepalignError
from repalign.store import clean_leftovers

LOCK_NAME = ".repalign.lock"
HOLDER_NAME = ".repalign.lock.json"


class OutputLocked(RepalignError):
    """Another run holds the output directory's lock (and ``timeout`` ran out)."""


def holder(directory: str | os.PathLike) -> str:
    """Who holds (or last held) the lock of ``directory``, in words."""
    try:
        info = json.loads((Path(directory) / HOLDER_NAME).read_text())
    except (OSError, ValueError):
        return "an unknown process"
    return f"pid {info.get('pid')} on {info.get('host')} (config {info.get('config')}, started {info.get('started')})"


@contextlib.contextmanager
def output_lock(
    directory: str | os.PathLike,
    *,
    config: str = "",
    timeout: float | None = None,
    say: Callable[[str], None] = print,
    keep_parts=None,
) -> Iterator[list[Path]]:
    """Hold the run lock of ``directory`` (created if needed); yields the leftovers
    of killed runs that were removed once the lock was held (``clean_leftovers``;
    ``keep_parts``: the extraction parts folders of the current plan, None = keep all).

    A held lock makes this wait (``timeout=None``) after saying who holds it, or
    raise ``OutputLocked`` after ``timeout`` seconds.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(directory / LOCK_NAME))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        who = holder(directory)
        if timeout is not None and timeout <= 0:
            raise OutputLocked(f"{directory} is in use by another repalign run: {who}") from None
        say(f"{directory} is in use by another repalign run ({who}); waiting for it to finish")
        try:
            lock.acquire(timeout=-1 if timeout is None else timeout)
        except Timeout:
            raise OutputLocked(
                f"{directory} is still in use after {timeout:g} s by another repalign run: {who}"
            ) from None
    try:
        (directory / HOLDER_NAME).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "config": str(config),
                    "started": time.strftime("%Y-%m-%d %H:%M:%S"),
                }
            )
        )
        yield clean_leftovers(directory, keep_parts=keep_parts)
    finally:
        try:
            clean_leftovers(directory)  # this run's emptied .repalign-tmp folders (live writers' files stay)
        finally:
            lock.release()
