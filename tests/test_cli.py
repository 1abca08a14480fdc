"""The `shelfcast` command, in process (typer's runner) and once as the installed program."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.catalogue import FADED, GONE, LUMPY, START, STEADY, small_catalogue
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


def test_titles_selected_lists_the_selection_with_its_statistics(sample_dir):
    path = str(sample_dir / "bookscan_weekly.parquet")
    args = ["data", "titles", "--data", path, "--selected", "--max-titles", "5"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "9780722532935" in result.output and "9780241003008" in result.output
    assert "seasonal strength" in result.output
    assert "5 of 572 titles listed; 5 in the seasonal selection" in result.output


def test_titles_and_forecasts_cover_titles_not_yet_published(sample_dir, tmp_path):
    """The title list announces 25 titles without sales: listed, and forecast from metadata."""
    data = ["--data", str(sample_dir / "bookscan_weekly.parquet")]
    listed = ["--isbn-list", str(sample_dir / "isbn_list.csv")]
    args = ["data", "titles", *data, *listed, "--segment", "pre-publication"]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "25 of 597 titles listed" in result.output and "not yet on sale" in result.output
    out = tmp_path / "f.csv"
    args = ["forecast", *data, *listed, "--segment", "pre-publication", "--horizon", "30"]
    result = runner.invoke(app, [*args, "--out", str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["isbn"].nunique() == 25 and set(frame["model"]) == {"prepublication"}
    assert (frame["mean"] >= 0).all() and (frame["hi_95"] >= frame["mean"]).all()
    first_sales = frame[frame["mean"] > 0].groupby("isbn")["week_ending"].min()
    assert len(first_sales) == 25  # each is published within the 30 weeks (1 to 26 ahead)
    assert "comparable titles" in result.output


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
        "segment",
    ]
    assert sorted(frame["unique_id"].unique()) == ["store-a", "store-b"]
    assert (frame["week_ending"].dt.dayofweek == 6).all()  # keeps the Sunday anchor
    assert frame.groupby("unique_id").size().tolist() == [10, 10]
    assert set(frame["segment"]) == {"established/smooth"}
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
        (["--isbn", "9780000000002"], "not in the sales data: 1 key(s): ['9780000000002']"),
        (["--segment", "young/bogus"], "unknown segment(s) ['young/bogus']"),
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


def forecast_args(tmp_path: Path, *more: str) -> list[str]:
    data = small_catalogue(tmp_path / "sales.csv")
    args = ["forecast", "--data", str(data), "--start", START, "--out", str(tmp_path / "f.csv")]
    return [*args, "--horizon", "4", "--workers", "1", *more]


def test_forecast_covers_every_title_and_lists_the_skipped_with_why(tmp_path):
    result = runner.invoke(app, forecast_args(tmp_path), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "f.csv", dtype={"isbn": str})
    segments = frame.groupby("isbn")["segment"].first().to_dict()
    assert segments == {STEADY: "established/smooth", LUMPY: "young/lumpy", FADED: "inactive"}
    assert frame["model"].notna().all() and frame.groupby("isbn").size().tolist() == [4, 4, 4]
    skipped = pd.read_csv(tmp_path / "f_skipped.csv", dtype={"isbn": str})
    assert skipped.to_dict("records") == [
        {
            "isbn": GONE,
            "title": "Title 040",
            "segment": "inactive",
            "reason": f"no sales on or after {START} (last sale 2021-06-26)",
        }
    ]
    out = result.output
    assert "1 title(s) not forecast" in out and f"no sales on or after {START}" in out
    assert "By segment" in out and "young/lumpy" in out
    assert "not forecast: " in out and "f_skipped.csv" in out


@pytest.mark.parametrize(
    ("segment", "forecast", "skipped"),
    [("inactive", {FADED}, {GONE}), ("young/lumpy", {LUMPY}, set()), ("lumpy", {LUMPY}, set())],
)
def test_forecast_segment_narrows_the_catalogue(tmp_path, segment, forecast, skipped):
    (tmp_path / "f_skipped.csv").write_text("isbn\nleft by an earlier run\n")
    result = runner.invoke(app, forecast_args(tmp_path, "--segment", segment))
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(tmp_path / "f.csv", dtype={"isbn": str})
    assert set(frame["isbn"]) == forecast
    listed = tmp_path / "f_skipped.csv"
    if skipped:
        assert set(pd.read_csv(listed, dtype={"isbn": str})["isbn"]) == skipped
    else:
        assert not listed.exists()  # an earlier run's list is not left to mislead
    if segment == "inactive":  # a zero forecast, and the output says why
        assert set(frame["model"]) == {"zero"} and (frame["mean"] == 0).all()
        assert "no sale in the last" in " ".join(result.output.split())


def test_forecast_fails_clearly_when_no_title_can_be_forecast(tmp_path):
    result = runner.invoke(app, forecast_args(tmp_path, "--isbn", GONE))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert f"no title could be forecast (1 skipped: {GONE}: no sales on or after" in result.output
    assert not (tmp_path / "f.csv").exists() and (tmp_path / "f_skipped.csv").exists()
    none = runner.invoke(app, forecast_args(tmp_path, "--segment", "new"))
    assert none.exit_code == 1 and "no title of segment new in the data (4 titles)" in none.output


def test_forecast_bad_segment_names_the_valid_ones(tmp_path):
    result = runner.invoke(app, forecast_args(tmp_path, "--segment", "young,slow"))
    assert result.exit_code == 1
    assert "unknown segment(s) ['slow']" in result.output
    assert "young, established, inactive" in result.output and "young/lumpy" in result.output


def test_titles_lists_every_title_with_its_segment_and_the_counts(tmp_path):
    data = str(small_catalogue(tmp_path / "sales.csv"))
    args = ["data", "titles", "--data", data, "--start", START]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    out = result.output
    for isbn in (STEADY, LUMPY, FADED, GONE):
        assert isbn in out
    assert "4 of 4 titles listed; 0 in the seasonal selection" in out
    assert "By segment: young/lumpy 1, established/smooth 1, inactive 2" in out
    assert "segment" in out and "ADI" in out and "selected" in out
    assert f"no sales on or after {START}" in out
    lumpy = runner.invoke(app, [*args, "--segment", "lumpy"])
    assert lumpy.exit_code == 0, lumpy.output
    assert LUMPY in lumpy.output and STEADY not in lumpy.output
    assert "1 of 4 titles listed" in lumpy.output
    top = runner.invoke(app, [*args, "--max-titles", "1", "--isbn", f"{LUMPY},{STEADY}"])
    assert STEADY in top.output and LUMPY not in top.output  # the best-selling of the two
    bad = runner.invoke(app, [*args, "--segment", "old"])
    assert bad.exit_code == 1 and "unknown segment(s) ['old']" in bad.output


def test_run_takes_all(monkeypatch):
    from shelfcast.errors import ShelfcastError

    seen = []

    def stop(settings, options, progress):
        seen.append(options)
        raise ShelfcastError("stopped before training")

    monkeypatch.setattr("shelfcast.lifecycle.run.run_lifecycle", stop)
    assert "--all" in runner.invoke(app, ["run", "--help"], env={"COLUMNS": "100"}).output
    result = runner.invoke(app, ["run", "--all"])
    assert result.exit_code == 1 and "stopped before training" in result.output
    assert seen[0].train.all_titles and seen[0].train.isbns == ()


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
