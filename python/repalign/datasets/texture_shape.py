"""Geirhos et al. (2019) texture-vs-shape: edge and filled-silhouette images
(16 categories × 10 each), 16-way classification trials of humans and CNNs, and
the published mapping of ImageNet classes to the 16 categories."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

import pandas as pd

from repalign.datasets.base import malformed
from repalign.datasets.images import StimulusSet
from repalign.datasets.registry import fetch, files

if TYPE_CHECKING:
    import numpy as np

CONDITIONS = ("edges", "filled-silhouettes")
_EXPERIMENT = {"edges": "edge-experiment", "filled-silhouettes": "silhouette-filled-experiment"}
TRIAL_COLUMNS = ["subj", "session", "trial", "rt", "object_response", "category", "condition", "imagename"]


@dataclass(frozen=True)
class TextureShape:
    """stimuli: per condition, a StimulusSet (ids ``edges/cat1`` …, labels ``category``);
    trials: columns of the upstream CSVs plus ``experiment`` (edges or
    filled-silhouettes), ``observer_type`` (human or model), ``stimulus_id`` (the
    stimulus set's id of the trial's image, e.g. ``edges/oven10``) and ``correct``
    (``object_response == category``; a human's time-out ``na`` is wrong)."""

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
    # imagename "0001_edg_s01_0_oven_00_oven10.png": the last "_" field is the image file
    files_ = trials["imagename"].astype(str).str.rsplit("_", n=1).str[-1].str.replace(r"\.[A-Za-z]+$", "", regex=True)
    trials["stimulus_id"] = trials["experiment"] + "/" + files_
    for cond, s in stimuli.items():
        unknown = sorted(set(trials.loc[trials["experiment"] == cond, "stimulus_id"]) - set(s.ids))
        if unknown:
            raise malformed(
                f"texture-shape raw-data ({_EXPERIMENT[cond]})",
                None,
                f"image(s) {unknown[:5]} are not stimuli of {cond}",
            )
    trials["correct"] = trials["object_response"] == trials["category"]
    return TextureShape(stimuli, trials)


_MAPPING_FILE = "code/helper/human_categories.py"
_WNID_FILE = "code/helper/categories.txt"


@dataclass(frozen=True)
class ImageNet16:
    """The published 16-class mapping of ImageNet (Geirhos et al. 2018, 2019).

    categories: the 16 categories, sorted (the order of the seed's
    ``get_human_object_recognition_categories``); indices: per category, the
    ImageNet-1k class indices (0–999, the order of ``categories.txt``) whose
    softmax outputs are aggregated into that category; wnids: per category, the
    seed's WordNet id list (some are not ILSVRC-2012 classes); imagenet: the 1000
    (WNID, name) pairs in class-index order.
    """

    categories: tuple[str, ...]
    indices: dict[str, tuple[int, ...]]
    wnids: dict[str, tuple[str, ...]]
    imagenet: tuple[tuple[str, str], ...]

    def index_matrix(self) -> np.ndarray:
        """(16, 1000) 0/1 membership of ImageNet classes in the categories (rows in ``categories`` order)."""
        import numpy as np

        M = np.zeros((len(self.categories), len(self.imagenet)), dtype=np.float64)
        for i, c in enumerate(self.categories):
            M[i, list(self.indices[c])] = 1.0
        return M


def _class_body(tree: ast.Module, name: str) -> list[ast.stmt]:
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == name:
            return node.body
    return []


def load_imagenet16() -> ImageNet16:
    """Parse the seed's ``human_categories.py`` as data (``ast``; it is never
    imported or run) and ``categories.txt``; every inconsistency is an error naming
    the file. Source: rgeirhos/texture-vs-shape, code/helper/human_categories.py
    (class ``HumanCategories``: ``<category>`` WNID lists and ``<category>_indices``)."""
    path = fetch("texture-shape", _MAPPING_FILE)
    tree = ast.parse(path.read_text(), filename=str(path))
    values: dict[str, object] = {}
    for node in _class_body(tree, "HumanCategories"):
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                values[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue  # not a literal (none expected in the class body)
    categories = tuple(sorted(k[: -len("_indices")] for k in values if k.endswith("_indices")))
    if len(categories) != 16:
        raise malformed(
            path, None, f"expected 16 '<category>_indices' lists in class HumanCategories, found {len(categories)}"
        )
    indices, wnids = {}, {}
    for c in categories:
        idx, w = values[f"{c}_indices"], values.get(c)
        if not (isinstance(idx, list) and all(isinstance(i, int) and 0 <= i < 1000 for i in idx) and idx):
            raise malformed(path, None, f"{c}_indices must be a non-empty list of ImageNet indices 0–999")
        if not (isinstance(w, list) and all(isinstance(x, str) for x in w)):
            raise malformed(path, None, f"HumanCategories.{c} must be a list of WNID strings")
        indices[c], wnids[c] = tuple(idx), tuple(w)
    flat = [i for c in categories for i in indices[c]]
    if len(flat) != len(set(flat)):
        raise malformed(path, None, "an ImageNet index belongs to two categories")
    wpath = fetch("texture-shape", _WNID_FILE)
    imagenet = []
    for n, line in enumerate(wpath.read_text().splitlines(), 1):
        m = re.fullmatch(r"(n\d{8}) (.+)", line.strip())
        if not m:
            raise malformed(wpath, n, f"expected '<WNID> <names>', got {line[:60]!r}")
        imagenet.append((m[1], m[2]))
    if len(imagenet) != 1000:
        raise malformed(wpath, None, f"expected 1000 ImageNet classes, found {len(imagenet)}")
    return ImageNet16(categories, indices, wnids, tuple(imagenet))
