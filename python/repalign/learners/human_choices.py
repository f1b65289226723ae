"""Human choices for the Demircan et al. (2024) tasks, read from a user's file in
the paper's format, and joined to a learner's trial table.

Format (candemircan/naturalcogsci ``naturalcogsci/helpers.py``: ``parse_category_data``
and ``parse_reward_data`` write ``data/human_behavioural/<task>/all.csv`` and
``above_chance.csv``, one row per participant and trial): required columns

    participant   the participant's id (any string)
    cond_file     the condition file the participant did (1–1050 category, 1–240 reward)
    trial         0-based trial number (0..119 category, 0..59 reward)
    choice        category: 1 = "Julty" (key j, category 1), 0 = "Folty";
                  reward: 1 = right option (arm 1), 0 = left (arm 0)

Other columns are allowed. When present, ``image`` (category) or ``left_image`` and
``right_image`` (reward) are checked against the condition file trial by trial
(by image file name), so a file that does not match the tasks is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePosixPath

import numpy as np
import pandas as pd

from repalign.errors import ValidationError

__all__ = ["REQUIRED_COLUMNS", "read_demircan_choices", "check_against_tasks", "attach_human_choices", "file_sha256"]

REQUIRED_COLUMNS = ("participant", "cond_file", "trial", "choice")
_DATASET = {"category": ("things-category-tasks", 120), "reward": ("things-reward-tasks", 60)}


def file_sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _stem(s) -> str:
    return str(s).replace("\\/", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]


def _as_int(values: pd.Series, where: str, column: str) -> np.ndarray:
    num = pd.to_numeric(values, errors="coerce")
    bad = num.isna() | (num != np.round(num))
    if bad.any():
        raise ValidationError(
            f"{where}: column {column!r} must hold integers; row {int(np.flatnonzero(bad)[0]) + 2} has "
            f"{values.iloc[int(np.flatnonzero(bad)[0])]!r}"
        )
    return num.to_numpy().astype(np.int64)


def read_demircan_choices(path: Path | str, kind: str) -> pd.DataFrame:
    """Validated human choices: columns participant (str), cond_file (str task id),
    trial (1-based, repalign's numbering), choice (int 0/1), sorted by participant
    and trial; plus ``image`` / ``left_image``, ``right_image`` when the file has them.

    kind: "category" or "reward". Raises ValidationError naming the file and the
    column, participant or cond file at fault.
    """
    if kind not in _DATASET:
        raise ValidationError(f"human choices: kind must be 'category' or 'reward', got {kind!r}")
    path = Path(path)
    where = f"choices file {path}"
    if not path.is_file():
        raise ValidationError(f"{where}: not found")
    try:
        raw = pd.read_csv(path, dtype={"participant": str, "cond_file": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{where}: not a readable CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise ValidationError(
            f"{where}: missing column(s) {missing}; the paper's format needs {', '.join(REQUIRED_COLUMNS)}"
        )
    if raw.empty:
        raise ValidationError(f"{where}: no rows")
    if raw["participant"].isna().any():
        raise ValidationError(
            f"{where}: column 'participant' is empty in row {int(np.flatnonzero(raw['participant'].isna())[0]) + 2}"
        )
    cond = _as_int(raw["cond_file"], where, "cond_file")
    trial = _as_int(raw["trial"], where, "trial")
    choice = _as_int(raw["choice"], where, "choice")
    if not np.isin(choice, (0, 1)).all():
        raise ValidationError(f"{where}: column 'choice' must be 0/1, got {sorted(set(choice.tolist()) - {0, 1})[:5]}")
    dataset, n_trials = _DATASET[kind]
    from repalign.datasets.registry import files

    known = {PurePosixPath(f.path).stem for f in files(dataset)}
    unknown = sorted({int(c) for c in cond if str(c) not in known})
    if unknown:
        raise ValidationError(
            f"{where}: unknown cond_file(s) {unknown[:10]} for the {kind} tasks (valid: 1–{len(known)})"
        )
    df = pd.DataFrame(
        {"participant": raw["participant"].astype(str), "cond_file": cond.astype(str), "trial": trial, "choice": choice}
    )
    for col in ("image", "left_image", "right_image"):
        if col in raw.columns:
            df[col] = raw[col].astype(str)
    for p, g in df.groupby("participant", sort=False):
        conds = g["cond_file"].unique()
        if len(conds) != 1:
            raise ValidationError(
                f"{where}: participant {p!r} has rows of several cond files {sorted(conds, key=int)[:5]}"
            )
        if sorted(g["trial"]) != list(range(n_trials)):
            raise ValidationError(
                f"{where}: participant {p!r} must have trials 0..{n_trials - 1} once each (the paper's 0-based "
                "numbering); "
                f"got {len(g)} rows, trials {g['trial'].min()}..{g['trial'].max()}"
            )
    df["trial"] = df["trial"] + 1
    return df.sort_values(["participant", "trial"], kind="stable").reset_index(drop=True)


def check_against_tasks(choices: pd.DataFrame, tasks, where: str) -> None:
    """Refuse choices whose image columns disagree with the condition files."""
    by_id = {t.task_id: t for t in tasks}
    for col, arm in (("image", None), ("left_image", 0), ("right_image", 1)):
        if col not in choices.columns:
            continue
        for cond, g in choices.groupby("cond_file", sort=False):
            task = by_id[cond]
            imgs = np.asarray(task.images, dtype=object)
            expect = imgs if arm is None else imgs[:, arm]
            exp = np.array([_stem(s) for s in expect], dtype=object)[g["trial"].to_numpy() - 1]
            got = np.array([_stem(s) for s in g[col]], dtype=object)
            bad = np.flatnonzero(exp != got)
            if bad.size:
                r = g.iloc[int(bad[0])]
                raise ValidationError(
                    f"{where}: participant {r['participant']!r}, cond_file {cond}, trial {int(r['trial']) - 1}: "
                    f"{col} {r[col]!r} is not the condition file's {exp[bad[0]]!r}"
                )


def attach_human_choices(trials: pd.DataFrame, choices: pd.DataFrame) -> pd.DataFrame:
    """One copy of each cond file's learner rows per participant who did it, with
    ``participant`` = the human's id and ``choice`` = the human's choice. trials:
    a learner table whose ``task`` is the cond file id; choices: from
    ``read_demircan_choices``. Rows in participant, trial order."""
    keep = choices[["participant", "cond_file", "trial", "choice"]].rename(columns={"cond_file": "task"})
    base = trials.drop(columns=[c for c in ("participant", "choice") if c in trials.columns])
    out = keep.merge(base, on=["task", "trial"], how="left", validate="many_to_one")
    if out["model"].isna().any():
        r = out[out["model"].isna()].iloc[0]
        raise ValidationError(f"human choices: no learner row for cond_file {r['task']}, trial {int(r['trial'])}")
    cols = (
        ["task", "participant"] + [c for c in trials.columns if c not in ("task", "participant", "choice")] + ["choice"]
    )
    return out[cols].reset_index(drop=True)
