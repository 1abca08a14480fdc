"""`shelfcast data sample --titles N`: a catalogue of N titles, or a clear error."""

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfcast.catalog.sample import sample_catalogue
from shelfcast.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def project_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))


def test_sample_of_20_titles(tmp_path: Path) -> None:
    out = tmp_path / "small"
    args = ["data", "sample", "--out", str(out), "--format", "parquet", "--titles", "20"]
    result = runner.invoke(app, [*args, "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "20 titles" in result.output
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "bookscan_weekly.parquet"), sample_catalogue(7, titles=20)
    )
    assert len(pd.read_csv(out / "isbn_list.csv")) == 20


def test_sample_refuses_a_size_out_of_range(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "sample", "--out", str(tmp_path), "--titles", "1"])
    assert result.exit_code == 1
    assert "2 to 200,000 titles, not 1" in result.output
    assert "Traceback" not in result.output
    assert not list(tmp_path.iterdir())
