"""Schema of ``[[embed]]`` entries: one model per ``method`` (spose | vice, default
spose), sharing the training and evaluation keys of ``EmbedEntry``.

An embed task's key hashes the whole entry with every default filled in
(``embed_model(...).spec()``), so the defaults here are part of existing studies'
keys. ``variant`` ("default" | "published") is left out of the spec while it is
"default".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, model_validator

from repalign.config import (
    Count,
    NonNegative,
    NonNegativeNumber,
    Number,
    OpenUnit,
    Positive,
    Section,
    Seed,
    Variant,
    check_nonempty,
    key_error,
    memory_problem,
)
from repalign.errors import ValidationError

METHODS = ("spose", "vice")
CHOICE_RULES = ("argmax", "softmax")
HUMAN_SETS = ("train_90", "test_10")


class EmbedEntry(Section):
    """Keys of every ``[[embed]]`` entry (see ``repalign.embeddings.plan``)."""

    name: str  # output name: letters, digits, '_', '.', '-'
    method: str = "spose"
    source: str = "human"  # human | <representation name>
    train: str | list[str] = ["train_90", "test_10"]
    holdout: OpenUnit = 0.2
    n_triplets: Annotated[int, Field(ge=10)] = 100000
    choice: str = "argmax"
    similarity: str = "dot"
    temperature: Positive = 1.0
    compare_to: str | list[str] | None = None  # default: spose49 for THINGS objects
    n_dims: Count = 50
    lr: Positive | None = None  # None: the variant's (default 0.01, published 0.001)
    batch_size: Count = 256
    max_epochs: Count | None = None  # None: the variant's (default 100; published: VICE 1000, SPoSE 2000)
    patience: NonNegative = 5
    min_delta: NonNegativeNumber = 1e-4
    val_fraction: Annotated[Number, Field(ge=0, lt=1, allow_inf_nan=False)] = 0.1
    init_scale: Positive = 0.1
    burnin: NonNegative = 500  # published stopping rule (object-dimensions): epochs before convergence is checked
    stability_window: Count = 500  # ... and epochs over which the dimension count must stay the same
    seed: Seed | None = None  # default: the run's
    device: str = "auto"
    variant: Variant = "default"

    @model_validator(mode="after")
    def _values(self):
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", self.name):
            raise ValueError(f"name {self.name!r} may only hold letters, digits, '_', '.', '-'")
        if self.source == "human":
            train = [self.train] if isinstance(self.train, str) else self.train
            if not train or any(s not in HUMAN_SETS for s in train):
                raise ValueError(f"train = {self.train!r}; choose from {', '.join(HUMAN_SETS)}")
        if self.choice not in CHOICE_RULES:
            raise ValueError(f"choice = {self.choice!r}; valid: {', '.join(CHOICE_RULES)}")
        check_nonempty(self, ("train",))
        # the triplets are held as int64 index triples (and sampled in a few copies of that)
        problem = memory_problem(
            4 * 3 * 8.0 * self.n_triplets, f"{self.n_triplets} triplets", "int64 index triples, a few copies"
        )
        if problem:
            raise key_error("n_triplets", problem)
        return self


class SposeEntry(EmbedEntry):
    method: Literal["spose"] = "spose"
    l1: NonNegativeNumber | None = None  # None: the variant's (default 1.0, published 0.00385)
    prune_threshold: NonNegativeNumber = 0.1


class ViceEntry(EmbedEntry):
    method: Literal["vice"]
    beta: NonNegativeNumber | None = None  # KL weight; None: 0.24 for network triplets, 1.0 for human ones
    spike: Positive = 0.25
    slab: Positive | None = None  # None: the variant's (default 1.0, published 2.0)
    pi: OpenUnit = 0.5
    alpha: OpenUnit = 0.05
    min_objects: Count = 5
    init_sigma: Positive = 0.1


#: method → entry model; its own keys (beyond EmbedEntry's) are the model's parameters
EMBED_MODELS: dict[str, type[EmbedEntry]] = {"spose": SposeEntry, "vice": ViceEntry}
MODEL_KEYS = {
    m: {k: f.default for k, f in cls.model_fields.items() if k not in EmbedEntry.model_fields}
    for m, cls in EMBED_MODELS.items()
}


def embed_model(entry: Mapping[str, Any], where: str) -> type[EmbedEntry]:
    """The entry model of an ``[[embed]]`` entry, chosen by its ``method``."""
    method = entry.get("method", "spose")
    if method not in EMBED_MODELS:
        raise ValidationError(f"{where}: method = {method!r}; valid: {', '.join(METHODS)}")
    other = [k for m in METHODS if m != method for k in MODEL_KEYS[m] if k in entry]
    if other:
        raise ValidationError(
            f"{where}: key(s) {other} do not apply to method {method!r}; its keys: {', '.join(MODEL_KEYS[method])}"
        )
    return EMBED_MODELS[method]


def _method_of(entry: Any) -> str:
    return entry.get("method", "spose") if isinstance(entry, Mapping) else getattr(entry, "method", "spose")


#: an ``[[embed]]`` entry of either method (``method`` may be left out: spose)
EmbedEntryType = Annotated[
    Annotated[SposeEntry, Tag("spose")] | Annotated[ViceEntry, Tag("vice")], Discriminator(_method_of)
]
