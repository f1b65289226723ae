"""Parquet tables shared by Python and R: schemas, provenance, atomic writes.

Every table repalign writes is a Parquet file with

* a documented schema per table *kind* (``SCHEMAS``; see ``docs/tables.md``): the
  required columns and their Arrow types; extra columns are allowed;
* key/value metadata ``repalign.kind``, ``repalign.schema_version`` and
  ``repalign.provenance`` (JSON: what produced it — package versions, config,
  inputs' hashes, cache key);
* atomic writes: data go to ``<dir>/.repalign-tmp/<name>.<pid>-<random>`` (a
  name no other writer uses, in a hidden folder repalign owns next to the target,
  so on the same file system), which is renamed over the target only when
  complete, so a reader never sees half a file and two writers of one path never
  mix their rows;
* page checksums: every Parquet page carries a CRC-32 (``write_page_checksum``),
  and a file is marked ``repalign.page_checksums = crc32``; ``verify_parquet``
  reads every page back and checks it, so bit rot is found before reuse;
* the key of the pipeline task that wrote it (``provenance["task"]``), stamped
  automatically while a task runs (``task_context``), so that a finished output
  can be told from a stale or foreign one (``check_output``).

``ParquetStream`` writes row groups one at a time (bounded memory) with the same
guarantees. Outputs that are not Parquet files live in a directory their task
owns, sealed by a manifest (``seal_dir``: the task key, each file's size and
sha256). Leftovers of killed writers are recognised by where they are, never by
their names: ``clean_leftovers`` empties only ``.repalign-tmp`` folders that carry
repalign's marker file (and the extractor's marked parts folders of earlier
plans), so a user's file is never touched, whatever its name.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from repalign.errors import SchemaError

SCHEMA_VERSION = "1"


@dataclass(frozen=True)
class TableSchema:
    kind: str
    columns: Mapping[str, pa.DataType]  # required columns
    doc: str


SCHEMAS: dict[str, TableSchema] = {
    "features": TableSchema(
        "features",
        {"stimulus_id": pa.string(), "embedding": pa.list_(pa.float32())},
        "One row per stimulus: its id and the float32 feature vector of one model layer.",
    ),
    "metrics": TableSchema(
        "metrics",
        {
            "model": pa.string(),
            "layer": pa.string(),
            "dataset": pa.string(),
            "metric": pa.string(),
            "value": pa.float64(),
            "ci_low": pa.float64(),
            "ci_high": pa.float64(),
            "n": pa.int64(),
        },
        "One row per (model, layer, dataset, metric): value with CI bounds (NaN if none) and n.",
    ),
    "trials": TableSchema(
        "trials",
        {
            "task": pa.string(),
            "participant": pa.string(),
            "trial": pa.int64(),
            "model": pa.string(),
            "layer": pa.string(),
            "value": pa.float64(),
        },
        "Learner trials: one row per (task, participant, trial, model, layer); "
        "value = learner's value or probability; task-specific columns follow.",
    ),
    "dynamics": TableSchema(
        "dynamics",
        {
            "agent": pa.string(),
            "run": pa.int64(),
            "epoch": pa.int64(),
            "phase": pa.string(),
            "image_name": pa.string(),
            "correct": pa.bool_(),
        },
        "Learning-dynamics trials of humans, networks or simulated learners.",
    ),
    "decisions": TableSchema(
        "decisions",
        {
            "dataset": pa.string(),
            "agent": pa.string(),
            "agent_type": pa.string(),
            "subject": pa.string(),
            "stimulus_id": pa.string(),
            "category": pa.string(),
            "response": pa.string(),
            "correct": pa.bool_(),
        },
        "Trial-wise 16-way decisions of people, networks and models on one image each.",
    ),
    "models": TableSchema(
        "models",
        {"name": pa.string(), "family": pa.string(), "objective": pa.string()},
        "Model metadata: one row per model.",
    ),
    "embedding": TableSchema(
        "embedding",
        {"stimulus_id": pa.string(), "embedding": pa.list_(pa.float32())},
        "A learned embedding (SPoSE/VICE): one row per stimulus.",
    ),
    "generic": TableSchema("generic", {}, "Any table; no required columns."),
}


def _compatible(actual: pa.DataType, wanted: pa.DataType) -> bool:
    if actual.equals(wanted):
        return True
    if pa.types.is_string(wanted) and (pa.types.is_large_string(actual) or pa.types.is_dictionary(actual)):
        return True
    if pa.types.is_integer(wanted) and pa.types.is_integer(actual):
        return True
    if pa.types.is_floating(wanted) and (pa.types.is_floating(actual) or pa.types.is_integer(actual)):
        return True
    if pa.types.is_list(wanted) and (
        pa.types.is_list(actual) or pa.types.is_large_list(actual) or pa.types.is_fixed_size_list(actual)
    ):
        return _compatible(actual.value_type, wanted.value_type)
    if pa.types.is_string(wanted) and pa.types.is_null(actual):
        return True
    return False


def validate(table: pa.Table, kind: str, *, where: str = "table") -> pa.Table:
    """Check that ``table`` has the required columns of ``kind``; cast them to the
    documented types. Raises SchemaError naming the column."""
    if kind not in SCHEMAS:
        raise SchemaError(f"unknown table kind {kind!r}; known: {', '.join(SCHEMAS)}")
    schema = SCHEMAS[kind]
    missing = [c for c in schema.columns if c not in table.column_names]
    if missing:
        raise SchemaError(f"{where} ({kind}): missing column(s) {missing}; required: {list(schema.columns)}")
    for name, wanted in schema.columns.items():
        i = table.column_names.index(name)
        col = table.column(i)
        if not _compatible(col.type, wanted):
            raise SchemaError(f"{where} ({kind}): column {name!r} has type {col.type}, expected {wanted}")
        if not col.type.equals(wanted):
            table = table.set_column(i, name, col.cast(wanted))
    return table


# --- the running task, content hashes, output checks -------------------------------------------
_TASK: contextvars.ContextVar[str | None] = contextvars.ContextVar("repalign_task", default=None)


@contextlib.contextmanager
def task_context(key: str):
    """While active, every table written carries ``provenance["task"] = key``."""
    token = _TASK.set(key)
    try:
        yield
    finally:
        _TASK.reset(token)


def current_task() -> str | None:
    """Key of the pipeline task running in this context, or None."""
    return _TASK.get()


#: The hidden folder, next to a target, that holds every temporary file or directory
#: repalign writes there; only folders of this name holding ``TMP_MARKER`` are cleaned.
TMP_DIR = ".repalign-tmp"
TMP_MARKER = ".repalign-owned"
#: Marker file inside each of the extractor's resumable ``<file>.parts`` folders.
PARTS_MARKER = ".repalign-parts"
_TMP_ENTRY = re.compile(r"\.(\d+)-[0-9a-f]{8}$")  # <name>.<pid>-<random>


def temp_name(path: str | os.PathLike) -> Path:
    """The one place temporary names are made: ``<dir>/.repalign-tmp/<name>.<pid>-<random>``
    for a target ``<dir>/<name>`` (file or directory). The folder is created with a
    marker file saying repalign owns it; the name is no other writer's (pid +
    random), and the same file system as the target keeps ``os.replace`` atomic."""
    path = Path(path)
    tmp_dir = path.parent / TMP_DIR
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp_dir.mkdir()
    except FileExistsError:
        pass  # ours from an earlier call (marked), or someone else's (unmarked: never cleaned)
    else:
        (tmp_dir / TMP_MARKER).write_text(
            "repalign's temporary files; removed by the next run once their writer is gone\n"
        )
    return tmp_dir / f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}"


def is_temporary(path: str | os.PathLike) -> bool:
    """True for a path inside a ``.repalign-tmp`` folder (a writer's unfinished file)."""
    return TMP_DIR in Path(path).parts


# sha256 of files already hashed in this process, keyed by path, size and mtime
_DIGESTS: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 (hex) of a file's bytes; cached by (path, size, mtime) within a process."""
    path = Path(path)
    st = path.stat()
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _DIGESTS[memo] = h.hexdigest()
    return _DIGESTS[memo]


def files_sha256(paths, root: str | os.PathLike | None = None) -> str:
    """One sha256 over several files' names (relative to ``root``) and contents."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        name = str(p.relative_to(root)) if root is not None else str(p)
        h.update(name.encode() + b"\0" + file_sha256(p).encode() + b"\n")
    return h.hexdigest()


MANIFEST = ".repalign-manifest.json"


def _dir_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)


def seal_dir(root: str | os.PathLike, key: str | None = None) -> Path:
    """Write ``root/.repalign-manifest.json``: the task key (default: the running
    task's) and every file's size and sha256, so ``check_output`` can tell a
    complete directory from a damaged one."""
    root = Path(root)
    files = {str(p.relative_to(root)): {"size": p.stat().st_size, "sha256": file_sha256(p)} for p in _dir_files(root)}
    manifest = {"task": key if key is not None else current_task(), "files": files}
    tmp = temp_name(root / MANIFEST)
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    os.replace(tmp, root / MANIFEST)
    return root / MANIFEST


def check_output(path: str | os.PathLike, key: str, cache_key: str | None = None) -> str | None:
    """Why the finished output ``path`` of task ``key`` cannot be used, or None if it can.

    A Parquet file must open (footer and schema readable), every page must match
    its checksum (``verify_parquet``) and its provenance must carry ``task = key``
    (or, for a file shared by several tasks such as a layer's features, the content
    key ``cache_key`` it is named after). Any other file must be listed, with its size and sha256,
    in the manifest of its directory (``seal_dir``), whose files must all be intact
    and whose task must be ``key``.
    """
    path = Path(path)
    if not path.is_file():
        return "missing"
    if path.suffix == ".parquet":
        try:
            _ = pq.ParquetFile(path).metadata  # reads and checks the footer
            prov = table_info(path)["provenance"]
        except Exception as exc:  # any unreadable file is recomputed, with the reason shown
            return f"unreadable ({type(exc).__name__}: {str(exc)[:120]})"
        if prov.get("task") != key and (cache_key is None or prov.get("cache_key") != cache_key):
            return f"written by task {prov.get('task')!r}, not this task"
        return verify_parquet(path)  # every page's checksum: bit rot is not reused
    manifest = path.parent / MANIFEST
    try:
        info = json.loads(manifest.read_text())
    except (OSError, ValueError):
        return f"no readable manifest {MANIFEST} in its directory"
    if info.get("task") != key:
        return f"its directory was written by task {info.get('task')!r}, not this task"
    files = info.get("files", {})
    if path.name not in files:
        return "not listed in its directory's manifest"
    for rel, want in files.items():
        p = path.parent / rel
        if not p.is_file() or p.stat().st_size != want["size"] or file_sha256(p) != want["sha256"]:
            return f"{p} differs from its directory's manifest (damaged or changed)"
    return None


def publish_dir(tmp: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Move the complete directory ``tmp`` to ``out``: an existing ``out`` is first
    moved aside into ``.repalign-tmp`` (``temp_name``) and removed after; if another
    writer published ``out`` in between, its copy is kept and ``tmp`` is dropped."""
    tmp, out = Path(tmp), Path(out)
    old = None
    if out.exists():
        old = temp_name(out)
        try:
            os.replace(out, old)
        except FileNotFoundError:
            old = None
    try:
        os.replace(tmp, out)
    except OSError:
        if not out.is_dir():
            raise
        shutil.rmtree(tmp, ignore_errors=True)  # the other writer's copy stands
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return out


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    except OverflowError:
        return False
    return True


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)


def clean_leftovers(root: str | os.PathLike, keep_parts=None) -> list[Path]:
    """Remove what killed writers left under ``root``; returns the entries removed.

    Only two kinds of things are ever removed, both recognised by repalign's own
    marker file, never by a name: entries of ``.repalign-tmp`` folders that hold
    ``TMP_MARKER`` (skipping those whose writer, the pid in the name, is still alive
    on this host), and the extractor's ``<file>.parts`` folders (holding
    ``PARTS_MARKER``) that are not in ``keep_parts`` (the current plan's parts
    folders; None keeps them all). Emptied ``.repalign-tmp`` folders go too. Symbolic
    links are never followed, and a sub-folder holding its own ``.repalign.lock``
    (another run's output folder) is left to that run.
    Call it only while holding the directory's lock (``repalign.pipeline.lock``)."""
    root = Path(root)
    if not root.is_dir():
        return []
    keep = None if keep_parts is None else {Path(p).absolute() for p in keep_parts}
    removed: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root):
        here = Path(dirpath)
        descend = []
        for d in dirnames:
            sub = here / d
            if sub.is_symlink() or (sub / ".repalign.lock").exists():
                continue  # never through a link; a nested folder of another run is that run's to clean
            if d == TMP_DIR and (sub / TMP_MARKER).is_file():
                for entry in sorted(sub.iterdir()):
                    if entry.name == TMP_MARKER:
                        continue
                    m = _TMP_ENTRY.search(entry.name)
                    if m and _pid_alive(int(m.group(1))):
                        continue  # a live writer's file
                    _remove(entry)
                    removed.append(entry)
                if [e.name for e in sub.iterdir()] == [TMP_MARKER]:
                    (sub / TMP_MARKER).unlink(missing_ok=True)
                    try:
                        sub.rmdir()
                    except OSError:  # a writer arrived meanwhile: its folder keeps its marker
                        (sub / TMP_MARKER).write_text("repalign's temporary files\n")
            elif (sub / PARTS_MARKER).is_file():
                if keep is not None and sub.absolute() not in keep:
                    _remove(sub)
                    removed.append(sub)
            else:
                descend.append(d)
        dirnames[:] = descend
    return removed


