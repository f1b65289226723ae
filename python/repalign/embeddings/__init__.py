"""Sparse interpretable embeddings learned from odd-one-out choices.

* ``tripletise``: simulate a representation's odd-one-out choices (``sample_triplets``,
  ``choose_odd_one_out``, ``tripletise``);
* ``SPoSE`` and ``VICE``: non-negative sparse embeddings trained on triplets (torch);
* ``match_dimensions`` / ``similarity_rsa``: compare two embeddings of the same objects;
* ``STAGE`` (in ``repalign.embeddings.plan``): the pipeline stage (``[[embed]]`` config section;
  ``repalign.pipeline.plan.plan_stage(config, "embed")`` plans it alone).
"""

from repalign.embeddings.matching import DimensionMatch, dimension_correlations, match_dimensions, similarity_rsa
from repalign.embeddings.plan import EmbedJob, embed_spec, run_embed
from repalign.embeddings.spose import SPoSE
from repalign.embeddings.tripletise import choose_odd_one_out, sample_triplets, tripletise
from repalign.embeddings.vice import VICE, reliable_counts

__all__ = [
    "SPoSE",
    "VICE",
    "reliable_counts",
    "sample_triplets",
    "choose_odd_one_out",
    "tripletise",
    "EmbedJob",
    "embed_spec",
    "run_embed",
    "DimensionMatch",
    "dimension_correlations",
    "match_dimensions",
    "similarity_rsa",
]
