"""Real public human data (read by every stage): registry (hash-checked files) and loaders
that return typed, validated objects."""

from repalign.datasets.base import Embedding
from repalign.datasets.cue_conflict import CueConflict, load_cue_conflict
from repalign.datasets.images import StimulusSet
from repalign.datasets.learning_dynamics import LearningDynamics, load_learning_dynamics, parse_image_name
from repalign.datasets.mur92 import Mur92, load_mur92
from repalign.datasets.registry import (
    dataset_names,
    fetch,
    fetch_dataset,
    files,
    verify,
)
from repalign.datasets.tasks import (
    CategoryTask,
    HumanRewardData,
    RewardTask,
    concept_of,
    load_category_task,
    load_category_tasks,
    load_reward_task,
    load_reward_tasks,
    load_things_decisions,
)
from repalign.datasets.texture_shape import ImageNet16, TextureShape, load_imagenet16, load_texture_shape
from repalign.datasets.things import (
    ThingsConcepts,
    Triplets,
    load_spose,
    load_things_concepts,
    load_things_ids,
    load_triplets,
)

__all__ = [
    "Embedding",
    "StimulusSet",
    "LearningDynamics",
    "load_learning_dynamics",
    "parse_image_name",
    "Mur92",
    "load_mur92",
    "dataset_names",
    "fetch",
    "fetch_dataset",
    "files",
    "verify",
    "CategoryTask",
    "HumanRewardData",
    "RewardTask",
    "concept_of",
    "load_category_task",
    "load_category_tasks",
    "load_reward_task",
    "load_reward_tasks",
    "load_things_decisions",
    "CueConflict",
    "load_cue_conflict",
    "ImageNet16",
    "load_imagenet16",
    "TextureShape",
    "load_texture_shape",
    "ThingsConcepts",
    "Triplets",
    "load_spose",
    "load_things_concepts",
    "load_things_ids",
    "load_triplets",
]