# --- page checksums (bit rot) -----------------------------------------------------------------
CHECKSUM_KEY = b"repalign.page_checksums"
# paths verified in this process, keyed by path, size and mtime (reading every page once is enough)
_VERIFIED: set[tuple[str, int, int]] = set()


def verify_parquet(path: str | os.PathLike) -> str | None:
    """Why the Parquet file ``path`` cannot be trusted, or None if every page checks out.

    Reads the file row group by row group with ``page_checksum_verification`` (CRC-32
    of each page, pyarrow), so damaged data pages are found even when the footer is
    intact. A file without repalign's checksum mark (written by an older repalign,
    or by another tool) cannot be verified and is reported as such. Memory: one row
    group; successes are cached per (path, size, mtime) within a process."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    memo = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if memo in _VERIFIED:
        return None
    try:
        f = pq.ParquetFile(path, page_checksum_verification=True)
        meta = f.schema_arrow.metadata or {}
        for i in range(f.num_row_groups):
            f.read_row_group(i)
    except Exception as exc:  # any unreadable file is recomputed, with the reason shown
        text = str(exc)
        if "CRC checksum" in text:
            return f"damaged (page checksum mismatch: {text[:120]})"
        return f"unreadable ({type(exc).__name__}: {text[:120]})"
    if meta.get(CHECKSUM_KEY) != b"crc32":
        return "written without page checksums (an older repalign), so it cannot be verified"
    _VERIFIED.add(memo)
    return None


def verify_dir_manifest(manifest: str | os.PathLike) -> list[str]:
    """Problems of one sealed directory (``seal_dir``): one line per file that is
    missing or differs from its manifest; [] when intact."""
    manifest = Path(manifest)
    try:
        info = json.loads(manifest.read_text())
        files = dict(info.get("files", {}))
    except (OSError, ValueError, AttributeError) as exc:
        return [f"{manifest}: unreadable manifest ({exc})"]
    out = []
    for rel, want in sorted(files.items()):
        p = manifest.parent / rel
        if not p.is_file():
            out.append(f"{p}: missing (listed in {manifest.name})")
        elif p.stat().st_size != want.get("size") or file_sha256(p) != want.get("sha256"):
            out.append(f"{p}: differs from its directory's manifest (damaged or changed)")
    return out


class StaleOutputWarning(UserWarning):
    """An output exists but cannot be used (damaged, or not written by its task): it is recomputed."""


def _metadata(kind: str, provenance: Mapping[str, Any] | None) -> dict[bytes, bytes]:
    prov = dict(provenance or {})
    if current_task() is not None:
        prov.setdefault("task", current_task())
    return {
        b"repalign.kind": kind.encode(),
        b"repalign.schema_version": SCHEMA_VERSION.encode(),
        b"repalign.provenance": json.dumps(prov, sort_keys=True, default=str).encode(),
        CHECKSUM_KEY: b"crc32",
    }


def _to_arrow(data: pd.DataFrame | pa.Table) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def write_table(
    data: pd.DataFrame | pa.Table,
    path: str | os.PathLike,
    kind: str = "generic",
    provenance: Mapping[str, Any] | None = None,
    *,
    row_group_size: int | None = None,
) -> Path:
    """Validate and atomically write one table. Returns the final path."""
    path = Path(path)
    table = validate(_to_arrow(data), kind, where=str(path))
    meta = dict(table.schema.metadata or {})
    meta.update(_metadata(kind, provenance))
    table = table.replace_schema_metadata(meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        pq.write_table(table, tmp, row_group_size=row_group_size, write_page_checksum=True)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def read_table(path: str | os.PathLike, kind: str | None = None) -> pd.DataFrame:
    """Read a repalign table into pandas; ``df.attrs`` holds kind and provenance.

    With ``kind``, the file must be of that kind and pass its schema.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no table at {path}")
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except OSError as exc:  # a damaged page: name the file (the pipeline recomputes it first)
        raise SchemaError(f"{path}: cannot read table ({exc})") from None
    info = table_info(path, schema=table.schema)
    if kind is not None:
        if info["kind"] not in (kind, None):
            raise SchemaError(f"{path}: table kind is {info['kind']!r}, expected {kind!r}")
        table = validate(table, kind, where=str(path))
    df = table.to_pandas()
    df.attrs.update(info)
    return df


