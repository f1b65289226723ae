"""Schema of the ``[r]`` section: the R stage's options (``repalign.r_stage.plan_r``), which
are the options of ``Rscript analysis/fit_models.R``.

The R stage's key hashes the options as written over the defaults below (keys
without a default, e.g. ``levels``, enter only when written). ``variant``
("default" | "published") enters only when set to "published".

This model is the one declaration of the R stage's options: ``fit_models.R`` takes
each key as the flag ``r_flag(key)`` and ``repalign::fit_run`` as the argument of the
same name (tests/python/test_r_options.py checks both against it).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from repalign.config import Count, NonNegative, Section, Seed, Variant


class RSection(Section):
    """``[r]``: input (a directory of tables; default: the upstream tasks' tables),
    models (metadata CSV), engine, levels ([] = no hierarchical alignment model;
    default in R: ["model", "trial"]), cv, k, by (grouping columns), n_boot, seed
    (default: the run's), id_metric, id_dataset, chains, iter, workers,
    min_models_per_effect (saturation guard of the alignment models: fewer models per
    fixed effect → estimates only, no intervals; 0 = off), variant (``fit_run``'s
    ``variant``: the R models have one form, "published" is noted)."""

    input: str | None = None
    models: str | None = None
    engine: Literal["lme4", "brms"] = "lme4"
    levels: list[Literal["model", "trial"]] | None = None
    cv: Literal["kfold", "loo"] = "kfold"
    k: Count = 5  # more folds than participants: R uses leave-one-participant-out and says so
    by: list[str] | None = None
    n_boot: NonNegative = 1000
    seed: Seed | None = None
    id_metric: str = "dimensionality_twonn"
    id_dataset: str | None = None
    chains: Count = 4
    iter: Count = 2000
    workers: Count = 1
    min_models_per_effect: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 5
    variant: Variant = "default"

    def options(self, seed: int) -> dict:
        """The options handed to the R stage (and hashed into its key): the keys
        written, over the defaults; ``seed`` defaults to the run's."""
        opts = {k: v for k, v in self.spec().items() if v is not None}
        opts.setdefault("seed", seed)
        return opts


def r_flag(key: str) -> str:
    """The ``fit_models.R`` flag of an ``[r]`` key: ``n_boot`` → ``--n-boot``."""
    return "--" + key.replace("_", "-")
