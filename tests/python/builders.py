"""Builders of the synthetic inputs several test files share (not part of the package;
the test files import it as ``builders``, this folder being on ``sys.path`` under pytest).

* ``study_head`` / ``digits_study``: the ``[run]``, ``[[stimuli]]`` and ``[[models]]``
  head of a study config (``digits_study``: the smallest offline study, scikit-learn's
  digits through the ``pixels`` model, nothing downloaded), to which a test appends its
  own sections; ``MUR92_METRICS``: the reduced Mur92 study's metrics;
* ``choice_trials``: trial rows whose choices follow a planted signal.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd


def _toml_table(header: str, entries: dict) -> str:
    # values: str, int, float, or lists of those (JSON's spelling is TOML's for them)
    return "\n".join([header] + [f"{k} = {json.dumps(v)}" for k, v in entries.items()])


def study_head(
    stimuli: dict, models=("pixels",), output: str = "out", seed: int | None = 0, name: str | None = None
) -> str:
    """TOML text: ``[run]`` (name, output, seed), one ``[[stimuli]]`` section (``stimuli``)
    and a ``[[models]]`` section per entry of ``models`` (a zoo name, or a dict of keys)."""
    run = {k: v for k, v in (("name", name), ("output", output), ("seed", seed)) if v is not None}
    parts = [_toml_table("[run]", run), _toml_table("[[stimuli]]", stimuli)]
    parts += [_toml_table("[[models]]", m if isinstance(m, dict) else {"name": m}) for m in models]
    return "\n" + "\n\n".join(parts) + "\n"


def digits_study(n: int, output: str = "out", seed: int | None = 0, name: str | None = None, models=("pixels",)) -> str:
    """``study_head`` over ``n`` digits per class (set name "digits"; representations
    ``<model>/<layer>@digits``)."""
    return study_head({"source": "digits", "n": n}, models, output, seed, name)


#: The metrics of the reduced Mur92 study: RSA against the subjects (with its ceiling),
#: intrinsic dimensionality, and CKA against the 32×32 pixels.
MUR92_METRICS = """
[[metrics]]
metric = "rsa"
rdm = "correlation"
method = "spearman"
bootstrap = "subjects"
n_boot = 100

[[metrics]]
metric = "dimensionality"
methods = ["twonn", "pr"]

[[metrics]]
metric = "cka"
reference = "pixels/output@mur92"
"""


def choice_trials(
    rng: np.random.Generator, n_participants: int, n_trials: int, slope: float, participant: str = "p{}"
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(rows, signal, choice) of one task "t1", layer "l": ``n_participants`` ×
    ``n_trials`` rows (participant ids ``participant.format(i)``, trials 1-based), a
    standard-normal signal per row and choices drawn with P(1) = sigmoid(slope · signal)."""
    rows = pd.DataFrame(
        {
            "task": "t1",
            "participant": np.repeat([participant.format(i) for i in range(n_participants)], n_trials),
            "trial": np.tile(np.arange(1, n_trials + 1), n_participants),
            "layer": "l",
        }
    )
    signal = rng.normal(size=len(rows))
    choice = (rng.random(len(rows)) < 1 / (1 + np.exp(-slope * signal))).astype(np.int64)
    return rows, signal, choice


def alignment_study(
    seed: int = 7, n_models: int = 15, n_participants: int = 12, n_trials: int = 40
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(trials, models, metrics) of a synthetic alignment study with a planted effect:
    ``n_models`` models ``net00``… read one signal that the people follow
    (P(choice = 1) = sigmoid(2 s)); model i sees it through noise of s.d.
    3 − 0.18 i and was trained on 10^(3 + 0.3 i) examples, so alignment rises with log
    training size. Families ``fam0``–``fam2``, one objective, and an intrinsic
    dimensionality (``dimensionality_twonn``, dataset ``synthetic``) independent of both."""
    rng = np.random.default_rng(seed)
    base, signal, choice = choice_trials(rng, n_participants, n_trials, slope=2.0, participant="p{:02d}")
    frames, meta, metrics = [], [], []
    for i in range(n_models):
        name = f"net{i:02d}"
        value = signal + (3.0 - 0.18 * i) * rng.normal(size=len(signal))
        frames.append(base.assign(model=name, value=value, choice=choice))
        meta.append(
            {
                "name": name,
                "family": f"fam{i % 3}",
                "objective": "supervised",
                "train_size": round(10 ** (3 + 0.3 * i)),
                "params": 1e6 * (1 + i % 4),
            }
        )
        metrics.append(
            {
                "model": name,
                "layer": "l",
                "dataset": "synthetic",
                "metric": "dimensionality_twonn",
                "value": rng.uniform(5, 30),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "n": 100,
            }
        )
    return pd.concat(frames, ignore_index=True), pd.DataFrame(meta), pd.DataFrame(metrics)


def child_python_env() -> dict[str, str]:
    """Environment for a test's child Python process: clean (``repalign.children.child_env``:
    what an embedded R changed undone) with this checkout's ``python/`` first on PYTHONPATH."""
    from repalign.children import child_env

    src = str(Path(__file__).resolve().parents[2] / "python")
    return child_env({"PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])})
