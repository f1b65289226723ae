"""Schema of ``[[metrics]]`` entries, one model per ``metric`` (a discriminated union),
and the one registration of every metric kind (``MetricKind``, in ``KINDS``).

An entry is validated once, by its model, when the config is checked (before any
stage plans): types and ranges, the own-data keys that go together, every value
against the metric's valid values (the same one-line messages the planner gave),
and with ``variant = "published"`` the paper's values filled in where the entry
does not set them (``PUBLISHED``). The validated entry is frozen and normalised
(single strings of list keys become lists), so a task reads its values as they are.

The defaults are those of the metrics planner: a task's key hashes the whole entry
with every default filled in (``_Metric.key_fields``), so changing a default here
changes the keys of existing studies.
"""

from __future__ import annotations

import importlib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union

from pydantic import Field, model_validator

from repalign.config import (
    Count,
    NonNegative,
    OpenUnit,
    Positive,
    Section,
    Seed,
    Variant,
    check_nonempty,
    key_error,
)
from repalign.errors import ValidationError

#: what ``variant = "published"`` changes where the entry does not set the key itself
#: (Muttenthaler et al. 2023: cosine zero-shot on all THINGS triplets; the probe's λ grid
#: and 100-epoch cap; see docs/fidelity.md)
PUBLISHED: dict[str, dict[str, Any]] = {
    "odd_one_out": {"dataset": ["train_90", "test_10"], "similarity": ["cosine"]},
    "probe": {
        "dataset": ["train_90", "test_10"],
        "penalty": "zero",
        "alphas": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0],
        "epochs": 100,
    },
}
#: metric → its own-data file key (repalign.metrics.own_human)
OWN_FILE_KEY = {"rsa": "rdms", "odd_one_out": "triplets", "noise_ceiling": "triplets", "classification": "decisions"}
#: how a model decides on an own decisions file (repalign.metrics.own_classification)
DECIDE = ("nearest_mean", "imagenet16")


def _one_of(key: str, value: Any, valid: Sequence[Any]) -> None:
    if value not in valid:
        raise ValueError(f"{key} = {value!r}; valid: {', '.join(map(str, valid))}")


def _as_list(value: Any) -> Any:
    """A single string of a list key as a one-item list."""
    return [value] if isinstance(value, str) else value


def _entry_error(metric: str, text: str):
    """A problem of the entry as a whole: ``[[metrics]] #i (<metric>): <text>``."""
    return key_error(f"({metric})", text)


class _Metric(Section):
    """Keys every metric takes: dataset, seed (default: the run's), bootstrap
    resamples and CI level, an entry label (``name``) and the fidelity ``variant``."""

    dataset: str | None = None
    seed: Seed | None = None
    n_boot: NonNegative = 1000
    level: OpenUnit = 0.95
    name: str = ""
    variant: Variant = "default"

    @model_validator(mode="wrap")
    @classmethod
    def _validated(cls, data: Any, handler: Callable[[Any], _Metric]) -> _Metric:
        # One pass, in this order: the paper's values where the entry does not set them (before
        # validation: they are checked like written values), types and ranges, the keys as
        # written, then the normalised values (a frozen model: a copy) against the valid ones.
        if isinstance(data, Mapping) and data.get("variant") == "published":
            published = PUBLISHED.get(str(data.get("metric")), {})
            data = {**{k: v for k, v in published.items() if k not in data}, **data}
        entry = handler(data)
        entry._check_lists()
        entry._check_own()
        entry = entry.model_copy(update=entry._normalised())
        entry._check_values()
        return entry

    def _check_lists(self) -> None:
        # [] would compute nothing (and write empty tables), or mean "all" unasked
        check_nonempty(self, [k for k in NONEMPTY if k in type(self).model_fields and k != "representations"])
        check_nonempty(
            self,
            ["representations"] if "representations" in type(self).model_fields else [],
            " (leave the key out for every representation)",
        )

    def _check_own(self) -> None:
        """The own-data keys as written go together (no files read): a file needs
        ``dataset`` = a stimulus set name."""
        m = self.metric
        key = OWN_FILE_KEY.get(m)
        if key is None or getattr(self, key) is None:
            if m == "classification" and self.decide is not None:
                raise ValueError(
                    'decide says how models decide on your own decisions file; give the file with decisions = "<file>"'
                )
            if m == "rsa" and self.ids_file is not None:
                raise ValueError('ids_file names the ids of .npy RDMs; give the RDMs with rdms = "<file>"')
            return
        if "dataset" not in self.model_fields_set or not isinstance(self.dataset, str) or not self.dataset:
            raise _entry_error(
                m,
                f'{key} = {getattr(self, key)!r} needs dataset = "<the [[stimuli]] set whose ids the file uses>" '
                '(or "things" for THINGS concept ids)',
            )
        if self.variant == "published":
            raise _entry_error(m, f'variant = "published" reproduces a paper\'s data; leave it out with {key}')
        if m == "classification" and (self.decide if self.decide is not None else "nearest_mean") not in DECIDE:
            raise _entry_error(m, f"decide = {self.decide!r}; valid: {', '.join(DECIDE)}")

    def _normalised(self) -> dict[str, Any]:
        """Values to store in place of those written: list keys as lists, no dataset as ""."""
        out: dict[str, Any] = {"dataset": ""} if self.dataset is None else {}
        for key in ("representations", "similarity", "methods"):
            if isinstance(getattr(self, key, None), str):
                out[key] = [getattr(self, key)]
        return out

    def _check_values(self) -> None:
        """Every value against the metric's valid values (a ValueError names the key)."""

    @property
    def own_file(self) -> str | None:
        """The entry's own human-data file (rdms, triplets, decisions), if any."""
        key = OWN_FILE_KEY.get(self.metric)
        return getattr(self, key) if key is not None else None

    def spec_fields(self) -> dict[str, Any]:
        """The entry as the planner has always described it (tables' provenance): every
        key with its value, the own-data keys left out while unset (so that configs
        written before they existed keep their task keys)."""
        spec = self.model_dump()
        for k in OWN_KEYS:
            if k in spec and spec[k] is None:
                del spec[k]
        return spec

    def key_fields(self) -> dict[str, Any]:
        """What a task key hashes: ``spec_fields`` without the representations (the
        task's representation is keyed by its own content)."""
        return {k: v for k, v in self.spec_fields().items() if k != "representations"}

    def _triplet_sources(self) -> None:
        # a list of triplet sources is read as one set (the published probe pools train_90 and test_10)
        if self.own_file is None:
            from repalign.datasets.things import TRIPLET_SOURCES

            for d in _as_list(self.dataset):
                _one_of("dataset", d, tuple(TRIPLET_SOURCES))


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

    def _check_values(self) -> None:
        from repalign.metrics.odd_one_out import SIMILARITIES

        self._triplet_sources()
        for s in self.similarity:
            _one_of("similarity", s, SIMILARITIES)


