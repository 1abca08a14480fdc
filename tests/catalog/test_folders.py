"""Folders and globs of weekly exports read as one catalogue: overlapping files, corrections."""

from __future__ import annotations

import random
from pathlib import Path

import fsspec
import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfcast.catalog.reader import read_sales, validate_sales
from shelfcast.catalog.sample import ISBN_LIST_FILE, sample_catalogue
from shelfcast.cli import app
from shelfcast.errors import DataValidationError, Problem
from shelfcast.training.sources import DataSources, data_fingerprint

WEEKS = 30
TITLES = 20
WEEKLY = 20  # the first 20 weeks have a file each; months from week 12 on have one too
MONTHLY_FROM = 12


@pytest.fixture(scope="module")
def sales() -> pd.DataFrame:
    """The last 30 weeks of 20 titles of the sample catalogue, in BookScan layout."""
    raw = sample_catalogue(7)
    weeks = sorted(raw["End Date"].unique())[-WEEKS:]
    recent = raw[raw["End Date"].isin(weeks)]
    isbns = sorted(recent["ISBN"].unique())[:TITLES]
    return recent[recent["ISBN"].isin(isbns)].reset_index(drop=True)


def weekly_name(week: pd.Timestamp) -> str:
    return f"week-{week:%Y-%m-%d}.csv"


@pytest.fixture
def exports(tmp_path: Path, sales: pd.DataFrame) -> Path:
    """A folder of per-week csv files (weeks 1-20) and per-month files (weeks 13-30, every
    other month as parquet), so that weeks 13-20 are in two files; beside them the ISBN list,
    a note, an Office lock file and an `old/` folder that are not sales files."""
    folder = tmp_path / "exports"
    (folder / "old").mkdir(parents=True)
    weeks = sorted(sales["End Date"].unique())
    for week in weeks[:WEEKLY]:
        sales[sales["End Date"] == week].to_csv(folder / weekly_name(week), index=False)
    monthly = sales[sales["End Date"] >= weeks[MONTHLY_FROM]]
    for i, (month, part) in enumerate(monthly.groupby(monthly["End Date"].dt.strftime("%Y-%m"))):
        if i % 2:
            part.to_parquet(folder / f"month-{month}.parquet", index=False)
        else:
            part.to_csv(folder / f"month-{month}.csv", index=False)
    sales.iloc[:3].assign(Volume=999).to_csv(folder / "old" / "month-old.csv", index=False)
    sales[["ISBN", "Title", "Author"]].drop_duplicates().to_csv(
        folder / ISBN_LIST_FILE, index=False
    )
    (folder / "notes.txt").write_text("sent by the publisher\n")
    (folder / "~$month-open.csv").write_text("locked\n")
    return folder


@pytest.fixture
def whole(tmp_path: Path, sales: pd.DataFrame) -> str:
    """The same sales as one file."""
    path = tmp_path / "whole.csv"
    sales.to_csv(path, index=False)
    return str(path)


def sales_files(folder: Path) -> list[str]:
    return sorted(
        str(p) for p in folder.iterdir() if p.name.startswith(("week-", "month-")) and p.is_file()
    )


def test_a_folder_a_glob_and_its_files_read_as_the_single_file(exports, whole):
    expected = read_sales(whole).frame
    files = sales_files(exports)
    shuffled = random.Random(3).sample(files, len(files))

    by_folder = read_sales(str(exports))
    by_glob = read_sales([f"{exports}/week-*.csv", f"{exports}/month-*"])
    by_files = read_sales(shuffled)

    for data in (by_folder, by_glob, by_files):
        pd.testing.assert_frame_equal(data.frame, expected)
        assert data.frame.attrs["freq"] == "W-SAT"
        assert data.warnings == []  # overlapping weeks with the same volumes: silently once
    assert by_folder.files == files  # no ISBN list, note, lock file or subfolder
    assert sorted(by_glob.files) == files
    assert len(files) == WEEKLY + 5  # 20 weekly files and 5 monthly ones


def test_the_summary_counts_each_files_weeks_and_the_rows_dropped(exports, sales):
    report = validate_sales(str(exports))

    overlap = sales["End Date"].isin(sorted(sales["End Date"].unique())[MONTHLY_FROM:WEEKLY])
    summaries = {Path(f.path).name: f for f in report.files}
    last_weekly = sorted(sales["End Date"].unique())[WEEKLY - 1]
    sold = int((sales["End Date"] == last_weekly).sum())  # titles with sales that week
    week = summaries[weekly_name(last_weekly)]
    assert (week.rows, week.titles, week.weeks, week.superseded, week.conflicting) == (
        sold,
        sold,
        1,
        sold,
        0,
    )
    assert sum(f.rows for f in report.files) == len(sales) + overlap.sum()
    assert sum(f.weeks for f in report.files) == WEEKS + WEEKLY - MONTHLY_FROM
    assert (report.superseded, report.conflicting) == (overlap.sum(), 0)
    assert report.ok and report.problems == []


