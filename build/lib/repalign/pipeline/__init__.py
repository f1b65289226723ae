"""Stage 5 — the end-to-end pipeline: ``repalign run CONFIG``.

Collects every stage's tasks from the config (features → metrics / learners /
embeddings / dynamics → R models → report), runs them with the configured
executor (local, Dask or SLURM; see ``executors``), skipping tasks whose outputs
are current, and writes an HTML report.
"""

from repalign.pipeline.executors import ExecutorSettings, execute, run_dask, slurm_cluster
from repalign.pipeline.plan import STAGES, plan_all
from repalign.pipeline.run import run

__all__ = ["ExecutorSettings", "execute", "run_dask", "slurm_cluster", "STAGES", "plan_all", "run"]
