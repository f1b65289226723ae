"""The tidy metrics table (``metrics`` schema of ``repalign.store``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from repalign.errors import ValidationError

COLUMNS = ("model", "layer", "dataset", "metric", "value", "ci_low", "ci_high", "n")
REQUIRED = ("model", "dataset", "metric", "value")


def metrics_table(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """A DataFrame in the ``metrics`` schema from row dicts.

    Each row needs model, dataset, metric, value; layer defaults to "" (e.g. for an
    embedding without layers), ci_low/ci_high to NaN, n to 0. Extra keys become extra
    columns (kept after the schema columns). Rows keep their order.
    """
    rows = [dict(r) for r in rows]
    for i, r in enumerate(rows):
        missing = [k for k in REQUIRED if k not in r]
        if missing:
            raise ValidationError(f"metrics row {i}: missing {missing}; required: {list(REQUIRED)}")
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame({c: [] for c in COLUMNS})
    defaults = {"layer": "", "ci_low": np.nan, "ci_high": np.nan, "n": 0}
    for col, val in defaults.items():
        if col not in df:
            df[col] = val
        else:
            df[col] = df[col].where(df[col].notna(), val) if col in ("layer", "n") else df[col]
    for col in ("model", "layer", "dataset", "metric"):
        df[col] = df[col].astype(str)
    for col in ("value", "ci_low", "ci_high"):
        df[col] = pd.to_numeric(df[col], errors="raise").astype("float64")
    df["n"] = pd.to_numeric(df["n"], errors="raise").astype("int64")
    extra = [c for c in df.columns if c not in COLUMNS]
    return df[list(COLUMNS) + extra].reset_index(drop=True)