def test_a_corrected_file_wins_and_each_conflict_names_every_file_and_row(exports, sales):
    weeks = sorted(sales["End Date"].unique())
    isbn = sales["ISBN"].iloc[0]
    # a re-sent week 3 whose first title's volume is corrected
    original = exports / weekly_name(weeks[2])
    week3 = pd.read_csv(original, dtype=str)
    row = int((week3["ISBN"] == isbn).to_numpy().argmax())
    old = int(week3.loc[row, "Volume"])
    week3.loc[row, "Volume"] = str(old + 7)
    corrected = exports / f"{original.stem}-corrected.csv"
    week3.to_csv(corrected, index=False)
    # and week 15, in a weekly and a monthly file, disagreeing: the monthly file ends later
    weekly15 = exports / weekly_name(weeks[14])
    week15 = pd.read_csv(weekly15, dtype=str)
    week15.loc[0, "Volume"] = "1"
    week15.to_csv(weekly15, index=False)
    in_month = sales[sales["End Date"].dt.strftime("%Y-%m") == f"{weeks[14]:%Y-%m}"]
    month = exports / f"month-{weeks[14]:%Y-%m}.csv"
    if not month.exists():
        month = month.with_suffix(".parquet")
    month_row = in_month.reset_index(drop=True).index[
        (in_month["ISBN"] == week15.loc[0, "ISBN"]).to_numpy()
        & (in_month["End Date"] == weeks[14]).to_numpy()
    ][0]
    kept15 = int(in_month["Volume"].iloc[month_row])

    data = read_sales(str(exports))

    assert data.warnings == [
        Problem(
            f"ISBN {week15.loc[0, 'ISBN']}, week {weeks[14]:%Y-%m-%d}: volume differs across "
            f"files; the latest file's {kept15} is kept over {weekly15}, row 2: 1",
            str(month),
            None,
            month_row + 2,
            "Volume",
            str(kept15),
            "warning",
        ),
        Problem(
            f"ISBN {isbn}, week {weeks[2]:%Y-%m-%d}: volume differs across files; "
            f"the latest file's {old + 7} is kept over {original}, row {row + 2}: {old}",
            str(corrected),
            None,
            row + 2,
            "Volume",
            str(old + 7),
            "warning",
        ),
    ]
    frame = data.frame.set_index(["isbn", "week_ending"])
    assert frame.loc[(isbn, weeks[2]), "volume"] == old + 7
    assert frame.loc[(week15.loc[0, "ISBN"], weeks[14]), "volume"] == kept15
    report = validate_sales(str(exports))
    overlap = int(sales["End Date"].isin(weeks[MONTHLY_FROM:WEEKLY]).sum())
    assert (report.conflicting, report.superseded) == (2, overlap + len(week3))
    with pytest.raises(DataValidationError) as raised:
        read_sales(str(exports), strict=True)
    assert [p.row for p in raised.value.problems] == [month_row + 2, row + 2]


def test_repeats_within_a_file_are_summed_before_files_are_compared(tmp_path):
    isbn, header = "9780722532935", "ISBN,End Date,Volume\n"
    early = tmp_path / "a.csv"
    early.write_text(f"{header}{isbn},20/07/2024,2\n{isbn},20/07/2024,3\n")
    late = tmp_path / "b.csv"
    late.write_text(f"{header}{isbn},20/07/2024,5\n{isbn},27/07/2024,1\n")

    data = read_sales(str(tmp_path))

    assert data.frame["volume"].tolist() == [5.0, 1.0]  # 2 + 3 in a.csv, the same 5 in b.csv
    assert [(p.file, p.row, p.message) for p in data.warnings] == [
        (
            str(early),
            3,
            "duplicate ISBN and week ending; volumes summed (same as row 2, week 2024-07-20)",
        ),
    ]
    assert [f.superseded for f in validate_sales(str(tmp_path)).files] == [1, 0]


def test_a_conflict_names_every_superseded_file_and_row(tmp_path):
    isbn, header = "9780722532935", "ISBN,End Date,Volume\n"
    (tmp_path / "a.csv").write_text(f"{header}{isbn},20/07/2024,4\n")
    (tmp_path / "b.csv").write_text(f"{header}{isbn},20/07/2024,5\n")
    (tmp_path / "c.csv").write_text(f"{header}{isbn},27/07/2024,1\n{isbn},20/07/2024,5\n")

    data = read_sales(f"{tmp_path}/*.csv")

    assert data.frame["volume"].tolist() == [5.0, 1.0]
    assert [(p.file, p.row, p.value, p.message) for p in data.warnings] == [
        (
            f"{tmp_path}/c.csv",
            3,
            "5",
            f"ISBN {isbn}, week 2024-07-20: volume differs across files; the latest file's 5 "
            f"is kept over {tmp_path}/a.csv, row 2: 4; {tmp_path}/b.csv, row 2: 5",
        )
    ]
    report = validate_sales(f"{tmp_path}/*.csv")
    assert [(f.superseded, f.conflicting) for f in report.files] == [(1, 1), (1, 0), (0, 0)]


