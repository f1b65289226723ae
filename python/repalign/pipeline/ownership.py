"""What in a run's output folder is repalign's, and what is not.

A run never deletes by name (``repalign.store.clean_leftovers`` removes only
marked temporary folders and marked extraction parts); this module names the
rest: ``foreign_entries`` lists the top-level entries of the output folder that
no stage, report or lock writes, for a one-line note (never a deletion);
``current_parts`` gives the extraction parts folders the current plan may resume
from, which the clean-up keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from repalign.store import TMP_DIR

#: Top-level names repalign itself writes in an output folder: the stage folders,
#: the report (and its figures and findings), the versions note, the lock and its note, the
#: temporary folder.
KNOWN_ENTRIES = frozenset(
    {
        "features",
        "metrics",
        "learners",
        "embed",
        "dynamics",
        "r",
        "figures",
        "report.html",
        "findings.json",
        "versions.json",
        ".repalign.lock",
        ".repalign.lock.json",
        TMP_DIR,
    }
)


def foreign_entries(output: str | Path, tasks: Iterable = ()) -> list[str]:
    """Names of the top-level entries of ``output`` that repalign did not write
    (neither in ``KNOWN_ENTRIES`` nor the first path component of a task's output),
    sorted; [] when the folder does not exist."""
    output = Path(output)
    if not output.is_dir():
        return []
    known = set(KNOWN_ENTRIES)
    for t in tasks:
        for p in t.outputs:
            try:
                known.add(Path(p).absolute().relative_to(output.absolute()).parts[0])
            except (ValueError, IndexError):  # an output outside the folder
                continue
    return sorted(e.name for e in output.iterdir() if e.name not in known)


def foreign_note(output: str | Path, tasks: Iterable = (), limit: int = 5) -> str | None:
    """One line naming what ``foreign_entries`` found, or None."""
    names = foreign_entries(output, tasks)
    if not names:
        return None
    shown = ", ".join(names[:limit]) + (" …" if len(names) > limit else "")
    return (
        f"note: {len(names)} entr{'y' if len(names) == 1 else 'ies'} in {output} not written by repalign "
        f"(left untouched): {shown}"
    )


def current_parts(tasks: Iterable) -> list[Path]:
    """The resumable extraction parts folder (``<output>.parts``) of every planned output."""
    return [Path(p).with_name(Path(p).name + ".parts") for t in tasks for p in t.outputs]
