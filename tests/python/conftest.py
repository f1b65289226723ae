"""Shared fixtures. Real-data tests use the ``real_data`` fixture (or the ``data``
marker): they skip when REPALIGN_DATA_DIR is unset, and fail instead when
REPALIGN_REQUIRE_DATA=1 (as in CI), so real-data tests can never be skipped silently."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _data_dir() -> Path | None:
    value = os.environ.get("REPALIGN_DATA_DIR")
    return Path(value) if value and Path(value).is_dir() else None


def _missing_data(reason: str) -> None:
    if os.environ.get("REPALIGN_REQUIRE_DATA") == "1":
        pytest.fail(f"real data required (REPALIGN_REQUIRE_DATA=1) but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The real-data mirror (``REPALIGN_DATA_DIR``)."""
    root = _data_dir()
    if root is None:
        _missing_data("REPALIGN_DATA_DIR is not set to an existing directory")
    return root  # type: ignore[return-value]


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("data") and "real_data" not in getattr(item, "fixturenames", ()):
            # first: the data check must run before any other fixture (e.g. a module-scoped
            # run that would otherwise try to download the data)
            # (a new list: parametrised items of one function share theirs)
            item.fixturenames = ["real_data", *item.fixturenames]


@pytest.fixture(scope="module")
def one_thread():
    """torch and BLAS on one thread for a module (small linear algebra on 2 shared
    cores: extra threads only contend)."""
    import torch
    from threadpoolctl import threadpool_limits

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The offline demo study (analysis/configs/demo.toml), run once per session into a
    temporary directory (test_demo.py and the browser test share it): (output, status)."""
    from repalign.config import load_config
    from repalign.pipeline import run

    demo = Path(__file__).resolve().parents[2] / "analysis" / "configs" / "demo.toml"
    out = tmp_path_factory.mktemp("demo")
    status = run(load_config(demo, output=out), progress=False)
    return out, status


@pytest.fixture(scope="session")
def spose(real_data):
    """SPoSE-49 embedding of the THINGS concepts (real data)."""
    from repalign.datasets import load_spose

    return load_spose(49)