def table_info(path: str | os.PathLike, schema: pa.Schema | None = None) -> dict[str, Any]:
    """Kind, schema version and provenance of a table, without reading its rows."""
    schema = schema if schema is not None else pq.read_schema(path)
    meta = schema.metadata or {}
    prov = meta.get(b"repalign.provenance")
    return {
        "kind": meta.get(b"repalign.kind", b"").decode() or None,
        "schema_version": meta.get(b"repalign.schema_version", b"").decode() or None,
        "provenance": json.loads(prov) if prov else {},
    }


class ParquetStream:
    """Write a table row group by row group to a temporary file of its own
    (``temp_name``: ``.repalign-tmp/<name>.<pid>-<random>``); ``close()`` renames it into place,
    ``abort()`` (or an error inside ``with``) deletes it. Memory is bounded by one
    row group.

    >>> with ParquetStream(path, schema, kind="features", provenance={...}) as w:
    ...     for batch in batches:
    ...         w.write(batch)          # pa.Table or DataFrame, one row group
    """

    def __init__(
        self,
        path: str | os.PathLike,
        schema: pa.Schema,
        kind: str = "generic",
        provenance: Mapping[str, Any] | None = None,
        options: Mapping[str, Any] | None = None,
    ):
        self.path = Path(path)
        self.kind = kind
        empty = validate(schema.empty_table(), kind, where=str(self.path))
        meta = dict(empty.schema.metadata or {})
        meta.update(_metadata(kind, provenance))
        self.schema = empty.schema.with_metadata(meta)
        self.partial = temp_name(self.path)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        # page checksums always; options: extra pyarrow.parquet.ParquetWriter arguments
        self._writer = pq.ParquetWriter(
            self.partial, self.schema, **{"write_page_checksum": True, **dict(options or {})}
        )
        self.rows = 0

    def write(self, batch: pd.DataFrame | pa.Table) -> None:
        table = validate(_to_arrow(batch), self.kind, where=str(self.path)).select(self.schema.names)
        table = table.cast(self.schema)
        self._writer.write_table(table, row_group_size=max(len(table), 1))
        self.rows += len(table)

    def close(self) -> Path:
        self._writer.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close without publishing and delete the temporary file."""
        try:
            self._writer.close()
        finally:
            self.partial.unlink(missing_ok=True)

    def __enter__(self) -> ParquetStream:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