def test_long_format_series_overlap_the_same_way(tmp_path):
    (tmp_path / "a.csv").write_text("unique_id,ds,y\na,2024-07-21,1\na,2024-07-28,2\n")
    (tmp_path / "b.csv").write_text("unique_id,ds,y\na,2024-07-28,3\n")

    data = read_sales(str(tmp_path))

    assert data.frame["y"].tolist() == [1.0, 3.0]
    assert [(p.file, p.row, p.column, p.message) for p in data.warnings] == [
        (
            f"{tmp_path}/b.csv",
            2,
            "y",
            "unique_id a, week 2024-07-28: y differs across files; the latest file's 3 is kept "
            f"over {tmp_path}/a.csv, row 3: 2",
        )
    ]


def test_an_empty_folder_or_glob_is_an_error_naming_it(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / ISBN_LIST_FILE).write_text("ISBN,Author\n")
    glob = f"{tmp_path}/exports/2024-*.csv"

    with pytest.raises(DataValidationError) as raised:
        read_sales([str(empty), glob])

    suffixes = ".xlsx, .xlsm, .xls, .xlsb, .ods, .csv, .parquet, .pq"
    assert raised.value.problems == [
        Problem(f"no sales files ({suffixes}) in this folder", str(empty)),
        Problem(f"no sales files ({suffixes}) match this glob", glob),
    ]


def test_globs_on_fsspec_filesystems(memory_dir, sales, whole):
    for month, part in sales.groupby(sales["End Date"].dt.strftime("%Y-%m")):
        with fsspec.open(f"{memory_dir}/exports/{month}.csv", "w") as f:
            part.to_csv(f, index=False)

    data = read_sales(f"{memory_dir}/exports/*.csv")

    pd.testing.assert_frame_equal(data.frame, read_sales(whole).frame)
    months = sorted(sales["End Date"].dt.strftime("%Y-%m").unique())
    assert data.files == [f"{memory_dir}/exports/{month}.csv" for month in months]
    assert read_sales(f"{memory_dir}/exports").files == data.files


def test_files_are_named_as_their_folder_was(exports, monkeypatch):
    monkeypatch.chdir(exports.parent)

    files = read_sales("exports/").files

    assert files == [f"exports/{Path(p).name}" for p in sales_files(exports)]
    assert read_sales("exports/week-*.csv").files == files[-WEEKLY:]


def test_a_file_named_like_a_glob_is_read_as_a_file(tmp_path):
    path = tmp_path / "sales [final].csv"
    path.write_text("ISBN,End Date,Volume\n9780722532935,20/07/2024,2\n")

    assert read_sales(str(path)).files == [str(path)]


def test_the_training_fingerprint_hashes_the_files_a_folder_holds(exports, tmp_path):
    files = sales_files(exports)

    assert data_fingerprint(DataSources(sales=(str(exports),))) == data_fingerprint(
        DataSources(sales=tuple(files))
    )
    with pytest.raises(DataValidationError, match="match this glob"):
        data_fingerprint(DataSources(sales=(f"{exports}/*.xlsx",)))


runner = CliRunner()


def test_validate_a_folder_on_the_command_line(exports, sales):
    weeks = sorted(sales["End Date"].unique())
    overlap = int(sales["End Date"].isin(weeks[MONTHLY_FROM:WEEKLY]).sum())

    result = runner.invoke(app, ["data", "validate", str(exports)], env={"COLUMNS": "200"})

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "month-" in output and "week-" in output and ISBN_LIST_FILE not in output
    assert "warning" not in output
    assert (
        f"Across files: {overlap} rows dropped for the same week in a later file, "
        "0 of them with another volume" in output
    )


def test_validate_reports_conflicts_and_fails_on_them_when_strict(exports, sales):
    first = sorted(exports.glob("week-*.csv"))[0]
    resent = pd.read_csv(first, dtype=str).assign(Volume="0")
    resent.to_csv(first.with_name(f"{first.stem}-resent.csv"), index=False)

    result = runner.invoke(app, ["data", "validate", str(exports)], env={"COLUMNS": "200"})
    strict = runner.invoke(app, ["data", "validate", str(exports), "--strict"])
    empty = runner.invoke(app, ["data", "validate", f"{exports}/*.xlsx"])

    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert output.count("volume differs across files") == len(resent)
    assert f"{sales['ISBN'].iloc[0]}, week" in output and f"{first}, row 2" in output
    assert strict.exit_code == 1
    assert "error" in strict.output and "volume differs across files" in strict.output
    assert empty.exit_code == 1
    assert "match this glob" in empty.output and "Traceback" not in empty.output
