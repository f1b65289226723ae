from __future__ import annotations

import pytest
from typer.testing import CliRunner

from repalign.cli import app

runner = CliRunner()


@pytest.mark.data
def test_data_verify_reports_all_ok(real_data):
    # every file of the mirror's own manifest (an independent list) is registered and checks out
    n_manifest = len((real_data / "MANIFEST.tsv").read_text().strip().splitlines()) - 1
    res = runner.invoke(app, ["data", "verify"])
    assert res.exit_code == 0, res.output
    assert f"all {n_manifest} registered files OK" in res.output


def test_data_verify_missing_exits_1(tmp_path, monkeypatch):
    monkeypatch.setenv("REPALIGN_DATA_DIR", str(tmp_path))
    res = runner.invoke(app, ["data", "verify", "mur92"])
    assert res.exit_code == 1
    assert "missing" in res.output


def test_data_list_names_datasets():
    res = runner.invoke(app, ["data", "list"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "things-spose" in res.output and "learning-dynamics" in res.output
