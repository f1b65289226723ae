"""Shared helpers of the learners: torch device, feature look-up, PCA, the
per-trial standardisation every learner applies to its training trials, and the
batched simulate loop (``simulate_in_batches``) that every learner runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import torch

from repalign.datasets import Embedding
from repalign.errors import ValidationError

DTYPE = torch.float64  # exact equivalence with scikit-learn needs double precision


KEYS = ("concept", "image", "path")  # how a learner looks up a task stimulus's feature row


def image_id(path: str, key: str) -> str:
    """Feature id of a task's image path (``stimuli/anvil/anvil_08n.jpg``): key
    "image" → the stem (``anvil_08n``); "path" → concept folder / stem
    (``anvil/anvil_08n``), the id a ``[[stimuli]]`` folder set at THINGS'
    ``object_images`` gives the same image."""
    parts = str(path).replace("\\/", "/").split("/")
    stem = parts[-1].rsplit(".", 1)[0]
    if key == "image":
        return stem
    if len(parts) < 2:
        raise ValidationError(f"key='path': image {path!r} has no concept folder")
    return f"{parts[-2]}/{stem}"


def task_features(stimulus_ids: Sequence[str], features: Embedding, pca: int | None, where: str) -> np.ndarray:
    """Feature rows (n, d) float64 of ``stimulus_ids`` (trial order, repeats allowed).

    Errors list every missing id and every id whose row holds NaN/inf. With ``pca``
    = k, the rows are projected on the first k principal components of the task's
    unique stimuli (scikit-learn ``PCA(k, svd_solver="full")``), as in the
    reference implementation.
    """
    if not isinstance(features, Embedding):
        raise ValidationError(f"{where}: features must be a repalign.datasets.Embedding, got {type(features).__name__}")
    try:
        idx = features.index_of(stimulus_ids)
    except ValidationError as exc:
        raise ValidationError(f"{where}: {exc}") from None
    values = np.asarray(features.values, dtype=np.float64)
    rows = values[idx]
    bad = ~np.isfinite(rows).all(axis=1)
    if bad.any():
        ids = list(dict.fromkeys(np.asarray(stimulus_ids, dtype=object)[bad]))
        shown = ", ".join(map(repr, ids[:20])) + (" …" if len(ids) > 20 else "")
        raise ValidationError(
            f"{where}: features {features.name!r} hold NaN/inf for {len(ids)} stimulus id(s): {shown}"
        )
    if pca is not None:
        from sklearn.decomposition import PCA

        uniq = np.unique(idx)
        k = int(pca)
        if not 1 <= k <= min(len(uniq), values.shape[1]):
            raise ValidationError(
                f"{where}: pca={pca} must be between 1 and min(#unique stimuli={len(uniq)}, #dims={values.shape[1]})"
            )
        model = PCA(n_components=k, svd_solver="full").fit(values[uniq])
        rows = model.transform(rows)
    return np.ascontiguousarray(rows, dtype=np.float64)


def standardize(train: torch.Tensor, *others: torch.Tensor):
    """Standardise by the mean and population s.d. of ``train`` (…, n, d), as
    scikit-learn's StandardScaler; features constant on ``train`` get s.d. 1.
    Returns the standardised ``train`` followed by each of ``others`` (…, m, d)."""
    mu, sd = scaler_stats(train)
    return ((train - mu) / sd, *[(o - mu) / sd for o in others])


def scaler_stats(train: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean, s.d.) of ``train`` (…, n, d) over samples, each (…, 1, d), as
    StandardScaler (population s.d.; constant feature → 1)."""
    n = train.shape[-2]
    mu = train.mean(dim=-2, keepdim=True)
    var = ((train - mu) ** 2).mean(dim=-2, keepdim=True)
    # scikit-learn's test for a constant feature (error bound of the two-pass variance)
    eps = torch.finfo(torch.float64).eps
    const = var <= n * eps * var + (n * mu * eps) ** 2
    sd = torch.where(const, torch.ones_like(var), var.sqrt())
    return mu, sd


def as_task_list(task_or_tasks, kind, where: str) -> list:
    tasks = [task_or_tasks] if isinstance(task_or_tasks, kind) else list(task_or_tasks)
    if not tasks:
        raise ValidationError(f"{where}: no tasks given")
    for t in tasks:
        if not isinstance(t, kind):
            raise ValidationError(f"{where}: expected {kind.__name__} objects, got {type(t).__name__}")
    ids = [t.task_id for t in tasks]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValidationError(f"{where}: duplicate task ids {dup[:10]}")
    return tasks


def group_by(items, key) -> list[list[int]]:
    """Indices of ``items`` grouped by ``key(item)``, groups in first-seen order."""
    groups: dict = {}
    for i, it in enumerate(items):
        groups.setdefault(key(it), []).append(i)
    return list(groups.values())


def simulate_in_batches(
    tasks: Sequence, key: Callable, batch_size: int, run_batch: Callable[[list[int]], Sequence[pd.DataFrame]]
) -> pd.DataFrame:
    """The learners' simulate loop: tasks with the same ``key(task)`` (a batch must
    share its trial structure, e.g. its length) are run together, at most
    ``batch_size`` at a time, by ``run_batch(idx)`` → one trial table per task index
    in ``idx``. Returns the tables concatenated in the order of ``tasks``."""
    frames: list = [None] * len(tasks)
    for group in group_by(tasks, key):
        for start in range(0, len(group), batch_size):
            idx = group[start : start + batch_size]
            for i, df in zip(idx, run_batch(idx), strict=True):
                frames[i] = df
    return pd.concat(frames, ignore_index=True)
