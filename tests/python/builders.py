"""Builders of the synthetic inputs several test files share (not part of the package;
the test files import it as ``builders``, this folder being on ``sys.path`` under pytest).

* ``digits_study``: the head of the smallest offline study (scikit-learn's digits
  through the ``pixels`` model, nothing downloaded), to which a test appends its own
  sections;
* ``choice_trials``: trial rows whose choices follow a planted signal.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def digits_study(n: int, output: str = "out", seed: int | None = 0, name: str | None = None,
                 models: tuple[str, ...] = ("pixels",)) -> str:
    """TOML text: ``[run]`` (name, output, seed), one ``[[stimuli]]`` of ``n`` digits per
    class (set name "digits") and a ``[[models]]`` entry per model in ``models``
    (representations ``<model>/<layer>@digits``)."""
    run = ([f'name = "{name}"'] if name is not None else []) + [f'output = "{output}"'] + \
        ([f"seed = {seed}"] if seed is not None else [])
    parts = ["[run]\n" + "\n".join(run), f'[[stimuli]]\nsource = "digits"\nn = {n}']
    parts += [f'[[models]]\nname = "{m}"' for m in models]
    return "\n" + "\n\n".join(parts) + "\n"


def choice_trials(rng: np.random.Generator, n_participants: int, n_trials: int, slope: float,
                  participant: str = "p{}") -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(rows, signal, choice) of one task "t1", layer "l": ``n_participants`` ×
    ``n_trials`` rows (participant ids ``participant.format(i)``, trials 1-based), a
    standard-normal signal per row and choices drawn with P(1) = sigmoid(slope · signal)."""
    rows = pd.DataFrame({"task": "t1", "participant": np.repeat([participant.format(i) for i in range(n_participants)], n_trials),
                         "trial": np.tile(np.arange(1, n_trials + 1), n_participants), "layer": "l"})
    signal = rng.normal(size=len(rows))
    choice = (rng.random(len(rows)) < 1 / (1 + np.exp(-slope * signal))).astype(np.int64)
    return rows, signal, choice
