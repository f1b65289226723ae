"""``verify_output``: check a whole run folder for damage (bit rot, truncation, edits).

Every Parquet file is read page by page against its CRC-32 page checksums
(``repalign.store.verify_parquet``); every sealed folder's manifest
(``.repalign-manifest.json``, written by ``seal_dir``) is checked file by file
(size + sha256). Temporary files of writers (``.repalign-tmp``) are skipped.
Nothing is changed: a damaged output is recomputed by the next ``repalign run``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from repalign.store import MANIFEST, TMP_DIR, verify_dir_manifest, verify_parquet

UNVERIFIABLE = "written without page checksums"


@dataclass
class VerifyReport:
    """What ``verify_output`` found: counts checked and one line per problem."""

    parquet: int = 0
    manifests: int = 0
    damaged: list[str] = field(default_factory=list)  # "<path>: <reason>"
    unverifiable: list[str] = field(default_factory=list)  # Parquet files without checksums

    @property
    def clean(self) -> bool:
        return not self.damaged


def verify_output(root: str | os.PathLike) -> VerifyReport:
    """Check every Parquet file and every sealed folder under ``root`` (an existing
    folder; the caller checks). Memory: one row group at a time."""
    root = Path(root)
    rep = VerifyReport()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != TMP_DIR)  # unfinished files of writers
        here = Path(dirpath)
        for name in sorted(filenames):
            p = here / name
            if name.endswith(".parquet"):
                rep.parquet += 1
                reason = verify_parquet(p)
                if reason is None:
                    continue
                (rep.unverifiable if reason.startswith(UNVERIFIABLE) else rep.damaged).append(f"{p}: {reason}")
            elif name == MANIFEST:
                rep.manifests += 1
                rep.damaged += verify_dir_manifest(p)
    return rep
