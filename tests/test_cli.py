"""The `shelfcast` command, in process (typer's runner) and once as the installed program."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfcast.cli import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def project_home(tmp_path, monkeypatch):
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sample")
    result = runner.invoke(app, ["data", "sample", "--out", str(out), "--format", "parquet"])
    assert result.exit_code == 0, result.output
    return out


def long_format_file(path: Path) -> Path:
    """Two weekly series ending on Sundays, in long format."""
    weeks = pd.date_range("2019-01-06", periods=260, freq="W-SUN")
    t = np.arange(len(weeks))
    rows = []
    for uid, base in (("store-a", 120.0), ("store-b", 40.0)):
        y = base * (1 + 0.5 * np.sin(2 * np.pi * t / 52.18)) + (t % 7)
        rows.append(pd.DataFrame({"unique_id": uid, "ds": weeks, "y": np.round(y)}))
    pd.concat(rows).to_csv(path, index=False)
    return path


def test_sample_writes_a_bookscan_catalogue(sample_dir):
    frame = pd.read_parquet(sample_dir / "bookscan_weekly.parquet")
    assert frame["ISBN"].nunique() == 572  # and 25 titles not yet published, without sales
    assert (sample_dir / "isbn_list.csv").exists()


def test_validate_passes_good_files_and_names_bad_cells(sample_dir, tmp_path):
    ok = runner.invoke(app, ["data", "validate", str(sample_dir / "bookscan_weekly.parquet")])
    assert ok.exit_code == 0, ok.output
    assert "394,141" in ok.output

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "ISBN,Title,End Date,Volume\n"
        "9780722532935,The Alchemist,20/07/2024,12\n"
        "9780722532936,Bad check digit,20/07/2024,3\n"
        "9780241003008,Caterpillar,19/07/2024,-4\n"
    )
    result = runner.invoke(app, ["data", "validate", str(bad)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "bad.csv" in result.output
    assert "9780722532936" in result.output  # the bad ISBN, row 3
    assert "-4" in result.output  # the negative volume
    assert "Saturday" in result.output  # 19/07/2024 is a Friday


def test_validate_missing_file_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["data", "validate", str(tmp_path / "nope.xlsx")])
    assert result.exit_code == 1
    assert "nope.xlsx" in result.output
    assert "Traceback" not in result.output


def test_titles_lists_the_selection_with_its_statistics(sample_dir):
    path = str(sample_dir / "bookscan_weekly.parquet")
    result = runner.invoke(app, ["data", "titles", "--data", path, "--max-titles", "5"])
    assert result.exit_code == 0, result.output
    assert "9780722532935" in result.output and "9780241003008" in result.output
    assert "seasonal strength" in result.output


def test_forecast_long_format_writes_every_series_plots_and_bundles(tmp_path):
    data = long_format_file(tmp_path / "series.csv")
    out = tmp_path / "out" / "forecasts.csv"
    args = ["forecast", "--data", str(data), "--out", str(out), "--horizon", "10"]
    args += ["--level", "90", "--quantiles", "0.75", "--quantiles", "0.25,0.5"]
    result = runner.invoke(app, [*args, "--bundles", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out, parse_dates=["week_ending"])
    assert list(frame.columns) == [
        "unique_id",
        "week_ending",
        "mean",
        "lo_90",
        "hi_90",
        "p25",
        "p50",
        "p75",
        "model",
    ]
    assert sorted(frame["unique_id"].unique()) == ["store-a", "store-b"]
    assert (frame["week_ending"].dt.dayofweek == 6).all()  # keeps the Sunday anchor
    assert frame.groupby("unique_id").size().tolist() == [10, 10]
    assert (frame["lo_90"] <= frame["mean"]).all() and (frame["mean"] <= frame["hi_90"]).all()
    assert ((frame["p25"] <= frame["p50"]) & (frame["p50"] <= frame["p75"])).all()
    assert (frame["p25"] >= 0).all() and (frame["p25"] < frame["p75"]).any()
    plot = (out.parent / "forecasts_plots" / "store-a.html").read_text()
    assert '"name":"p25-p75"' in plot and '"name":"90% interval"' in plot
    info = json.loads((tmp_path / "b" / "store-b" / "bundle.json").read_text())
    assert info["training_window"]["freq"] == "W-SUN"


def test_forecast_defaults_to_the_sample_catalogue(tmp_path, project_home):
    out = tmp_path / "f.parquet"
    args = ["forecast", "--isbn", "9780241003008", "--out", str(out), "--workers", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (project_home / "sample").exists()
    frame = pd.read_parquet(out)
    assert {"lo_80", "hi_95", "p10", "p50", "p90"} <= set(frame.columns)  # the settings'
    assert frame["isbn"].unique().tolist() == ["9780241003008"]
    assert len(frame) == 32
    assert "Very Hungry Caterpillar" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--isbn", "9780000000002"], "no sales for 1 key(s): ['9780000000002']"),
        (["--level", "120"], "--level must be between 1 and 99"),
        (["--level", "high"], "--level takes whole percentages"),
        (["--quantiles", "0.1,1.5"], "--quantiles must be between 0.005 and 0.995"),
        (["--quantiles", "median"], "--quantiles takes numbers such as 0.1,0.5,0.9"),
    ],
)
def test_forecast_bad_options_exit_1_with_a_message(sample_dir, tmp_path, args, message):
    data = str(sample_dir / "bookscan_weekly.parquet")
    result = runner.invoke(
        app, ["forecast", "--data", data, "--out", str(tmp_path / "f.csv"), *args]
    )
    assert result.exit_code == 1
    assert message in result.output
    assert not (tmp_path / "f.csv").exists()


def test_forecast_refuses_an_unknown_output_format(tmp_path):
    result = runner.invoke(app, ["forecast", "--out", str(tmp_path / "f.xlsx")])
    assert result.exit_code == 1
    assert ".csv or .parquet" in result.output


def test_installed_command_reports_errors_without_a_traceback(tmp_path):
    program = shutil.which("shelfcast", path=str(Path(sys.executable).parent))
    if program is None:
        pytest.skip("the shelfcast command is not installed beside this Python")
    bad = tmp_path / "bad.csv"
    bad.write_text("Title,Volume\nx,1\n")
    done = subprocess.run([program, "data", "validate", str(bad)], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    assert "ISBN" in done.stdout + done.stderr
    help_text = subprocess.run([program, "forecast", "--help"], capture_output=True, text=True)
    assert help_text.returncode == 0 and "Example" in help_text.stdout


def command_paths(command=None, prefix=()) -> list[tuple[str, ...]]:
    """Every command and group of the app, as the words that name it."""
    from typer.main import get_command

    command = command or get_command(app)
    paths = [prefix]
    for name, sub in getattr(command, "commands", {}).items():
        paths += command_paths(sub, (*prefix, name))
    return paths


def test_help_uses_metavars_and_no_type_tags():
    """Options show `ISBN`, `PATH`, `N`; flags nothing; never `<bool>`, `<list[str]>` or a
    `{paths}...` usage."""
    paths = command_paths()
    assert ("data", "validate") in paths and ("endpoints", "describe") in paths
    for path in paths:
        result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
        assert result.exit_code == 0, (path, result.output)
        text = result.output
        for tag in ("<bool>", "<list", "<str>", "<int", "{"):
            assert tag not in text, (path, tag, text)
    validate = runner.invoke(app, ["data", "validate", "--help"], env={"COLUMNS": "100"}).output
    assert "[OPTIONS] PATH..." in validate
    train = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "100"}).output
    assert "--isbn" in train and "ISBN" in train and "--data" in train and "PATH" in train
