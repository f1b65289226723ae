"""Study configuration files (TOML).

A config has one table per stage; each stage validates its own section with
``check_keys`` so that an unknown key is an error listing the valid ones::

    [run]                      # output directory, seed, name
    output = "results/demo"    # relative paths are relative to the config file
    seed = 0

    [[stimuli]]   ...          # stimulus sets          (repalign.features)
    [[models]]    ...          # models × layers        (repalign.models / features)
    [[representations]] ...    # precomputed embeddings (SPoSE, text, random)
    [[metrics]]   ...          # alignment metrics      (repalign.metrics)
    [[learners]]  ...          # simulated learners     (repalign.learners)
    [dynamics]    ...          # learning dynamics      (repalign.dynamics)
    [[embed]]     ...          # SPoSE/VICE training    (repalign.embeddings)
    [r]           ...          # mixed models           (R package)
    [executor]    ...          # local | dask | slurm   (repalign.pipeline)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from repalign.errors import ValidationError

SECTIONS = ("run", "stimuli", "models", "representations", "metrics", "learners", "dynamics", "embed", "r", "executor", "report")
RUN_KEYS = ("name", "output", "seed", "description")


@dataclass(frozen=True)
class Config:
    """A parsed, top-level-validated config. ``raw`` holds every section as read;
    ``path`` the file; ``output`` the resolved output directory."""

    path: Path
    raw: Mapping[str, Any]
    output: Path
    seed: int = 0
    name: str = "run"
    extra: dict = field(default_factory=dict)

    def section(self, name: str, default: Any = None) -> Any:
        if name not in SECTIONS:
            raise ValidationError(f"unknown config section {name!r}; valid: {', '.join(SECTIONS)}")
        return self.raw.get(name, default)

    def resolve(self, p: str | Path) -> Path:
        """A path from the config: relative to the config file's directory."""
        p = Path(p).expanduser()
        return p if p.is_absolute() else (self.path.parent / p).resolve()


def check_keys(section: Mapping[str, Any], allowed: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
    """Error on unknown or missing keys, naming the section and the valid keys."""
    allowed = list(allowed)
    unknown = [k for k in section if k not in allowed]
    if unknown:
        raise ValidationError(f"{where}: unknown key(s) {unknown}; valid keys: {', '.join(allowed)}")
    missing = [k for k in required if k not in section]
    if missing:
        raise ValidationError(f"{where}: missing required key(s) {missing}")


def load_config(path: str | Path, output: str | Path | None = None) -> Config:
    path = Path(path).resolve()
    if not path.is_file():
        raise ValidationError(f"config file not found: {path}")
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: invalid TOML: {exc}") from exc
    check_keys(raw, SECTIONS, str(path))
    run = raw.get("run", {})
    check_keys(run, RUN_KEYS, f"{path} [run]")
    out = Path(output) if output is not None else Path(run.get("output", f"results/{path.stem}"))
    out = out if out.is_absolute() else (path.parent / out).resolve() if output is None else out.resolve()
    return Config(path=path, raw=raw, output=out, seed=int(run.get("seed", 0)), name=str(run.get("name", path.stem)))
