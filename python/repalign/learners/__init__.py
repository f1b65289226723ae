"""The learners stage: exact, batched trial-by-trial simulation of category,
reward and multiclass learning from any representation (``Embedding``), the
simulated-participant choice model, and the ``[[learners]]`` config plan."""

from repalign.learners.category import DEFAULT_C_GRID, CategoryLearner, category_probabilities
from repalign.learners.choices import choice_probabilities, simulate_choices
from repalign.learners.multiclass import MulticlassLearner, MulticlassTask, huber_tasks, multiclass_probabilities
from repalign.learners.reward import RewardLearner, reward_values

__all__ = [
    "DEFAULT_C_GRID",
    "CategoryLearner",
    "category_probabilities",
    "choice_probabilities",
    "simulate_choices",
    "MulticlassLearner",
    "MulticlassTask",
    "huber_tasks",
    "multiclass_probabilities",
    "RewardLearner",
    "reward_values",
    "run_learner",
]

from repalign.learners.plan import run_learner  # noqa: E402
