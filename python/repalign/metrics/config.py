"""Schema of ``[[metrics]]`` entries, one model per ``metric`` (a discriminated union).

The defaults are those of the metrics planner: a task's key hashes the whole entry
with every default filled in (``entry_spec``), so changing a default here changes the
keys of existing studies. ``variant`` ("default" | "published") is left out of the
spec while it is "default".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from repalign.config import Count, NonNegative, OpenUnit, Positive, Section, Seed, Variant, check_nonempty
from repalign.errors import ValidationError


class _Metric(Section):
    """Keys every metric takes: dataset, seed (default: the run's), bootstrap
    resamples and CI level, an entry label (``name``) and the fidelity ``variant``."""

    dataset: str | None = None
    seed: Seed | None = None
    n_boot: NonNegative = 1000
    level: OpenUnit = 0.95
    name: str = ""
    variant: Variant = "default"

    @model_validator(mode="after")
    def _lists(self):
        # [] would compute nothing (and write empty tables), or mean "all" unasked
        check_nonempty(self, [k for k in NONEMPTY if k in type(self).model_fields and k != "representations"])
        check_nonempty(
            self,
            ["representations"] if "representations" in type(self).model_fields else [],
            " (leave the key out for every representation)",
        )
        return self


#: list keys for which an empty list is an error
NONEMPTY = ("representations", "dataset", "similarity", "alphas", "methods", "networks", "rdms")
#: keys naming a researcher's own human-data files; left out of a spec while unset, so that
#: configs written before they existed keep their task keys
OWN_KEYS = ("rdms", "ids_file", "triplets", "decisions", "decide")


class _OfRepresentations(_Metric):
    representations: str | list[str] | None = None  # default: every representation the data are about


class OddOneOutMetric(_OfRepresentations):
    """``triplets``: the researcher's own odd-one-out file (repalign.datasets.own); then
    ``dataset`` names the stimulus set its ids belong to (a [[stimuli]] name or "things")."""

    metric: Literal["odd_one_out"]
    dataset: str | list[str] | None = "test_10"  # triplet source(s), read as one set
    similarity: str | list[str] = ["dot"]
    fit_temperature: bool = False
    triplets: str | None = None


class NoiseCeilingMetric(_Metric):
    """``triplets``: the researcher's own odd-one-out file (its repeated triplets give the ceiling)."""

    metric: Literal["noise_ceiling"]
    dataset: str | None = "noise_ceiling"
    triplets: str | None = None


class ProbeMetric(_OfRepresentations):
    metric: Literal["probe"]
    dataset: str | list[str] | None = "test_10"  # triplet source(s), read as one set
    similarity: str | list[str] = ["dot"]
    penalty: str = "identity"
    alphas: list[Positive] = [1e-3, 1e-2, 1e-1, 1.0]
    n_folds: Annotated[int, Field(ge=2)] = 3
    inner_folds: Annotated[int, Field(ge=2)] = 2
    epochs: Count = 10
    max_triplets: NonNegative = 0  # 0: every triplet
    n_components: Count | None = None


class RSAMetric(_OfRepresentations):
    """``rdms``: the researcher's own RDM file(s) (repalign.datasets.own; several files =
    several subjects), ``ids_file`` the ids of ``.npy`` RDMs; then ``dataset`` names the
    [[stimuli]] set whose ids the RDMs use."""

    metric: Literal["rsa"]
    dataset: str | None = "mur92"
    rdm: str = "correlation"
    method: str = "spearman"
    bootstrap: str = "subjects"
    rdms: str | list[str] | None = None
    ids_file: str | None = None


class CKAMetric(_OfRepresentations):
    metric: Literal["cka"]
    dataset: str | None = ""
    reference: str  # a representation name (required)
    kernel: str = "linear"
    unbiased: bool = False


class DimensionalityMetric(_OfRepresentations):
    metric: Literal["dimensionality"]
    dataset: str | None = ""
    methods: str | list[str] = ["twonn", "mle", "pr", "pca90"]
    k: Count = 20


class SeparationMetric(_OfRepresentations):
    """``dataset``: mur92, things, or a [[stimuli]] set name (labels = one of its label
    columns, e.g. a folder set's ``category`` = sub-folder)."""

    metric: Literal["separation"]
    dataset: str | None = "mur92"
    labels: str = "category"
    formula: str = "naturalcogsci"  # | kornblith | distinct_pairs (see metrics.classification.FORMULAS)


class ClassificationMetric(_OfRepresentations):
    """16-way decisions on texture-shape: ``dataset`` = condition(s) ("" = edges and
    filled silhouettes); ``networks`` = raw-data CNNs to include beside the config's models.
    ``decisions``: the researcher's own decisions file (repalign.datasets.own; any label
    set); then ``dataset`` names the [[stimuli]] set whose ids it uses, and ``decide`` how a
    model decides: "nearest_mean" (default: leave-one-out nearest class mean of its features)
    or "imagenet16" (an ImageNet classifier's logits → the 16 categories, for 16-way files)."""

    metric: Literal["classification"]
    dataset: str | list[str] | None = ""
    networks: str | list[str] = ["alexnet", "googlenet", "vgg"]
    decisions: str | None = None
    decide: str | None = None


class ShapeBiasMetric(_OfRepresentations):
    """Shape bias on Geirhos et al.'s cue-conflict images (repalign.metrics.shape_bias):
    ``dataset`` = "cue-conflict"; ``networks`` = raw-data networks to include beside the
    config's models (None = all 16; names as in the decisions, e.g. "alexnet",
    "pytorch-alexnet"); ``representations`` default: every ImageNet head over a
    ``texture-shape-cue-conflict`` stimulus set."""

    metric: Literal["shape_bias"]
    dataset: str | None = "cue-conflict"
    networks: str | list[str] | None = None


#: metric name → its entry model; add a metric here (and its rows in metrics.compute)
METRIC_MODELS: dict[str, type[_Metric]] = {
    "odd_one_out": OddOneOutMetric,
    "noise_ceiling": NoiseCeilingMetric,
    "probe": ProbeMetric,
    "rsa": RSAMetric,
    "cka": CKAMetric,
    "dimensionality": DimensionalityMetric,
    "separation": SeparationMetric,
    "classification": ClassificationMetric,
    "shape_bias": ShapeBiasMetric,
}
METRICS = tuple(METRIC_MODELS)
# a Union over a tuple built at run time has no `X | Y` spelling
MetricEntry = Annotated[Union[tuple(METRIC_MODELS.values())], Field(discriminator="metric")]  # noqa: UP007


def metric_model(entry: Mapping[str, Any], where: str) -> type[_Metric]:
    """The entry model of a ``[[metrics]]`` entry, chosen by its ``metric`` key."""
    metric = entry.get("metric")
    if not isinstance(metric, str) or metric not in METRIC_MODELS:
        raise ValidationError(f"{where}: 'metric' must be one of {', '.join(METRICS)}, got {metric!r}")
    return METRIC_MODELS[metric]


def entry_spec(entry: _Metric, seed: int) -> dict[str, Any]:
    """The planner's spec of a validated entry: every key with its default, the
    run's seed for ``seed``, "" for a missing dataset."""
    spec = entry.spec()
    spec["metric"] = spec.pop("metric")
    if spec["dataset"] is None:
        spec["dataset"] = ""
    if spec["seed"] is None:
        spec["seed"] = seed
    for k in OWN_KEYS:
        if k in spec and spec[k] is None:
            del spec[k]
    return spec
