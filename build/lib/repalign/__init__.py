"""repalign: measure how well neural-network representations align with humans,
and explain why.

Stages (each imports only earlier ones): ``datasets`` → ``models``/``features`` →
``metrics`` → ``learners``/``dynamics``/``embeddings`` → R models (``repalign.r``).
Tables between stages are Parquet files described in ``repalign.store``.
"""

__version__ = "0.1.0"
