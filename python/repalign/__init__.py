"""repalign: measure how well neural-network representations align with humans,
and explain why.

Stages, in data-flow order (``repalign.stages.STAGES``; each imports only earlier
ones): features → representations → metrics → learners → embed → dynamics → r.
They read the human data (``datasets``) and the models (``models``); tables between
stages are Parquet files described in ``repalign.store``.
"""

__version__ = "0.1.0"
