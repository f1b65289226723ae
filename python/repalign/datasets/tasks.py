"""Category- and reward-learning tasks on THINGS objects, and human choices.

* Demircan et al. (2024): 1050 category-learning condition files (120 trials of a
  THINGS image and its true category Julty/Folty) and 240 reward-learning condition
  files (two arms per trial with concept, image and reward).
* Demircan et al. (2022, THINGSDecisions): 25 participants × 150 trials of a
  two-armed reward-learning task with human choices and RTs.

The THINGS concept of an image is derived from its path
(``stimuli/<concept>/<image>.jpg`` or ``stimuli/<concept>.png``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from repalign.datasets.base import malformed
from repalign.datasets.registry import fetch, files
from repalign.datasets.things import load_things_ids
from repalign.errors import UnknownDatasetError

__all__ = [
    "CategoryTask",
    "RewardTask",
    "HumanRewardData",
    "concept_of",
    "load_category_task",
    "load_category_tasks",
    "load_reward_task",
    "load_reward_tasks",
    "load_things_decisions",
    "CATEGORY_NAMES",
]

CATEGORY_NAMES = ("Folty", "Julty")  # category 0, category 1


def concept_of(image_path: str) -> str:
    """THINGS concept of a stimulus path: ``stimuli/anvil/anvil_08n.jpg`` → ``anvil``."""
    p = PurePosixPath(image_path.replace("\\/", "/"))
    parts = p.parts
    if len(parts) >= 3 and parts[0] == "stimuli":
        return parts[1]
    if len(parts) == 2 and parts[0] == "stimuli":
        return p.stem
    raise ValueError(f"cannot derive a THINGS concept from stimulus path {image_path!r}")


@dataclass(frozen=True)
class CategoryTask:
    """One category-learning sequence.

    images, concepts: per trial (n_trials,); categories: int64 (n_trials,), 1 for
    ``Julty`` and 0 for ``Folty`` (``CATEGORY_NAMES``).
    """

    task_id: str
    images: tuple[str, ...]
    concepts: tuple[str, ...]
    categories: np.ndarray

    def __len__(self) -> int:
        return len(self.concepts)


@dataclass(frozen=True)
class RewardTask:
    """One two-armed reward-learning sequence.

    concepts, images: object arrays (n_trials, 2) (arm 0 = left, arm 1 = right);
    rewards: float64 (n_trials, 2). ``choices`` (int64, 1 = arm 1 / right) and
    ``participant`` are set for human data.
    """

    task_id: str
    concepts: np.ndarray
    images: np.ndarray
    rewards: np.ndarray
    choices: np.ndarray | None = None
    participant: str | None = None

    def __len__(self) -> int:
        return int(self.rewards.shape[0])


def _task_ids(dataset: str) -> list[str]:
    ids = [PurePosixPath(f.path).stem for f in files(dataset)]
    return sorted(ids, key=int)


def _check_concepts(path: Path, concepts, known: set[str]) -> None:
    for line, c in enumerate(np.ravel(concepts)):
        if c not in known:
            raise malformed(path, None, f"stimulus concept {c!r} (entry {line}) is not a THINGS unique id")


def _condition_file(dataset: str, task_id: str, what: str) -> tuple[Path, object]:
    """(path, parsed JSON) of one condition file of ``dataset``; ``what`` names the
    kind of file in the error for an unknown id."""
    ids = _task_ids(dataset)
    if task_id not in set(ids):
        raise UnknownDatasetError(f"no {what} condition file {task_id!r} (valid: {ids[0]}–{ids[-1]})")
    path = fetch(dataset, f"condition_files/{task_id}.json")
    try:
        return path, json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise malformed(path, exc.lineno, f"invalid JSON: {exc.msg}") from exc


def load_category_task(task_id: str | int) -> CategoryTask:
    task_id = str(task_id)
    path, trials = _condition_file("things-category-tasks", task_id, "category-learning")
    images, cats = [], []
    for i, tr in enumerate(trials):
        try:
            images.append(tr["stimulus"])
            cat = tr["true_category"]
        except (KeyError, TypeError) as exc:
            raise malformed(path, None, f"trial {i}: missing key {exc}") from exc
        if cat not in CATEGORY_NAMES:
            raise malformed(path, None, f"trial {i}: true_category must be Julty or Folty, got {cat!r}")
        cats.append(CATEGORY_NAMES.index(cat))
    concepts = tuple(concept_of(s) for s in images)
    _check_concepts(path, concepts, set(load_things_ids()))
    return CategoryTask(task_id, tuple(images), concepts, np.asarray(cats, dtype=np.int64))


def load_category_tasks(task_ids=None) -> list[CategoryTask]:
    """Category-learning tasks (all 1050 by default), in numeric id order."""
    ids = _task_ids("things-category-tasks") if task_ids is None else [str(t) for t in task_ids]
    return [load_category_task(t) for t in ids]


def load_reward_task(task_id: str | int) -> RewardTask:
    task_id = str(task_id)
    path, cols = _condition_file("things-reward-tasks", task_id, "reward-learning")
    need = ["arm_0_category", "arm_1_category", "arm_0_image", "arm_1_image", "arm_0_reward", "arm_1_reward"]
    missing = [k for k in need if k not in cols]
    if missing:
        raise malformed(path, None, f"missing keys {missing}")
    trials = sorted(cols["arm_0_category"], key=int)
    if any(sorted(cols[k], key=int) != trials for k in need):
        raise malformed(path, None, "arm columns have different trial keys")
    concepts = np.array([[cols["arm_0_category"][t], cols["arm_1_category"][t]] for t in trials], dtype=object)
    images = np.array([[cols["arm_0_image"][t], cols["arm_1_image"][t]] for t in trials], dtype=object)
    rewards = np.array([[cols["arm_0_reward"][t], cols["arm_1_reward"][t]] for t in trials], dtype=np.float64)
    derived = np.vectorize(concept_of, otypes=[object])(images)
    if (derived != concepts).any():
        i = int(np.argwhere(derived != concepts)[0, 0])
        raise malformed(path, None, f"trial {trials[i]}: image path does not match arm category")
    _check_concepts(path, concepts, set(load_things_ids()))
    return RewardTask(task_id, concepts, images, rewards)


def load_reward_tasks(task_ids=None) -> list[RewardTask]:
    """Reward-learning tasks (all 240 by default), in numeric id order."""
    ids = _task_ids("things-reward-tasks") if task_ids is None else [str(t) for t in task_ids]
    return [load_reward_task(t) for t in ids]


@dataclass(frozen=True)
class HumanRewardData:
    """THINGSDecisions: human choices in a two-armed reward-learning task.

    ``trials`` columns: participant (str), trial (1-based int), left, right (THINGS
    ids), reward_left, reward_right (float), choice (1 = right, 0 = left), rt (ms).
    """

    trials: pd.DataFrame

    @property
    def participants(self) -> list[str]:
        return sorted(self.trials["participant"].unique())

    def tasks(self) -> list[RewardTask]:
        """One RewardTask per participant, with the human choices attached."""
        out = []
        for p, df in self.trials.groupby("participant", sort=True):
            df = df.sort_values("trial")
            out.append(
                RewardTask(
                    task_id=str(p),
                    concepts=df[["left", "right"]].to_numpy(dtype=object),
                    images=df[["image_left", "image_right"]].to_numpy(dtype=object),
                    rewards=df[["reward_left", "reward_right"]].to_numpy(dtype=np.float64),
                    choices=df["choice"].to_numpy(dtype=np.int64),
                    participant=str(p),
                )
            )
        return out


def load_things_decisions() -> HumanRewardData:
    path = fetch("things-decisions", "data/behavioural_data_14.csv")
    raw = pd.read_csv(path)
    need = ["participant_n", "trial_n", "ImageLeft", "ImageRight", "RewardLeft", "RewardRight", "responseKey", "RT"]
    missing = [c for c in need if c not in raw.columns]
    if missing:
        raise malformed(path, 1, f"missing columns {missing}")
    bad = ~raw["responseKey"].isin(["left", "right"])
    if bad.any():
        line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
        raise malformed(path, line, f"responseKey must be left or right, got {raw['responseKey'][bad].iloc[0]!r}")
    trials = pd.DataFrame(
        {
            "participant": raw["participant_n"].astype(str),
            "trial": raw["trial_n"].astype(np.int64),
            "left": raw["ImageLeft"].map(concept_of),
            "right": raw["ImageRight"].map(concept_of),
            "image_left": raw["ImageLeft"].astype(str),
            "image_right": raw["ImageRight"].astype(str),
            "reward_left": raw["RewardLeft"].astype(np.float64),
            "reward_right": raw["RewardRight"].astype(np.float64),
            "choice": (raw["responseKey"] == "right").astype(np.int64),
            "rt": raw["RT"].astype(np.float64),
        }
    )
    known = set(load_things_ids())
    for col in ("left", "right"):
        unknown = ~trials[col].isin(known)
        if unknown.any():
            line = int(np.flatnonzero(unknown.to_numpy())[0]) + 2
            raise malformed(path, line, f"{col} concept {trials[col][unknown].iloc[0]!r} is not a THINGS id")
    return HumanRewardData(trials.sort_values(["participant", "trial"], ignore_index=True))
