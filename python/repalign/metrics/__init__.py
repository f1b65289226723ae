"""The metrics stage: alignment metrics between representations and human data.

Every metric takes features of any origin: a plain (n_objects, d) array or a
``repalign.datasets.Embedding`` (then stimulus ids are checked against the human data).
Results go into the tidy ``metrics`` table (``metrics_table``) and the
``[[metrics]]`` config section is planned into tasks by ``repalign.metrics.plan``
(its ``STAGE``; ``repalign.pipeline.plan.plan_stage(config, "metrics")`` plans it alone).
"""

from importlib import import_module

from repalign.metrics.behaviour import consistency_rows, decision_matrix, imagenet16_decisions
from repalign.metrics.cka import cka, gram, hsic
from repalign.metrics.classification import class_separation, error_consistency
from repalign.metrics.dimensionality import intrinsic_dimensionality
from repalign.metrics.odd_one_out import (
    SIMILARITIES,
    choice_probabilities,
    fit_temperature,
    log_likelihood,
    noise_ceiling,
    noise_ceiling_per_triplet,
    odd_one_out_accuracy,
    odd_one_out_choices,
    odd_one_out_correct,
    pair_similarities,
    similarity_matrix,
)
from repalign.metrics.probing import ProbeCVResult, TripletProbe, object_folds, probe_cv
from repalign.metrics.rsa import RSAResult, check_rdm, compare_rdms, rdm, rsa, rsa_noise_ceiling, rsa_scores
from repalign.metrics.table import metrics_table

# The modules that register this stage's result families (repalign.families), imported in
# this order because the registration order is the report's: findings, sections, figure groups.
FAMILY_MODULES = (
    "odd_one_out_family",
    "rsa_family",
    "cka_family",
    "dimensionality_family",
    "behaviour_family",
    "shape_bias_report",
)
for _module in FAMILY_MODULES:
    import_module(f"repalign.metrics.{_module}")

__all__ = [
    "consistency_rows",
    "decision_matrix",
    "imagenet16_decisions",
    "class_separation",
    "error_consistency",
    "cka",
    "gram",
    "hsic",
    "intrinsic_dimensionality",
    "SIMILARITIES",
    "choice_probabilities",
    "fit_temperature",
    "log_likelihood",
    "noise_ceiling",
    "noise_ceiling_per_triplet",
    "odd_one_out_accuracy",
    "odd_one_out_choices",
    "odd_one_out_correct",
    "pair_similarities",
    "similarity_matrix",
    "ProbeCVResult",
    "TripletProbe",
    "object_folds",
    "probe_cv",
    "RSAResult",
    "check_rdm",
    "compare_rdms",
    "rdm",
    "rsa",
    "rsa_noise_ceiling",
    "rsa_scores",
    "metrics_table",
]
