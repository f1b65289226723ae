"""Geirhos et al. (2019) texture-vs-shape: edge and filled-silhouette images
(16 categories × 10 each) and 16-way classification trials of humans and CNNs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import pandas as pd

from repalign.datasets.base import malformed
from repalign.datasets.images import StimulusSet
from repalign.datasets.registry import fetch, files

CONDITIONS = ("edges", "filled-silhouettes")
_EXPERIMENT = {"edges": "edge-experiment", "filled-silhouettes": "silhouette-filled-experiment"}
TRIAL_COLUMNS = ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"]


@dataclass(frozen=True)
class TextureShape:
    """stimuli: per condition, a StimulusSet (ids ``edges/cat1`` …, labels ``category``);
    trials: columns of the upstream CSVs plus ``experiment`` (edges or
    filled-silhouettes), ``observer_type`` (human or model) and ``correct``."""

    stimuli: dict[str, StimulusSet]
    trials: pd.DataFrame


def load_texture_shape() -> TextureShape:
    stimuli: dict[str, StimulusSet] = {}
    trial_frames = []
    entries = files("texture-shape")
    for cond in CONDITIONS:
        imgs = sorted(
            (f for f in entries if f.path.startswith(f"stimuli/{cond}/")),
            key=lambda f: (PurePosixPath(f.path).parent.name, int(re.sub(r"\D", "", PurePosixPath(f.path).stem) or 0)),
        )
        paths = tuple(fetch(f.dataset, f.path) for f in imgs)
        ids = tuple(f"{cond}/{PurePosixPath(f.path).stem}" for f in imgs)
        cats = [PurePosixPath(f.path).parent.name for f in imgs]
        labels = pd.DataFrame({"category": cats}, index=pd.Index(ids, name="stimulus_id"))
        stimuli[cond] = StimulusSet(f"texture-shape-{cond}", ids, labels, paths=paths)
        for f in entries:
            if f.path.startswith(f"raw-data/{_EXPERIMENT[cond]}/"):
                p = fetch(f.dataset, f.path)
                df = pd.read_csv(p)
                missing = [c for c in TRIAL_COLUMNS if c not in df.columns]
                if missing:
                    raise malformed(p, 1, f"missing columns {missing}")
                df["experiment"] = cond
                df["observer_type"] = ["human" if str(s).startswith("subject-") else "model" for s in df["subj"]]
                trial_frames.append(df)
    trials = pd.concat(trial_frames, ignore_index=True)
    trials["correct"] = trials["object_response"] == trials["category"]
    return TextureShape(stimuli, trials)
