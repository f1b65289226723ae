"""``Representation``: a named reference to a representation — what identifies its
numbers, which task must run first, and how to load it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from repalign.datasets import Embedding
from repalign.errors import ValidationError
from repalign.features.io import concept_features, load_features

KINDS = ("features", "text", "spose", "random", "concepts", "file")


@dataclass(frozen=True)
class Representation:
    """A named representation: where it comes from and how to load it.

    name: unique name in the config; model, layer: what the result tables call it;
    stimuli: the stimulus set its rows are ("things" for THINGS concepts, a
    [[stimuli]] name, or ``<set>:<label>`` for concept means); task: key of the task
    that produces it (None if nothing must run first); kind: one of ``KINDS``;
    path: its features Parquet file (features/text) or the user's file (file);
    params: what the kind needs to load it (not part of equality).

    ``cache_key`` identifies its numbers independently of the output
    directory; ``deps`` is the tuple of task keys to wait for; ``load()`` → Embedding
    (float64 values, shape (n_stimuli, n_dims), one row per stimulus id).
    """

    name: str
    model: str
    layer: str
    stimuli: str
    task: str | None
    kind: str
    path: Path | None = None
    params: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def cache_key(self) -> str:
        """What identifies this representation's numbers, independent of where the
        run's output lives (downstream stages key their outputs on it)."""
        if self.kind in ("features", "text") and self.path is not None:
            return f"{self.kind}:{Path(self.path).name}"  # the file name holds the extraction cache key
        if self.kind == "concepts":
            mapping = json.dumps(sorted(dict(self.params["concept_of_id"]).items()))
            return f"concepts:{self.params['of'].cache_key}:{hashlib.sha256(mapping.encode()).hexdigest()[:16]}"
        if self.kind == "file":
            return f"file:{self.params['content']}"  # sha256 of the file and of its ids, not its path
        params = self.key_params
        ids = self.params.get("ids")
        if ids is not None:
            params["ids"] = hashlib.sha256("\0".join(ids).encode()).hexdigest()[:16]
        return f"{self.kind}:{self.model}:{json.dumps(params, sort_keys=True)}"

    @property
    def key_params(self) -> dict:
        """The parameters that change the numbers of a generated representation (random: dims, seed)."""
        return {k: v for k, v in self.params.items() if k in ("dims", "seed")}

    @property
    def deps(self) -> tuple[str, ...]:
        """Keys of the tasks that must finish before ``load()`` works."""
        return (self.task,) if self.task else ()

    def load(self) -> Embedding:
        if self.kind in ("features", "text"):
            if self.path is None or not self.path.is_file():
                raise ValidationError(
                    f"representation {self.name!r} is not extracted yet ({self.path}); "
                    "run `repalign features --config …` first"
                )
            return load_features(self.path, name=self.name)
        if self.kind == "spose":
            from repalign.datasets import load_spose

            e = load_spose(int(self.params["dims"]))
            return Embedding(e.ids, e.values, self.name, dict(e.meta))
        if self.kind == "random":
            ids = self.params.get("ids")
            if ids is None:
                from repalign.datasets import load_things_ids

                ids = load_things_ids()
            rng = np.random.default_rng(int(self.params["seed"]))
            return Embedding(
                tuple(ids),
                rng.standard_normal((len(ids), int(self.params["dims"]))),
                self.name,
                {"model": "random", "seed": int(self.params["seed"])},
            )
        if self.kind == "concepts":
            base: Representation = self.params["of"]
            return concept_features(base.load(), dict(self.params["concept_of_id"]), name=self.name)
        if self.kind == "file":
            from repalign.representations.files import read_file

            emb, content = read_file(
                self.path, ids=self.params.get("ids"), ids_file=self.params.get("ids_file"), name=self.name
            )
            if content != self.params["content"]:
                raise ValidationError(
                    f"representation {self.name!r}: {self.path} changed since the run was "
                    "planned (its content hash differs); plan the run again"
                )
            return emb
        raise ValidationError(f"representation {self.name!r}: unknown kind {self.kind!r}")
