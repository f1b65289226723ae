"""A researcher's own human data, read from files and checked in full before any work.

Three kinds, each read into the typed object the metrics already take (file formats:
docs/own-human-data.md):

* ``read_rdms``: dissimilarity matrices → ``SubjectRDMs`` (subjects, n, n) with ids.
  One subject per file: a square CSV/TSV whose header row and first column hold the
  same ids in the same order, or a square ``.npy`` with its ids in ``ids_file``
  (one id per line); several subjects in one file: a ``.npy`` of shape (s, n, n), or a
  long table (CSV/TSV/Parquet) with columns ``subject``, ``stimulus_1``,
  ``stimulus_2``, ``dissimilarity`` (every pair of different stimuli of a subject once,
  in either order).
* ``read_triplets``: odd-one-out choices → ``Triplets`` (the chosen item last), from a
  table with columns ``participant``, ``stimulus_1``, ``stimulus_2``, ``stimulus_3``
  and ``odd`` (the id of the chosen odd one, one of the three).
* ``read_decisions``: labelling decisions → a table ``participant``, ``stimulus_id``,
  ``response`` (the label chosen; any label set), ``category`` (the true label: the
  file's ``category`` column, else the stimulus set's labels). Every participant
  decides once on every stimulus of the file.

Every check fails with one line naming the file, the column or id, and what was
expected against what was given. ``stimulus_ids``: the ids of the stimulus set the file
is about; an id outside it is an error.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from repalign.datasets.things import Triplets
from repalign.errors import ValidationError

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")
RDM_SUFFIXES = (".csv", ".tsv", ".npy", ".parquet")
RDM_LONG_COLUMNS = ("subject", "stimulus_1", "stimulus_2", "dissimilarity")
TRIPLET_COLUMNS = ("participant", "stimulus_1", "stimulus_2", "stimulus_3", "odd")
DECISION_COLUMNS = ("participant", "stimulus_id", "response")


@dataclass(frozen=True)
class SubjectRDMs:
    """Subjects' RDMs over the same stimuli: ``rdms`` float64 (s, n, n), symmetric with a
    zero diagonal; ``ids`` (n,) the stimulus of each row; ``subjects`` (s,) names."""

    rdms: np.ndarray
    ids: tuple[str, ...]
    subjects: tuple[str, ...]
    source: str


def _show(items: Sequence, n: int = 5) -> str:
    items = list(items)
    more = f" … ({len(items)} in all)" if len(items) > n else ""
    return ", ".join(map(repr, items[:n])) + more


def file_key(paths: Sequence[Path]) -> str:
    """sha256 (32 hex digits) of the files' bytes, in order: what identifies the data, never the path."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:32]


def _exists(path: Path, what: str, suffixes: Sequence[str]) -> None:
    if path.suffix.lower() not in suffixes:
        raise ValidationError(
            f"{what} {path}: expected a {', '.join(suffixes)} file, got {path.suffix or 'no suffix'!r}"
        )
    if not path.is_file():
        raise ValidationError(f"{what} not found: {path}")
    if path.stat().st_size == 0:
        raise ValidationError(f"{what} {path} is empty")


def read_table(path: Path, what: str, header: bool = True) -> pd.DataFrame:
    """A CSV (comma), TSV (tab) or Parquet file as text cells (Parquet: as stored);
    one line naming the file when it is not readable."""
    if path.suffix.lower() == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            return pq.read_table(path).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise ValidationError(
                f"{what} {path} is not a readable Parquet file ({str(exc).strip().splitlines()[0]})"
            ) from None
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{what} {path} is not UTF-8 text (byte {exc.start}: {exc.reason}); save it as UTF-8"
        ) from None
    sep = "\t" if path.suffix.lower() == ".tsv" else ","
    try:
        return pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, header=0 if header else None)
    except pd.errors.EmptyDataError:
        raise ValidationError(f"{what} {path} is empty (no header line)") from None
    except (pd.errors.ParserError, ValueError) as exc:
        raise ValidationError(
            f"{what} {path} is not a readable {path.suffix[1:].upper()} file ({str(exc).strip().splitlines()[0]})"
        ) from None