class NoiseCeilingMetric(_Metric):
    """``triplets``: the researcher's own odd-one-out file (its repeated triplets give the ceiling)."""

    metric: Literal["noise_ceiling"]
    dataset: str | None = "noise_ceiling"
    triplets: str | None = None

    def _check_values(self) -> None:
        self._triplet_sources()


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

    def _check_values(self) -> None:
        from repalign.metrics.probing import PENALTIES, PROBE_SIMILARITIES

        self._triplet_sources()
        for s in self.similarity:
            _one_of("similarity", s, PROBE_SIMILARITIES)
        _one_of("penalty", self.penalty, PENALTIES)
        if self.variant == "published" and (
            self.penalty != "zero" or self.similarity != ["dot"] or self.n_components is not None
        ):
            raise ValueError(
                'variant = "published" is the square probe with penalty = "zero" on dot products; '
                f"got penalty = {self.penalty!r}, similarity = {self.similarity!r}, n_components = "
                f"{self.n_components!r}"
            )


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

    def _check_values(self) -> None:
        from repalign.metrics.rsa import COMPARISONS, RDM_METRICS

        if not self.rdms:  # with rdms: a stimulus set's name, checked when planned
            _one_of("dataset", self.dataset, ("mur92",))
        _one_of("rdm", self.rdm, RDM_METRICS)
        _one_of("method", self.method, COMPARISONS)
        _one_of("bootstrap", self.bootstrap, ("subjects", "stimuli", "none"))


class CKAMetric(_OfRepresentations):
    metric: Literal["cka"]
    dataset: str | None = ""
    reference: str  # a representation name (required)
    kernel: str = "linear"
    unbiased: bool = False

    def _check_values(self) -> None:
        from repalign.metrics.cka import KERNELS

        _one_of("kernel", self.kernel, KERNELS)


class DimensionalityMetric(_OfRepresentations):
    metric: Literal["dimensionality"]
    dataset: str | None = ""
    methods: str | list[str] = ["twonn", "mle", "pr", "pca90"]
    k: Count = 20

    def _check_values(self) -> None:
        from repalign.metrics.dimensionality import METHODS

        for x in self.methods:
            _one_of("methods", x, METHODS)


