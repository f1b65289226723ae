"""Geirhos et al. (2019) cue-conflict images: the shape of one of 16 categories
rendered (by style transfer) with the texture of another, and the 16-way decisions
of 10 people and of CNNs on them.

Source: rgeirhos/texture-vs-shape (Geirhos, Rubisch, Michaelis, Bethge, Wichmann &
Brendel 2019, "ImageNet-trained CNNs are biased towards texture"):
``stimuli/style-transfer-preprocessed-512/<shape>/<shape><k>-<texture><j>.png``
(1,280 images, 80 of them with shape and texture of the same category) and
``raw-data/style-transfer-512-nomask-experiment/`` (people, AlexNet, GoogLeNet,
VGG) and ``raw-data/style-transfer-512-nomask-experiment-trained-CNNs/`` (13
PyTorch ImageNet CNNs, among them a second AlexNet and the Stylized-ImageNet-trained
``*-train-60-epochs*`` networks). Registry dataset ``texture-shape-cue-conflict``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import pandas as pd

from repalign.datasets.base import malformed
from repalign.datasets.images import StimulusSet
from repalign.datasets.registry import fetch, files
from repalign.errors import ValidationError

DATASET = "texture-shape-cue-conflict"
SET_NAME = "cue-conflict"  # the decisions' ``dataset`` and the stimulus ids' prefix
_IMAGES = "stimuli/style-transfer-preprocessed-512/"
#: raw-data folder → prefix of its networks' agent names (the two folders both hold an "alexnet")
EXPERIMENTS = {
    "style-transfer-512-nomask-experiment": "",
    "style-transfer-512-nomask-experiment-trained-CNNs": "pytorch-",
}
TRIAL_COLUMNS = ("subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename")
#: the tidy decisions table: the classification ``decisions`` columns (``category`` = the
#: shape, ``correct`` = decided by shape) plus the cue columns
DECISION_COLUMNS = (
    "dataset",
    "agent",
    "agent_type",
    "subject",
    "stimulus_id",
    "category",
    "response",
    "correct",
    "experiment",
    "shape",
    "texture",
    "conflict",
    "cue",
)
_NAME = re.compile(r"([a-z]+)(\d+)-([a-z]+)(\d+)")


def parse_image_name(name: str) -> tuple[str, str]:
    """(shape category, texture category) of a cue-conflict image name
    ``<shape><k>-<texture><j>`` (with or without ``.png`` or a folder);
    ValidationError naming the name otherwise."""
    stem = PurePosixPath(str(name)).name.removesuffix(".png")
    m = _NAME.fullmatch(stem)
    if not m:
        raise ValidationError(
            f"cue-conflict image name {name!r}: expected '<shape><k>-<texture><j>.png', e.g. 'cat3-elephant1.png'"
        )
    return m[1], m[3]


def cue_of(response: pd.Series | np.ndarray, shape, texture) -> np.ndarray:
    """Per trial, which cue decided it: ``shape``, ``texture`` or ``other`` (a third
    category or no answer). On non-conflict trials (shape = texture) a match is ``shape``."""
    r, s, t = (np.asarray(x).astype(str) for x in (response, shape, texture))
    return np.where(r == s, "shape", np.where(r == t, "texture", "other"))


@dataclass(frozen=True)
class CueConflict:
    """stimuli: the 1,280 images (ids ``cue-conflict/<shape><k>-<texture><j>``, labels
    ``category`` = shape, ``shape``, ``texture``, ``conflict``), sorted by shape folder
    and name; decisions: ``DECISION_COLUMNS``, one row per agent and image, people
    with ``agent_type`` "human", raw-data networks "network"."""

    stimuli: StimulusSet
    decisions: pd.DataFrame


def _read_trials(path, folder: str, prefix: str) -> pd.DataFrame:
    df = pd.read_csv(path)
    missing = [c for c in TRIAL_COLUMNS if c not in df.columns]
    if missing:
        raise malformed(path, 1, f"missing columns {missing}; expected {list(TRIAL_COLUMNS)}")
    subj = df["subj"].astype(str)
    human = subj.str.startswith("subject-")
    stem = df["imagename"].astype(str).str.rsplit("_", n=1).str[-1]  # "0001_s5n_s01_0_bird_00_bird3-bird2.png"
    parsed = stem.str.extract(r"^([a-z]+\d+-[a-z]+\d+)\.png$")[0]
    if parsed.isna().any():
        i = int(np.flatnonzero(parsed.isna())[0])
        raise malformed(
            path, i + 2, f"imagename {df['imagename'].iloc[i]!r} does not end in '<shape><k>-<texture><j>.png'"
        )
    return pd.DataFrame(
        {
            "agent": np.where(human, subj, prefix + subj),
            "agent_type": np.where(human, "human", "network"),
            "subject": np.where(human, subj, prefix + subj),
            "stimulus_id": f"{SET_NAME}/" + parsed,
            "category": df["category"].astype(str),
            "response": df["object_response"].astype(str),
            "experiment": folder,
        }
    )


def load_cue_conflict() -> CueConflict:
    """Images and decisions of the registry dataset ``texture-shape-cue-conflict``
    (files checked against their sha256). Errors name the file and row."""
    entries = files(DATASET)
    imgs = sorted(
        (f for f in entries if f.path.startswith(_IMAGES)),
        key=lambda f: (PurePosixPath(f.path).parent.name, PurePosixPath(f.path).name),
    )
    ids, shapes, textures = [], [], []
    for f in imgs:
        p = PurePosixPath(f.path)
        shape, texture = parse_image_name(p.name)
        if shape != p.parent.name:
            raise malformed(f.path, None, f"shape {shape!r} of the name differs from its folder {p.parent.name!r}")
        ids.append(f"{SET_NAME}/{p.stem}")
        shapes.append(shape)
        textures.append(texture)
    labels = pd.DataFrame(
        {
            "category": shapes,
            "shape": shapes,
            "texture": textures,
            "conflict": np.asarray(shapes) != np.asarray(textures),
        },
        index=pd.Index(ids, name="stimulus_id"),
    )
    paths = tuple(fetch(DATASET, f.path) for f in imgs)
    stimuli = StimulusSet(DATASET, tuple(ids), labels, paths=paths)
    frames = []
    for f in entries:
        folder = PurePosixPath(f.path).parent.name
        if f.path.startswith("raw-data/") and folder in EXPERIMENTS:
            frames.append(_read_trials(fetch(DATASET, f.path), folder, EXPERIMENTS[folder]))
    if not frames:
        raise ValidationError(f"{DATASET}: no raw-data files in the registry")
    trials = pd.concat(frames, ignore_index=True)
    return CueConflict(stimuli, decisions_table(trials, labels))


def decisions_table(trials: pd.DataFrame, labels: pd.DataFrame, dataset: str = SET_NAME) -> pd.DataFrame:
    """Tidy decisions (``DECISION_COLUMNS``) from trials with columns agent,
    agent_type, subject, stimulus_id, response (and optionally experiment), joined
    to the images' ``labels`` (index stimulus_id; columns shape, texture). Errors
    name an unknown image and an agent deciding twice on one image."""
    unknown = sorted(set(trials["stimulus_id"]) - set(labels.index))
    if unknown:
        raise ValidationError(f"{dataset} decisions: image(s) {unknown[:5]} are not cue-conflict stimuli")
    dup = trials.duplicated(["agent", "stimulus_id"])
    if dup.any():
        r = trials[dup].iloc[0]
        raise ValidationError(f"{dataset} decisions: agent {r['agent']!r} decided twice on image {r['stimulus_id']!r}")
    lab = labels.reindex(trials["stimulus_id"])
    shape, texture = lab["shape"].to_numpy().astype(str), lab["texture"].to_numpy().astype(str)
    if "category" in trials and (trials["category"].astype(str).to_numpy() != shape).any():
        i = int(np.flatnonzero(trials["category"].astype(str).to_numpy() != shape)[0])
        raise ValidationError(
            f"{dataset} decisions: row {i}: category {trials['category'].iloc[i]!r} is not the "
            f"shape {shape[i]!r} of image {trials['stimulus_id'].iloc[i]!r}"
        )
    resp = trials["response"].astype(str).to_numpy()
    out = pd.DataFrame(
        {
            "dataset": dataset,
            "agent": trials["agent"].astype(str).to_numpy(),
            "agent_type": trials["agent_type"].astype(str).to_numpy(),
            "subject": trials["subject"].astype(str).to_numpy(),
            "stimulus_id": trials["stimulus_id"].astype(str).to_numpy(),
            "category": shape,
            "response": resp,
            "correct": resp == shape,
            "experiment": trials["experiment"].astype(str).to_numpy() if "experiment" in trials else "",
            "shape": shape,
            "texture": texture,
            "conflict": shape != texture,
            "cue": cue_of(resp, shape, texture),
        }
    )
    return out[list(DECISION_COLUMNS)]
