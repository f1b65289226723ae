"""Tables of accuracy and error consistency per agent (the classification family's
tables): which columns make one (``classification_columns``), a long metrics-style
table made wide (``classification_wide``), and the finder of such tables among a
run's output files (``find_tables``, Parquet and CSV, R's CSVs included), which the
report shows and ``repalign.metrics.behaviour_figures`` draws.

Error consistency is Cohen's κ of trial-wise correctness (Geirhos, Meding & Wichmann
2020, "Beyond accuracy: quantifying trial-by-trial behaviour of CNNs and humans by
measuring error consistency"), computed by ``repalign.metrics.behaviour``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from repalign.families import FamilyTable, anchor, files_under


def classification_columns(columns: Sequence[str]) -> dict[str, str] | None:
    """Column roles of a classification table (one row per agent, e.g. per stimulus
    set): ``agent``, ``accuracy`` and a κ column (``kappa_to_humans``, else the
    first ``*kappa*`` column that is not a bound), with their CI columns where
    present (``<col>_ci_low``/``_ci_high`` or ``<col>_low``/``_high``; the κ may
    also use ``kappa_ci_low``/``_high`` or plain ``ci_low``/``ci_high``) and a panel column (``set``,
    ``stimulus_set``, ``dataset``, ``experiment``). None when it is not one."""
    cols = list(columns)
    if "agent" not in cols or "accuracy" not in cols:
        return None
    kappas = [c for c in cols if "kappa" in c and not re.search(r"(low|high|lo|hi|sd|se)$", c)]
    if not kappas:
        return None
    k = "kappa_to_humans" if "kappa_to_humans" in kappas else kappas[0]
    out = {"agent": "agent", "accuracy": "accuracy", "kappa": k}

    def bounds(key: str, stems: Sequence[str], generic: bool) -> None:
        pairs = [(f"{c}{a}low", f"{c}{a}high") for c in stems for a in ("_ci_", "_")]
        for lo, hi in pairs + ([("ci_low", "ci_high")] if generic else []):
            if lo in cols and hi in cols:
                out[f"{key}_lo"], out[f"{key}_hi"] = lo, hi
                return

    bounds("accuracy", ["accuracy"], False)
    bounds("kappa", [k, "kappa"], True)
    for p in ("set", "stimulus_set", "dataset", "experiment"):
        if p in cols:
            out["panel"] = p
            break
    if "chance" in cols:
        out["chance"] = "chance"
    return out


def classification_wide(df: pd.DataFrame) -> pd.DataFrame:
    """A long metrics-style table (agent/model, metric, value, ci_low, ci_high with
    an accuracy metric — ``accuracy`` or ``*accuracy*`` — and ``*kappa*`` metrics)
    as one wide row per agent (and dataset); a wide table unchanged."""
    if classification_columns(df.columns) is not None:
        return df
    if {"metric", "value"} <= set(df.columns) and ("agent" in df or "model" in df):
        d = df.rename(columns={"model": "agent"}) if "agent" not in df else df
        keys = ["agent"] + [c for c in ("dataset", "set") if c in d]
        names = sorted(set(d["metric"].astype(str)))
        acc = [m for m in names if m == "accuracy"] or [m for m in names if "accuracy" in m and "kappa" not in m]
        kap = [m for m in names if "kappa" in m]
        parts = []
        for m, col in ([(acc[0], "accuracy")] if acc else []) + [(k, k) for k in kap]:
            s = d[d["metric"] == m][keys + ["value"] + [c for c in ("ci_low", "ci_high") if c in d]]
            s = s.drop_duplicates(keys)
            parts.append(
                s.rename(columns={"value": col, "ci_low": f"{col}_ci_low", "ci_high": f"{col}_ci_high"}).set_index(keys)
            )
        if len(parts) >= 2 and all(len(p) for p in parts[:2]):
            return pd.concat(parts, axis=1).reset_index()
    return df


def _readable(names: Sequence[str]) -> bool:
    """Whether a file's columns make a classification table, wide or long (``metric``,
    ``value`` and an ``agent`` or ``model`` column)."""
    cols = set(names)
    long_ = {"metric", "value"} <= cols and ("agent" in cols or "model" in cols)
    return classification_columns(list(names)) is not None or long_


def find_tables(roots: Sequence[Path]) -> list[FamilyTable]:
    """The classification tables among ``roots`` (the run's output files and folders):
    every Parquet, then every CSV file (each sorted by path) whose columns make one
    (the Parquet schema is read first: cheap), made wide; one per anchor
    ``tab-classification-<file stem>`` (a later file of the same stem replaces an
    earlier one), titled by the file's stem. Files that cannot be read are skipped."""
    import pyarrow.parquet as pq

    found: dict[str, FamilyTable] = {}
    for p in files_under(roots, "*.parquet") + files_under(roots, "*.csv"):
        try:
            if p.suffix == ".parquet":
                if not _readable(pq.read_schema(p).names):
                    continue
                df = pd.read_parquet(p)
            else:
                if not _readable(list(pd.read_csv(p, nrows=0).columns)):
                    continue
                df = pd.read_csv(p)
        except Exception:  # not a table repalign can read: not part of the report
            continue
        df = classification_wide(df)
        if classification_columns(df.columns) is not None:
            a = anchor("classification", p.stem)
            found[a] = FamilyTable(a, p.stem, df, p)
    return list(found.values())
