"""Executor settings and the SLURM job script generated from a config."""

from __future__ import annotations

import pytest

from repalign.config import load_config
from repalign.errors import ValidationError
from repalign.pipeline.executors import ExecutorSettings, slurm_cluster

SLURM_CONFIG = """
[run]
output = "out"

[executor]
kind = "slurm"
queue = "gpu"
account = "vision-lab"
cores = 8
memory = "32GB"
walltime = "04:00:00"
gpus_per_worker = 1
max_jobs = 10
scheduler_host = "127.0.0.1"
retries = 2
"""


def test_slurm_job_script_follows_config(tmp_path):
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text(SLURM_CONFIG)
    settings = ExecutorSettings.from_config(load_config(cfg_path))
    assert settings.kind == "slurm" and settings.retries == 2 and settings.gpus_per_worker == 1
    cluster = slurm_cluster(settings)
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#SBATCH -p gpu" in script
    assert "#SBATCH -A vision-lab" in script
    assert "#SBATCH --cpus-per-task=8" in script
    assert "#SBATCH -t 04:00:00" in script
    assert "#SBATCH --gres=gpu:1" in script
    assert "tcp://127.0.0.1:" in script  # workers connect to the configured scheduler host
    assert "--nthreads 8" in script


def test_unknown_executor_key_lists_valid_ones(tmp_path):
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text('[executor]\nkind = "dask"\nworkerz = 3\n')
    with pytest.raises(ValidationError, match=r"unknown key\(s\) \['workerz'\]; valid keys: kind, scheduler"):
        ExecutorSettings.from_config(load_config(cfg_path))


def test_unknown_executor_kind(tmp_path):
    cfg_path = tmp_path / "study.toml"
    cfg_path.write_text('[executor]\nkind = "kubernetes"\n')
    with pytest.raises(ValidationError, match="kind must be one of local, dask, slurm"):
        ExecutorSettings.from_config(load_config(cfg_path))
