"""The end-to-end pipeline: ``repalign run CONFIG``.

Collects every stage's tasks from the config, in the order of
``repalign.stages.STAGES`` (``plan_all``), runs them with the configured executor
(local, Dask or SLURM; see ``executors``), skipping tasks whose outputs are
current, and writes an HTML report.
"""

from repalign.pipeline.executors import ExecutorSettings, execute, run_dask, slurm_cluster
from repalign.pipeline.plan import plan_all, registrations
from repalign.pipeline.run import run

__all__ = ["ExecutorSettings", "execute", "run_dask", "slurm_cluster", "plan_all", "registrations", "run"]
