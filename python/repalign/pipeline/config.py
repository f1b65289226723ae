"""The whole study config as one typed model: ``StudyConfig`` composes the section
models of every stage (each stage's ``config`` module) with the pipeline's own
``[executor]`` and ``[report]`` sections.

``check_study(config)`` validates every section before any task is planned or run
and fails with one line naming the section, entry, key, expected type and value.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from repalign.config import (
    STAGE_SECTIONS,
    Config,
    Count,
    NonNegative,
    RunSection,
    Section,
    check_shape,
    parse_entries,
    parse_section,
)
from repalign.dynamics.config import DynamicsSection
from repalign.embeddings.config import EmbedEntryType, embed_model
from repalign.errors import ValidationError
from repalign.features.config import ModelEntry, RepresentationEntry, StimuliEntry
from repalign.learners.config import LearnerEntry
from repalign.metrics.config import MetricEntry, metric_model
from repalign.r_config import RSection

KINDS = ("local", "dask", "slurm")


class ExecutorSection(Section):
    """``[executor]``: where tasks run (``repalign.pipeline.executors``). The SLURM keys
    go to dask-jobqueue's SLURMCluster (defaults there: cores 4, processes 1,
    memory "16GB", walltime "02:00:00")."""

    kind: Literal["local", "dask", "slurm"] = "local"
    scheduler: str | None = None
    n_workers: Count = 2
    threads_per_worker: Count = 1
    memory_limit: str = "auto"
    retries: NonNegative = 1  # extra tries of a failed task (0: none)
    gpus_per_worker: NonNegative = 0
    # SLURM (dask-jobqueue)
    queue: str | None = None
    account: str | None = None
    cores: Count | None = None
    processes: Count | None = None
    memory: str | None = None
    walltime: str | None = None
    max_jobs: NonNegative | None = None  # 0 or unset: no adaptive scaling
    job_extra_directives: list[str] | None = None
    local_directory: str | None = None
    log_directory: str | None = None
    python: str | None = None
    scheduler_host: str | None = None


class ReportSection(Section):
    """``[report]``: no keys yet (the report always goes to ``<output>/report.html``)."""


class StudyConfig(Section):
    """Every section of a study config, validated."""

    run: RunSection = Field(default_factory=RunSection)
    stimuli: list[StimuliEntry] = Field(default_factory=list)
    models: list[ModelEntry] = Field(default_factory=list)
    representations: list[RepresentationEntry] = Field(default_factory=list)
    metrics: list[MetricEntry] = Field(default_factory=list)
    learners: list[LearnerEntry] = Field(default_factory=list)
    dynamics: DynamicsSection | None = None
    embed: list[EmbedEntryType] = Field(default_factory=list)
    r: RSection | None = None
    executor: ExecutorSection = Field(default_factory=ExecutorSection)
    report: ReportSection = Field(default_factory=ReportSection)


def executor_section(config: Config | None, overrides: dict[str, Any] | None = None) -> ExecutorSection:
    """The validated ``[executor]`` section of a config (None: no config), with the
    command line's ``overrides`` (those not None) applied before it is validated, so a
    bad override is named as the key it sets."""
    section = dict(config.raw.get("executor") or {}) if config is not None else {}
    section.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return parse_section(ExecutorSection, section, "[executor]")


def written_sections(config: Config) -> frozenset[str]:
    """The sections the config file writes (even empty, e.g. a bare ``[dynamics]``):
    which stages run, and whether there are representations to resolve."""
    return frozenset(config.raw)


def check_study(config: Config | dict[str, Any]) -> StudyConfig:
    """Validate every section of a config (a ``Config`` or the parsed TOML) section by
    section, entry by entry; a config that plans no stage is an error."""
    raw = config.raw if isinstance(config, Config) else config
    check_shape(raw)
    stages = [s for s in STAGE_SECTIONS if s in raw]
    if not stages:
        where = f"{config.path}: " if isinstance(config, Config) else ""
        raise ValidationError(
            f"{where}empty study: no stage section; add at least one of "
            + ", ".join(f"[[{s}]]" if s not in ("dynamics", "r") else f"[{s}]" for s in STAGE_SECTIONS)
        )
    sections: dict[str, Any] = {"run": parse_section(RunSection, raw.get("run", {}), "[run]")}
    for name, model in (
        ("stimuli", StimuliEntry),
        ("models", ModelEntry),
        ("representations", RepresentationEntry),
        ("metrics", metric_model),
        ("learners", LearnerEntry),
        ("embed", embed_model),
    ):
        sections[name] = parse_entries(model, raw.get(name), name)
    for name, model in (
        ("dynamics", DynamicsSection),
        ("r", RSection),
        ("executor", ExecutorSection),
        ("report", ReportSection),
    ):
        if name in raw:
            sections[name] = parse_section(model, raw[name], f"[{name}]")
    # every part is validated: assemble without validating again
    return StudyConfig.model_construct(**sections)