def _need_columns(df: pd.DataFrame, columns: Sequence[str], path: Path, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValidationError(
            f"{what} {path}: missing column(s) {_show(missing)}; expected {', '.join(columns)}, "
            f"got {_show(list(map(str, df.columns)), 8)}"
        )


def _read_columns(path: Path, what: str, columns: Sequence[str]) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """A table file (CSV/TSV/Parquet) with ``columns`` and at least one row: the table and
    those columns as text; each failure is one line naming the file."""
    _exists(path, what, TABLE_SUFFIXES)
    df = read_table(path, what)
    _need_columns(df, columns, path, what)
    if len(df) == 0:
        raise ValidationError(f"{what} {path}: no rows")
    return df, {c: _text_column(df, c, path, what) for c in columns}


def _text_column(df: pd.DataFrame, col: str, path: Path, what: str) -> np.ndarray:
    """The cells of ``col`` as stripped text; error naming the first empty cell (line numbers count the header)."""
    v = df[col].astype(object).where(df[col].notna(), "").astype(str).str.strip().to_numpy()
    empty = np.flatnonzero(v == "")
    if empty.size:
        raise ValidationError(
            f"{what} {path}: column {col!r} is empty on {empty.size} row(s), first on line {empty[0] + 2}"
        )
    return v


def _check_known(
    ids: Sequence[str], stimulus_ids: Sequence[str] | None, set_name: str, path: Path, what: str, where: str = ""
) -> None:
    if stimulus_ids is None:
        return
    known = set(stimulus_ids)
    unknown = list(dict.fromkeys(i for i in ids if i not in known))
    if unknown:
        raise ValidationError(
            f"{what} {path}{where}: {len(unknown)} id(s) not in stimulus set {set_name!r}: "
            f"{_show(unknown)}; its ids are e.g. {_show(list(stimulus_ids)[:3], 3)}"
        )


def _numbers(cells: np.ndarray, path: Path, what: str, where: str, locate=None) -> np.ndarray:
    """Finite float64 values of text cells; ``locate(flat index)`` says where the first bad one is."""
    vals = pd.to_numeric(pd.Series(cells.ravel()), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        at = f" ({locate(int(bad[0]))})" if locate is not None else ""
        raise ValidationError(
            f"{what} {path}: {bad.size} cell(s) are not finite numbers{where}, first {str(cells.ravel()[bad[0]])!r}{at}"
        )
    return vals.reshape(cells.shape)


def _check_square(D: np.ndarray, ids: Sequence[str], path: Path, what: str) -> None:
    """Symmetric with a zero diagonal, naming the first offending pair of ids."""
    scale = max(1.0, float(np.abs(D).max()))
    diff = np.abs(D - D.T)
    if diff.max() > 1e-8 * scale:
        i, j = np.unravel_index(np.argmax(diff), D.shape)
        raise ValidationError(
            f"{what} {path}: not symmetric: ({ids[i]!r}, {ids[j]!r}) = {D[i, j]:g} but "
            f"({ids[j]!r}, {ids[i]!r}) = {D[j, i]:g}"
        )
    d = np.abs(np.diag(D))
    if d.max() > 1e-8 * scale:
        i = int(np.argmax(d))
        raise ValidationError(
            f"{what} {path}: the diagonal must be 0 (a stimulus is not dissimilar to itself); "
            f"({ids[i]!r}, {ids[i]!r}) = {D[i, i]:g}"
        )


def _ids_file(path: Path | None, what: str, data: Path) -> list[str]:
    if path is None:
        raise ValidationError(
            f"{what} {data} is a .npy array; name its ids with ids_file (a text file, one id per line)"
        )
    if not path.is_file():
        raise ValidationError(f"{what}: ids file not found: {path}")
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [s.strip() for s in lines]


def _unique_ids(ids: Sequence[str], path: Path, what: str, where: str) -> None:
    s = pd.Series(list(ids))
    dup = s[s.duplicated()].unique().tolist()
    if dup:
        raise ValidationError(f"{what} {path}{where}: {len(dup)} duplicated id(s): {_show(dup)}")
    empty = [i + 1 for i, x in enumerate(ids) if not str(x).strip()]
    if empty:
        raise ValidationError(f"{what} {path}{where}: {len(empty)} empty id(s), at position(s) {_show(empty)}")


def _square_file(path: Path, ids_file: Path | None, what: str) -> tuple[np.ndarray, list[str]]:
    """One square matrix file (CSV/TSV with id header and id first column, or .npy + ids)."""
    if path.suffix.lower() == ".npy":
        try:
            D = np.load(path, allow_pickle=False)
        except (ValueError, EOFError, OSError) as exc:
            raise ValidationError(f"{what} {path} is not a numeric .npy array ({exc or type(exc).__name__})") from None
        if not np.issubdtype(D.dtype, np.number):
            raise ValidationError(f"{what} {path} holds {D.dtype} values, expected numbers")
        ids = _ids_file(ids_file, what, path)
        if D.ndim not in (2, 3) or D.shape[-1] != D.shape[-2]:
            raise ValidationError(
                f"{what} {path} holds an array of shape {D.shape}; expected (n, n) or (subjects, n, n)"
            )
        if D.shape[-1] != len(ids):
            raise ValidationError(
                f"{what} {path} is {D.shape[-1]} × {D.shape[-1]} but ids file {ids_file} has {len(ids)} ids"
            )
        return D.astype(np.float64), ids
    df = read_table(path, what, header=False)
    cells = df.to_numpy(dtype=object).astype(str)
    if cells.shape[0] < 2 or cells.shape[1] < 2:
        raise ValidationError(
            f"{what} {path}: expected a header row of ids and one row per id, got {cells.shape[0]} row(s) "
            f"× {cells.shape[1]} column(s)"
        )
    col_ids = [c.strip() for c in cells[0, 1:]]
    row_ids = [c.strip() for c in cells[1:, 0]]
    if len(row_ids) != len(col_ids):
        raise ValidationError(
            f"{what} {path}: {len(row_ids)} rows but {len(col_ids)} id columns; a square matrix has one row per column"
        )
    if row_ids != col_ids:
        k = next(i for i, (a, b) in enumerate(zip(row_ids, col_ids)) if a != b)
        raise ValidationError(
            f"{what} {path}: row {k + 1}'s id {row_ids[k]!r} differs from column {k + 1}'s id "
            f"{col_ids[k]!r}; rows and columns must list the same ids in the same order"
        )
    n = len(row_ids)
    return _numbers(
        cells[1:, 1:], path, what, "", lambda k: f"row {row_ids[k // n]!r}, column {row_ids[k % n]!r}"
    ), row_ids


def _long_table(df: pd.DataFrame, path: Path, what: str) -> tuple[np.ndarray, list[str], list[str]]:
    subj = _text_column(df, "subject", path, what)
    a = _text_column(df, "stimulus_1", path, what)
    b = _text_column(df, "stimulus_2", path, what)
    d = _numbers(
        df["dissimilarity"].astype(str).to_numpy(), path, what, " in column 'dissimilarity'", lambda k: f"line {k + 2}"
    )
    same = np.flatnonzero(a == b)
    if same.size:
        raise ValidationError(
            f"{what} {path}: line {same[0] + 2} pairs {a[same[0]]!r} with itself; list pairs of "
            "different stimuli (the diagonal is 0)"
        )
    ids = sorted(set(a) | set(b))
    subjects = list(dict.fromkeys(subj))
    pos = {s: i for i, s in enumerate(ids)}
    n = len(ids)
    R = np.full((len(subjects), n, n), np.nan)
    for k, s in enumerate(subjects):
        rows = np.flatnonzero(subj == s)
        i = np.array([pos[x] for x in a[rows]])
        j = np.array([pos[x] for x in b[rows]])
        key = np.minimum(i, j) * n + np.maximum(i, j)
        u, first, counts = np.unique(key, return_index=True, return_counts=True)
        if (counts > 1).any():
            r = rows[first[np.argmax(counts > 1)]]
            raise ValidationError(f"{what} {path}: subject {s!r} rates the pair ({a[r]!r}, {b[r]!r}) more than once")
        if u.size != n * (n - 1) // 2:
            have = set(u.tolist())
            lo, hi = next((p, q) for p in range(n) for q in range(p + 1, n) if p * n + q not in have)
            raise ValidationError(
                f"{what} {path}: subject {s!r} rates {u.size} of the {n * (n - 1) // 2} pairs of "
                f"the file's {n} ids; first missing pair ({ids[lo]!r}, {ids[hi]!r})"
            )
        R[k, i, j] = d[rows]
        R[k, j, i] = d[rows]
        R[k, np.arange(n), np.arange(n)] = 0.0
    return R, ids, subjects


def read_rdms(
    paths: str | Path | Sequence[str | Path],
    stimulus_ids: Sequence[str] | None = None,
    set_name: str = "",
    ids_file: str | Path | None = None,
    source: str = "",
) -> SubjectRDMs:
    """Subjects' RDMs from one file or several (one subject per file; see the module doc).

    stimulus_ids: the ids of the stimulus set the RDMs are about (every RDM id must be one
    of them); ids_file: the ids of ``.npy`` files. Several files must hold the same ids
    (in any order: rows are put in the first file's order). Needs at least 3 stimuli."""
    what = "human RDM file"
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not paths:
        raise ValidationError(f"{what}: no file given")
    ids_path = Path(ids_file) if ids_file is not None else None
    stacks: list[np.ndarray] = []
    subjects: list[str] = []
    ids0: list[str] | None = None
    for path in paths:
        if path.suffix.lower() == ".npy" and ids_path is None:
            _ids_file(None, what, path)
        _exists(path, what, RDM_SUFFIXES)
        long = None
        if path.suffix.lower() != ".npy":
            head = read_table(path, what)
            if set(RDM_LONG_COLUMNS) <= set(map(str, head.columns)):
                long = head
            elif path.suffix.lower() == ".parquet":
                _need_columns(head, RDM_LONG_COLUMNS, path, what)
        if long is not None:
            R, ids, names = _long_table(long, path, what)
        else:
            D, ids = _square_file(path, ids_path, what)
            R = D[None] if D.ndim == 2 else D
            names = [path.stem] if R.shape[0] == 1 else [f"{path.stem}[{k}]" for k in range(R.shape[0])]
            if not np.isfinite(R).all():
                raise ValidationError(f"{what} {path}: {int((~np.isfinite(R)).sum())} NaN/inf value(s)")
        _unique_ids(ids, path, what, "")
        if len(ids) < 3:
            raise ValidationError(f"{what} {path}: an RDM needs at least 3 stimuli, got {len(ids)}")
        _check_known(ids, stimulus_ids, set_name, path, what)
        for k in range(R.shape[0]):
            _check_square(R[k], ids, path, what + (f" (subject {names[k]!r})" if R.shape[0] > 1 else ""))
        if ids0 is None:
            ids0 = list(ids)
        elif set(ids) != set(ids0):
            extra, lack = sorted(set(ids) - set(ids0)), sorted(set(ids0) - set(ids))
            raise ValidationError(
                f"{what} {path}: holds other ids than {paths[0]} (extra {_show(extra)}; "
                f"lacking {_show(lack)}); every subject must rate the same stimuli"
            )
        else:
            order = np.array([ids.index(x) for x in ids0])
            R = R[:, order][:, :, order]
        stacks.append(R)
        subjects += names
    dup = pd.Series(subjects)[pd.Series(subjects).duplicated()].tolist()
    if dup:
        raise ValidationError(f"{what}: subject name(s) {_show(dup)} appear twice; name every file (or subject) once")
    return SubjectRDMs(np.concatenate(stacks), tuple(ids0 or ()), tuple(subjects), source or paths[0].stem)


def read_triplets(
    path: str | Path, stimulus_ids: Sequence[str] | None = None, set_name: str = "", source: str = ""
) -> Triplets:
    """Odd-one-out choices (see the module doc) → ``Triplets`` over the file's ids (sorted),
    the chosen odd item last, the other two in the file's order; participants numbered
    in order of appearance (``Triplets.participant``)."""
    what = "human triplet file"
    path = Path(path)
    _, cols = _read_columns(path, what, TRIPLET_COLUMNS)
    items = np.stack([cols["stimulus_1"], cols["stimulus_2"], cols["stimulus_3"]], axis=1)
    rep = np.flatnonzero((items[:, 0] == items[:, 1]) | (items[:, 0] == items[:, 2]) | (items[:, 1] == items[:, 2]))
    if rep.size:
        raise ValidationError(
            f"{what} {path}: line {rep[0] + 2} shows a stimulus twice ({', '.join(items[rep[0]])}); "
            "a triplet has three different stimuli"
        )
    odd = cols["odd"]
    is_odd = items == odd[:, None]
    bad = np.flatnonzero(~is_odd.any(axis=1))
    if bad.size:
        r = bad[0]
        raise ValidationError(
            f"{what} {path}: line {r + 2}: odd = {odd[r]!r} is none of the triplet's stimuli "
            f"({', '.join(items[r])}); {bad.size} row(s) like this"
        )
    _check_known(items.ravel(), stimulus_ids, set_name, path, what)
    ids = tuple(sorted(set(items.ravel())))
    pos = {s: i for i, s in enumerate(ids)}
    idx = np.vectorize(pos.__getitem__, otypes=[np.int64])(items)
    order = np.argsort(is_odd, axis=1, kind="stable")  # the two others keep their order, the odd one goes last
    t = np.take_along_axis(idx, order, axis=1)
    participant = pd.factorize(cols["participant"])[0].astype(np.int64)
    return Triplets(t, participant, ids, source or path.stem)


def repeated_triplets(trip: Triplets) -> int:
    """How many distinct triplets (unordered) have at least two responses."""
    _, counts = np.unique(np.sort(trip.triplets, axis=1), axis=0, return_counts=True)
    return int((counts >= 2).sum())


def read_decisions(
    path: str | Path,
    stimulus_ids: Sequence[str] | None = None,
    set_name: str = "",
    labels: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Labelling decisions (see the module doc) → columns participant, stimulus_id,
    response, category (all text). ``labels``: stimulus id → true label, used when the
    file has no ``category`` column (e.g. a folder set's sub-folder)."""
    what = "human decisions file"
    path = Path(path)
    df, cols = _read_columns(path, what, DECISION_COLUMNS)
    out = pd.DataFrame(cols)
    _check_known(out["stimulus_id"], stimulus_ids, set_name, path, what)
    if "category" in df.columns:
        out["category"] = _text_column(df, "category", path, what)
        two = out.groupby("stimulus_id")["category"].nunique()
        if (two > 1).any():
            s = two.index[two > 1][0]
            raise ValidationError(
                f"{what} {path}: stimulus {s!r} has {int(two[s])} different true labels in column "
                "'category'; one per stimulus"
            )
    else:
        if labels is None:
            raise ValidationError(
                f"{what} {path}: no column 'category' (the true label) and stimulus set "
                f"{set_name!r} has no labels to take it from"
            )
        lab = {str(k): str(v) for k, v in labels.items()}
        none = [s for s in out["stimulus_id"].unique() if not lab.get(s, "").strip()]
        if none:
            raise ValidationError(
                f"{what} {path}: no column 'category' and stimulus set {set_name!r} gives no label "
                f"for {len(none)} id(s): {_show(none)}"
            )
        out["category"] = out["stimulus_id"].map(lab)
    dup = out.duplicated(["participant", "stimulus_id"])
    if dup.any():
        r = out[dup].iloc[0]
        raise ValidationError(
            f"{what} {path}: participant {r['participant']!r} decides twice on {r['stimulus_id']!r} "
            f"(line {int(np.flatnonzero(dup.to_numpy())[0]) + 2}); one decision per participant and stimulus"
        )
    people = out["participant"].unique()
    if people.size < 2:
        raise ValidationError(f"{what} {path}: {people.size} participant; error consistency needs at least 2")
    images = set(out["stimulus_id"])
    for p, g in out.groupby("participant", sort=False):
        lack = sorted(images - set(g["stimulus_id"]))
        if lack:
            raise ValidationError(
                f"{what} {path}: participant {p!r} has no decision on {len(lack)} of the file's "
                f"{len(images)} stimuli: {_show(lack)}; every participant decides on every stimulus"
            )
    if out["category"].nunique() < 2:
        raise ValidationError(
            f"{what} {path}: every stimulus has the true label {out['category'].iloc[0]!r}; "
            "a classification needs at least 2 labels"
        )
    return out