class SeparationMetric(_OfRepresentations):
    """``dataset``: mur92, things, or a [[stimuli]] set name (labels = one of its label
    columns, e.g. a folder set's ``category`` = sub-folder)."""

    metric: Literal["separation"]
    dataset: str | None = "mur92"
    labels: str = "category"
    formula: str = "naturalcogsci"  # | kornblith | distinct_pairs (see metrics.classification.FORMULAS)

    def _check_values(self) -> None:
        from repalign.metrics.classification import FORMULAS

        # mur92, things, or a [[stimuli]] set's name (its labels; checked when planned)
        if not self.dataset:
            raise ValueError('dataset = ""; valid: mur92, things or a [[stimuli]] set\'s name')
        _one_of("formula", self.formula, FORMULAS)
        if self.dataset == "things":
            _one_of("labels", self.labels, ("category", "concept"))
        if self.variant == "published" and self.formula != "naturalcogsci":
            raise ValueError(f'variant = "published" is formula = "naturalcogsci", got {self.formula!r}')


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

    def _normalised(self) -> dict[str, Any]:
        # "" (every condition; no raw-data network) becomes []; with a decisions file
        # dataset names its stimulus set
        out = super()._normalised()
        for key in ("networks",) if self.decisions else ("dataset", "networks"):
            value = out.get(key, getattr(self, key))
            if isinstance(value, str):
                out[key] = [value] if value else []
        return out

    def _check_values(self) -> None:
        if not self.decisions:
            from repalign.datasets.texture_shape import CONDITIONS

            for d in self.dataset:
                _one_of("dataset", d, CONDITIONS)


class ShapeBiasMetric(_OfRepresentations):
    """Shape bias on Geirhos et al.'s cue-conflict images (repalign.metrics.shape_bias):
    ``dataset`` = "cue-conflict"; ``networks`` = raw-data networks to include beside the
    config's models (None = all 16; names as in the decisions, e.g. "alexnet",
    "pytorch-alexnet"); ``representations`` default: every ImageNet head over a
    ``texture-shape-cue-conflict`` stimulus set."""

    metric: Literal["shape_bias"]
    dataset: str | None = "cue-conflict"
    networks: str | list[str] | None = None

    def _normalised(self) -> dict[str, Any]:
        out = super()._normalised()
        if isinstance(self.networks, str):
            out["networks"] = [self.networks]
        return out

    def _check_values(self) -> None:
        _one_of("dataset", self.dataset, ("cue-conflict",))


@dataclass(frozen=True)
class MetricKind:
    """One metric's registration (the one place a metric kind is declared).

    model: its entry model (its ``metric`` literal names the kind); rows: the
    ``"module:function"`` computing the rows of one task, called as
    ``rows(entry, emb, model=, layer=, **extra)`` (``emb`` None for a kind without
    representations, ``extra``: ``human`` when the entry brings its own data,
    ``reference`` the reference's embedding for CKA); entry_task: instead of rows,
    the ``"module:function"`` planning one task for the whole entry (all its agents in
    one table), called as ``entry_task(entry, refs, config, where, human=, stimuli=)``;
    of_representations: whether its tasks run over representations. The functions
    are named, not imported, so that validating a config imports no metric code.
    """

    model: type[_Metric]
    rows: str | None = None
    entry_task: str | None = None
    of_representations: bool = True

    @property
    def name(self) -> str:
        return typing.get_args(self.model.model_fields["metric"].annotation)[0]

    def function(self) -> Callable[..., Any]:
        """The registered rows (or entry_task) function."""
        module, _, name = (self.rows or self.entry_task or "").partition(":")
        return getattr(importlib.import_module(module), name)


_COMPUTE = "repalign.metrics.compute"
#: every metric kind, in the order the docs list them; add a metric here
KINDS: tuple[MetricKind, ...] = (
    MetricKind(OddOneOutMetric, rows=f"{_COMPUTE}:odd_one_out_rows"),
    MetricKind(NoiseCeilingMetric, rows=f"{_COMPUTE}:noise_ceiling_rows", of_representations=False),
    MetricKind(ProbeMetric, rows=f"{_COMPUTE}:probe_rows"),
    MetricKind(RSAMetric, rows=f"{_COMPUTE}:rsa_rows"),
    MetricKind(CKAMetric, rows=f"{_COMPUTE}:cka_rows"),
    MetricKind(DimensionalityMetric, rows=f"{_COMPUTE}:dimensionality_rows"),
    MetricKind(SeparationMetric, rows=f"{_COMPUTE}:separation_rows"),
    MetricKind(ClassificationMetric, entry_task="repalign.metrics.plan:classification_task"),
    MetricKind(ShapeBiasMetric, entry_task="repalign.metrics.shape_bias_task:shape_bias_task"),
)
#: metric name → its registration
METRIC_KINDS: dict[str, MetricKind] = {k.name: k for k in KINDS}
METRICS = tuple(METRIC_KINDS)
# a Union over a tuple built at run time has no `X | Y` spelling
MetricEntry = Annotated[Union[tuple(k.model for k in KINDS)], Field(discriminator="metric")]  # noqa: UP007


def metric_model(entry: Mapping[str, Any], where: str) -> type[_Metric]:
    """The entry model of a ``[[metrics]]`` entry, chosen by its ``metric`` key."""
    metric = entry.get("metric")
    if not isinstance(metric, str) or metric not in METRIC_KINDS:
        raise ValidationError(f"{where}: 'metric' must be one of {', '.join(METRICS)}, got {metric!r}")
    return METRIC_KINDS[metric].model
