"""Huber, Mast & Wichmann (2024): humans and fine-tuned networks learning a
3-category task (categories p, q, v) over six epochs.

Image names encode the stimulus: ``second_gen_<category>_<object>_<axis>_<angle>.png``
or ``second_gen_<category>_<object>_0.png`` (canonical view: axis "none", angle 0).
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

AGENTS = ("human", "alexnet", "vgg16", "resnet50", "efficientnet", "convnext", "vit")
CATEGORIES = ("p", "q", "v")
TRIAL_COLUMNS = ["run", "epoch", "phase", "image_name", "ground_truth", "prediction"]
_NAME = re.compile(
    r"^second_gen_(?P<category>[pqv])_(?P<object>\d+)_(?:(?P<axis>[xyz])_(?P<angle>-?\d+)|(?P<zero>0))\.png$"
)


def parse_image_name(name: str) -> dict:
    """Category, object id, rotation axis and angle (degrees) of an image name."""
    m = _NAME.match(name)
    if not m:
        raise ValueError(f"not a learning-dynamics image name: {name!r}")
    return {
        "category": m["category"],
        "object_id": int(m["object"]),
        "axis": m["axis"] or "none",
        "angle": int(m["angle"]) if m["angle"] is not None else 0,
    }


@dataclass(frozen=True)
class LearningDynamics:
    """trials: one row per trial with columns agent, run, epoch, phase (train/test),
    image_name, ground_truth, prediction, category, object_id, axis, angle,
    test_set (0 for training images), seen_object (object shown in training),
    correct. images: StimulusSet of the 342 images (labels: split, test_set,
    category, object_id, axis, angle)."""

    trials: pd.DataFrame
    images: StimulusSet


def load_learning_dynamics(agents=AGENTS) -> LearningDynamics:
    images = _load_images()
    lab = images.labels
    name_to_set = dict(zip(lab["image_name"], lab["test_set"]))
    train_objects = set(
        zip(lab.loc[lab["split"] == "train", "category"], lab.loc[lab["split"] == "train", "object_id"])
    )
    frames = []
    for agent in agents:
        if agent not in AGENTS:
            raise ValueError(f"unknown learning-dynamics agent {agent!r}; known: {', '.join(AGENTS)}")
        path = fetch("learning-dynamics", f"data/{agent}_classification_data.csv")
        df = pd.read_csv(path)
        missing = [c for c in TRIAL_COLUMNS if c not in df.columns]
        if missing:
            raise malformed(path, 1, f"missing columns {missing}")
        try:
            parsed = pd.DataFrame([parse_image_name(n) for n in df["image_name"]])
        except ValueError as exc:
            raise malformed(path, None, str(exc)) from exc
        bad = parsed["category"].to_numpy() != df["ground_truth"].to_numpy()
        if bad.any():
            raise malformed(path, int(np.flatnonzero(bad)[0]) + 2, "ground_truth does not match the image name")
        unknown = ~df["image_name"].isin(name_to_set.keys())
        if unknown.any():
            raise malformed(
                path,
                int(np.flatnonzero(unknown.to_numpy())[0]) + 2,
                f"unknown image {df['image_name'][unknown].iloc[0]!r}",
            )
        df = pd.concat([df[TRIAL_COLUMNS].reset_index(drop=True), parsed], axis=1)
        df.insert(0, "agent", agent)
        df["test_set"] = df["image_name"].map(name_to_set).astype(np.int64)
        df["seen_object"] = [(c, o) in train_objects for c, o in zip(df["category"], df["object_id"])]
        df["correct"] = df["prediction"] == df["ground_truth"]
        frames.append(df)
    return LearningDynamics(pd.concat(frames, ignore_index=True), images)


def _load_images() -> StimulusSet:
    entries = [f for f in files("learning-dynamics") if f.path.startswith("dnns/dataset/") and f.path.endswith(".png")]
    rows, paths = [], []
    for f in sorted(entries, key=lambda f: f.path):
        parts = PurePosixPath(f.path).parts  # dnns dataset train|test [testset_k] cat name
        split = parts[2]
        test_set = int(parts[3].split("_")[1]) if split == "test" else 0
        info = parse_image_name(parts[-1])
        rows.append({"image_name": parts[-1], "split": split, "test_set": test_set, **info})
        paths.append(fetch(f.dataset, f.path))
    labels = pd.DataFrame(rows)
    labels.index = pd.Index(labels["image_name"].str.removesuffix(".png"), name="stimulus_id")
    return StimulusSet("learning-dynamics", tuple(labels.index), labels, paths=tuple(paths))
