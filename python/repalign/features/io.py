"""Read features files back as ``Embedding``s; concept-level averages."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from repalign.datasets import Embedding
from repalign.errors import SchemaError, ValidationError
from repalign.store import table_info, validate


def load_features(path: str | Path, name: str | None = None) -> Embedding:
    """A features (or embedding) Parquet file → ``Embedding`` with float64
    values (n_stimuli, n_dims); ``meta`` holds the file's provenance (model,
    layer, pooling, cache_key, skipped_ids …)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no features file at {path}")
    info = table_info(path)
    if info["kind"] not in ("features", "embedding", None):
        raise SchemaError(f"{path}: table kind is {info['kind']!r}, expected 'features'")
    try:
        table = pq.read_table(path, page_checksum_verification=True)  # damaged pages are found, not used
    except OSError as exc:
        raise SchemaError(f"{path}: cannot read features ({exc})") from None
    table = validate(table, info["kind"] or "features", where=str(path))
    ids = table.column("stimulus_id").to_pylist()
    col = table.column("embedding").combine_chunks()
    n = len(ids)
    lengths = np.diff(col.offsets.to_numpy()) if n else np.zeros(0, np.int64)
    if n and (lengths != lengths[0]).any():
        row = int(np.flatnonzero(lengths != lengths[0])[0])
        raise SchemaError(f"{path}: embedding of {ids[row]!r} has {lengths[row]} values, expected {lengths[0]}")
    d = int(lengths[0]) if n else 0
    start = col.offsets[0].as_py() if n else 0
    values = col.values.to_numpy(zero_copy_only=False)[start : start + n * d].astype(np.float64).reshape(n, d)
    prov = info["provenance"]
    if name is None:
        name = (
            f"{prov['model']}/{prov['layer']}@{prov['stimuli']}"
            if {"model", "layer", "stimuli"} <= prov.keys()
            else path.stem
        )
    return Embedding(tuple(ids), values, name, dict(prov, path=str(path)))


def concept_features(
    embedding: Embedding, concept_of_id: Mapping[str, str] | Callable[[str], str], name: str | None = None
) -> Embedding:
    """Mean of the stimulus vectors of each concept (e.g. THINGS concept of each
    image). Concepts are ordered by first appearance; ``meta['n_per_concept']``
    gives how many stimuli each mean covers. Every stimulus id needs a concept."""
    get = concept_of_id if callable(concept_of_id) else concept_of_id.get
    concepts = [get(s) for s in embedding.ids]
    missing = [s for s, c in zip(embedding.ids, concepts) if c is None or c == ""]
    if missing:
        raise ValidationError(
            f"embedding {embedding.name!r}: no concept for {len(missing)} stimulus id(s): "
            + ", ".join(map(repr, missing[:20]))
        )
    order = list(dict.fromkeys(concepts))
    code = {c: i for i, c in enumerate(order)}
    idx = np.fromiter((code[c] for c in concepts), np.int64, len(concepts))
    sums = np.zeros((len(order), embedding.values.shape[1]))
    np.add.at(sums, idx, embedding.values)
    counts = np.bincount(idx, minlength=len(order))
    return Embedding(
        tuple(order),
        sums / counts[:, None],
        name or f"{embedding.name}@concepts",
        dict(embedding.meta, n_per_concept=counts.tolist()),
    )
