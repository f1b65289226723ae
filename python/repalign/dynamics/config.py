"""Schema of the ``[dynamics]`` section and its ``[[dynamics.simulate]]`` entries
(see ``repalign.dynamics.plan`` and ``repalign.dynamics.simulate``).

Defaults are the analysis defaults of Huber et al. (2024): the human participants
who learned the task, a 36-trial chance window at p = 1/3 and level 0.95.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from repalign.config import Count, NonNegative, Positive, Section, check_nonempty
from repalign.datasets.learning_dynamics import AGENTS
from repalign.dynamics.curves import HUMAN_LEARNERS


class SimulateEntry(Section):
    """``[[dynamics.simulate]]``: a multiclass learner reading a model's features
    (``model``, extracted) or a features file (``features``) replays the sequences of
    ``sequences``' runs."""

    name: str | None = None  # default: learner:<model or file stem>
    model: str | None = None
    layer: str | None = None
    pooling: str = "auto"
    features: str | None = None
    sequences: str = "human"
    runs: list[int] | None = None  # default: all runs of `sequences`
    C: Positive = 1.0
    pca: Count | None = None
    device: str | None = None
    batch_size: Count = 16
    threads: NonNegative | None = 1  # torch threads while the learner runs (0: leave torch's setting)

    @model_validator(mode="after")
    def _values(self):
        if (self.model is None) == (self.features is None):
            raise ValueError("give exactly one of 'model' (extract features) or 'features' (a file)")
        if self.sequences not in AGENTS:
            raise ValueError(f"sequences: unknown agent {self.sequences!r}; known: {', '.join(AGENTS)}")
        if self.name is not None and self.name in AGENTS:
            raise ValueError(f"name {self.name!r} clashes with an observed agent")
        check_nonempty(self, ("runs",), " (leave the key out for every run)")
        return self


class DynamicsSection(Section):
    """``[dynamics]``: which observed agents to analyse and the analyses' parameters."""

    agents: list[str] = list(AGENTS)
    human_runs: list[int] = list(HUMAN_LEARNERS)
    chance_trials: Count = 36
    chance_p: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 1 / 3
    chance_level: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)] = 0.95
    n_train: Count = 36
    efficiency_baseline: Annotated[float, Field(allow_inf_nan=False)] = 0.0
    glmm: bool = False
    glmm_nagq: int = 0  # 0 (fast, penalised IRLS) or 1 (Laplace)
    simulate: list[SimulateEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _values(self):
        unknown = [a for a in self.agents if a not in AGENTS]
        if unknown:
            raise ValueError(f"agents: unknown agent(s) {unknown}; known: {', '.join(AGENTS)}")
        if self.glmm_nagq not in (0, 1):
            raise ValueError("glmm_nagq: must be 0 (fast, penalised IRLS) or 1 (Laplace)")
        return self
