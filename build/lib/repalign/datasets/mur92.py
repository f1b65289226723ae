"""Kriegeskorte et al. (2008) 92 object images and Mur et al. (2013) behavioural RDMs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.io as sio

from repalign.datasets.base import malformed
from repalign.datasets.images import StimulusSet
from repalign.datasets.registry import fetch

N_IMAGES = 92


@dataclass(frozen=True)
class Mur92:
    """The 92-image set and 16 subjects' similarity-judgement RDMs.

    stimuli: StimulusSet of 92 in-memory 175×175 RGB images, ids ``mur92_01`` …
    ``mur92_92``; labels hold ``category`` (e.g. "human bodypart") and the 12
    binary category vectors (animate, inanim, human, …).
    rdms: float64 (16, 92, 92) dissimilarities, symmetric, zero diagonal;
    subjects: the 16 RDM names.
    """

    stimuli: StimulusSet
    rdms: np.ndarray
    subjects: tuple[str, ...]


def load_mur92() -> Mur92:
    sup_path = fetch("mur92", "demos/92imageData/Kriegeskorte_Neuron2008_supplementalData.mat")
    rdm_path = fetch("mur92", "demos/92imageData/92_behavRDMs.mat")
    sup = sio.loadmat(sup_path)
    try:
        stim = sup["stimuli_92objs"][0]
        label_names = [str(x[0]) for x in sup["categoryLabels"][0]]
        vectors = np.asarray(sup["categoryVectors"], dtype=bool)
    except KeyError as exc:
        raise malformed(sup_path, None, f"missing variable {exc}") from exc
    if len(stim) != N_IMAGES or vectors.shape != (N_IMAGES, len(label_names)):
        raise malformed(sup_path, None, f"expected {N_IMAGES} stimuli")
    images = np.stack([np.asarray(s["image"], dtype=np.uint8) for s in stim])
    ids = tuple(f"mur92_{i + 1:02d}" for i in range(N_IMAGES))
    labels = pd.DataFrame(vectors, columns=label_names, index=pd.Index(ids, name="stimulus_id"))
    labels.insert(0, "category", [str(s["category"][0]) for s in stim])
    stimuli = StimulusSet("mur92", ids, labels, arrays=images, meta={"source": str(sup_path)})

    raw = sio.loadmat(rdm_path)
    if "rdms_behav_92" not in raw:
        raise malformed(rdm_path, None, "missing variable 'rdms_behav_92'")
    entries = raw["rdms_behav_92"][0]
    rdms = np.stack([np.asarray(e["RDM"], dtype=np.float64) for e in entries])
    subjects = tuple(str(e["name"][0]) for e in entries)
    if rdms.shape[1:] != (N_IMAGES, N_IMAGES):
        raise malformed(rdm_path, None, f"RDMs must be {N_IMAGES}×{N_IMAGES}, got {rdms.shape[1:]}")
    return Mur92(stimuli, rdms, subjects)
