"""Validation of sales files: every problem found, located by file, sheet, row, column and value."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from shelfcast.catalog.isbn import isbn13_check_digit
from shelfcast.catalog.reader import read_sales, validate_sales
from shelfcast.catalog.validation import DATE_FORMS, MAX_LISTED, FileSummary
from shelfcast.errors import DataValidationError, Problem

ALCHEMIST = "9780722532935"
JANE_EYRE = "9780141439518"
GRUFFALO = "9781841953274"
HEADER = "ISBN,End Date,Volume"


def error(message, file, sheet=None, row=None, column=None, value=None) -> Problem:
    return Problem(message, file, sheet, row, column, value, "error")


def warning(message, file, sheet=None, row=None, column=None, value=None) -> Problem:
    return Problem(message, file, sheet, row, column, value, "warning")


def test_missing_required_columns_are_reported_per_column_and_sheet(write_xlsx):
    path = write_xlsx(
        "missing.xlsx",
        {
            "F Adult Fiction": [["ISBN", "Title", "Volume"], [ALCHEMIST, "The Alchemist", 3]],
            "S Adult Non-Fiction Specialist": [["ISBN", "Title"], [JANE_EYRE, "Jane Eyre"]],
        },
    )

    report = validate_sales([path])

    assert report.problems == [
        error("missing required column", path, "F Adult Fiction", column="End Date"),
        error("missing required column", path, "S Adult Non-Fiction Specialist", column="End Date"),
        error("missing required column", path, "S Adult Non-Fiction Specialist", column="Volume"),
    ]
    assert not report.ok


def test_isbn_problems(write_xlsx):
    path = write_xlsx(
        "isbns.xlsx",
        {
            "F Adult Fiction": [
                ["ISBN", "End Date", "Volume"],
                [978072253293, dt.date(2024, 7, 20), 1],
                ["978-0-7225-3293-4", dt.date(2024, 7, 20), 1],
                ["97807225329X5", dt.date(2024, 7, 20), 1],
                [None, dt.date(2024, 7, 20), 1],
                [ALCHEMIST, dt.date(2024, 7, 20), 1],
            ]
        },
    )

    assert validate_sales([path]).problems == [
        error("blank ISBN", path, "F Adult Fiction", 5, "ISBN"),
        error("ISBN is not 13 digits", path, "F Adult Fiction", 2, "ISBN", "978072253293"),
        error("ISBN is not 13 digits", path, "F Adult Fiction", 4, "ISBN", "97807225329X5"),
        error(
            "wrong ISBN check digit (expected 5)",
            path,
            "F Adult Fiction",
            3,
            "ISBN",
            "978-0-7225-3293-4",
        ),
    ]


def test_date_problems(write_text):
    path = write_text(
        "dates.csv",
        f"{HEADER}\n{ALCHEMIST},31/02/2024,1\n{ALCHEMIST},,1\n{ALCHEMIST},07/20/2024,1\n"
        f"{JANE_EYRE},23/07/2024,1\n{JANE_EYRE},45494,1\n{JANE_EYRE},soon,1\n",
    )

    assert validate_sales([path]).problems == [
        error("blank date", path, None, 3, "End Date"),
        error(f"not a date ({DATE_FORMS})", path, None, 2, "End Date", "31/02/2024"),
        error(f"not a date ({DATE_FORMS})", path, None, 4, "End Date", "07/20/2024"),
        error(f"not a date ({DATE_FORMS})", path, None, 7, "End Date", "soon"),
        error("week ending is a Tuesday, not a Saturday", path, None, 5, "End Date", "23/07/2024"),
        error("week ending is a Sunday, not a Saturday", path, None, 6, "End Date", "45494"),
    ]


def test_volume_problems(write_xlsx):
    path = write_xlsx(
        "volumes.xlsx",
        {
            "T Adult Non-Fiction Trade": [
                ["ISBN", "End Date", "Volume"],
                [ALCHEMIST, 45493, -3],
                [ALCHEMIST, 45500, "12 copies"],
                [ALCHEMIST, 45507, None],
                [ALCHEMIST, 45514, "-1,000"],
                [ALCHEMIST, 45521, "1,000"],
            ]
        },
    )
    sheet = "T Adult Non-Fiction Trade"

    assert validate_sales([path]).problems == [
        error("blank cell; a number is required", path, sheet, 4, "Volume"),
        error("not a number", path, sheet, 3, "Volume", "12 copies"),
        error("negative number", path, sheet, 2, "Volume", "-3"),
        error("negative number", path, sheet, 5, "Volume", "-1,000"),
    ]


def test_non_numeric_prices_are_warnings_unless_strict(write_text):
    path = write_text("prices.csv", f"{HEADER},RRP\n{ALCHEMIST},20/07/2024,1,tbc\n")
    expected = Problem("not a number; left blank", path, None, 2, "RRP", "tbc", "warning")

    data = read_sales([path])
    assert data.warnings == [expected]
    assert pd.isna(data.frame["rrp"].iloc[0])
    assert validate_sales([path], strict=True).problems == [
        error("not a number; left blank", path, None, 2, "RRP", "tbc")
    ]


def test_duplicate_isbn_weeks_within_a_file_are_summed_with_a_warning(write_text, write_xlsx):
    text = write_text(
        "week30.csv",
        f"{HEADER},Value,ASP,Title\n{ALCHEMIST},20/07/2024,2,20,10,\n{JANE_EYRE},20/07/2024,1,9,9,\n"
        f"{ALCHEMIST}.0,2024-07-20,3,45,15,The Alchemist\n",
    )
    columns = ["ISBN", "End Date", "Volume"]
    workbook = write_xlsx(
        "week31.xlsx",
        {
            "F Adult Fiction": [columns, [GRUFFALO, 45500, 4]],
            "Y Children's, YA & Educational": [columns, [GRUFFALO, 45500, 6]],
        },
    )

    data = read_sales([text, workbook])

    summed = "duplicate ISBN and week ending; volumes summed"
    assert data.warnings == [
        warning(
            f"{summed} (same as row 2, week 2024-07-20)", text, None, 4, "ISBN", f"{ALCHEMIST}.0"
        ),
        warning(
            f"{summed} (same as sheet 'F Adult Fiction', row 2, week 2024-07-27)",
            workbook,
            "Y Children's, YA & Educational",
            2,
            "ISBN",
            GRUFFALO,
        ),
    ]
    frame = data.frame.set_index("isbn")
    assert frame.loc[ALCHEMIST, ["volume", "value", "asp", "title"]].tolist() == [
        5.0,
        65.0,
        13.0,
        "The Alchemist",
    ]
    assert frame.loc[JANE_EYRE, ["volume", "value", "asp", "source"]].tolist() == [
        1.0,
        9.0,
        9.0,
        "week30",
    ]
    assert frame.loc[GRUFFALO, ["volume", "source"]].tolist() == [10.0, "F Adult Fiction"]
    assert len(data.frame) == 3


def test_duplicate_isbn_weeks_are_errors_when_strict(write_text):
    path = write_text("dups.csv", f"{HEADER}\n{ALCHEMIST},20/07/2024,2\n{ALCHEMIST},20/07/2024,3\n")

    with pytest.raises(DataValidationError) as raised:
        read_sales([path], strict=True)

    assert raised.value.problems == [
        error(
            "duplicate ISBN and week ending (same as row 2, week 2024-07-20)",
            path,
            None,
            3,
            "ISBN",
            ALCHEMIST,
        ),
    ]


def test_duplicate_long_format_weeks_are_summed(write_text):
    path = write_text("series.csv", "unique_id,ds,y\na,2024-07-21,1\na,2024-07-21,2.5\n")

    data = read_sales([path])

    assert data.frame.values.tolist() == [["a", pd.Timestamp("2024-07-21"), 3.5]]
    assert data.warnings == [
        warning(
            "duplicate unique_id and ds; values summed (same as row 2, week 2024-07-21)",
            path,
            None,
            3,
            "unique_id",
            "a",
        ),
    ]


def test_long_format_dates_on_another_weekday_are_errors(write_text):
    path = write_text(
        "series.csv",
        "unique_id,ds,y\na,2024-07-21,1\na,2024-07-28,1\nb,2024-07-23,1\nb,2024-07-21,-1\nb,x,z\n",
    )

    assert validate_sales([path]).problems == [
        error(f"not a date ({DATE_FORMS})", path, None, 6, "ds", "x"),
        error("not a number", path, None, 6, "y", "z"),
        error("negative number", path, None, 5, "y", "-1"),
        error(
            "ds is a Tuesday; most rows are on a Sunday (W-SUN)", path, None, 4, "ds", "2024-07-23"
        ),
    ]


def test_blank_long_format_ids(write_text):
    path = write_text("series.csv", "unique_id,ds,y\n ,2024-07-21,1\n")

    assert validate_sales([path]).problems == [
        error("blank unique_id", path, None, 2, "unique_id", " ")
    ]


def test_file_problems_are_reported_not_raised(tmp_path, write_text):
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"not a workbook")
    missing = str(tmp_path / "missing.csv")
    unknown = write_text("notes.txt", "hello")
    empty = write_text("empty.csv", "")

    problems = validate_sales([str(corrupt), missing, unknown, empty]).problems

    assert [(p.file, p.message.split(":")[0]) for p in problems] == [
        (str(corrupt), "cannot read as excel"),
        (missing, "file not found"),
        (
            unknown,
            "unknown file format; expected one of .xlsx, .xlsm, .xls, .xlsb, .ods, .csv, "
            ".parquet, .pq",
        ),
        (empty, "cannot read as csv"),
    ]
    assert all(p.severity == "error" and p.row is None for p in problems)


def test_problems_of_a_kind_are_capped_per_column(write_text):
    stems = [f"978072253{i:03d}" for i in range(120)]
    wrong = [f"{stem}{(int(isbn13_check_digit(stem)) + 1) % 10}" for stem in stems]
    path = write_text("bad.csv", HEADER + "\n" + "".join(f"{i},20/07/2024,-1\n" for i in wrong))

    report = validate_sales([path])

    isbn_problems = [p for p in report.problems if p.column == "ISBN"]
    assert len(isbn_problems) == MAX_LISTED + 1
    expected = isbn13_check_digit(stems[0])
    assert isbn_problems[0] == error(
        f"wrong ISBN check digit (expected {expected})", path, None, 2, "ISBN", wrong[0]
    )
    assert isbn_problems[-1] == error(
        f"wrong ISBN check digit: {120 - MAX_LISTED} more rows not listed", path, column="ISBN"
    )
    assert len([p for p in report.problems if p.column == "Volume"]) == MAX_LISTED + 1
    assert report.files[0].errors == 2 * 120


def test_read_sales_raises_with_every_error_of_every_file(write_text, tmp_path):
    good = write_text("good.csv", f"{HEADER}\n{ALCHEMIST},20/07/2024,1\n")
    bad = write_text("bad.csv", f"{HEADER}\n{JANE_EYRE},21/07/2024,1\n{GRUFFALO},20/07/2024,x\n")
    missing = str(tmp_path / "missing.csv")

    with pytest.raises(DataValidationError) as raised:
        read_sales([good, bad, missing])

    assert raised.value.problems == [
        error("week ending is a Sunday, not a Saturday", bad, None, 2, "End Date", "21/07/2024"),
        error("not a number", bad, None, 3, "Volume", "x"),
        error("file not found", missing),
    ]
    assert str(raised.value).startswith("3 data error(s): ")


def test_validation_report_summarises_each_file(write_xlsx, write_text):
    workbook = write_xlsx(
        "bookscan.xlsx",
        {
            "F Adult Fiction": [
                ["ISBN", "End Date", "Volume"],
                [ALCHEMIST, 45493, 1],
                [ALCHEMIST, 45507, 1],
                [JANE_EYRE, 45500, "x"],
            ],
            "Cover": [["Report", "BookScan weekly"]],
            "Y Children's, YA & Educational": [
                ["ISBN", "End Date", "Volume"],
                [GRUFFALO, 45493, 1],
            ],
        },
    )
    text = write_text("extra.csv", f"{HEADER}\n{GRUFFALO},20/07/2024,1\n")
    undated = write_text("undated.csv", f"{HEADER}\n{GRUFFALO},next week,1\n")

    report = validate_sales([workbook, text, undated])

    jul20 = pd.Timestamp("2024-07-20")
    assert report.files == [
        FileSummary(
            path=workbook,
            sheets=["F Adult Fiction", "Y Children's, YA & Educational"],
            rows=4,
            titles=3,
            weeks=3,
            first_week=pd.Timestamp("2024-07-20"),
            last_week=pd.Timestamp("2024-08-03"),
            superseded=0,
            conflicting=0,
            errors=1,
            warnings=1,
        ),
        # the Gruffalo's week is also in the workbook, whose data is later: kept from there
        FileSummary(
            text, [], 1, 1, 1, jul20, jul20, superseded=1, conflicting=0, errors=0, warnings=0
        ),
        FileSummary(undated, [], 1, 1, 0, None, None, 0, 0, errors=1, warnings=0),
    ]
    assert report.problems[0] == warning(
        "no sales columns (ISBN, End Date, Volume); sheet skipped", workbook, "Cover"
    )
    assert [p.severity for p in report.problems] == ["warning", "error", "error"]
    assert not report.ok


def test_long_format_and_bookscan_files_cannot_be_mixed(write_text):
    bookscan = write_text("bookscan.csv", f"{HEADER}\n{ALCHEMIST},20/07/2024,1\n")
    series = write_text("series.csv", "unique_id,ds,y\na,2024-07-21,1\n")

    assert validate_sales([bookscan, series]).problems == [
        error("long-format (unique_id, ds, y) data cannot be read with BookScan data", series)
    ]


def test_files_without_sales_rows(write_text):
    path = write_text("header-only.csv", f"{HEADER}\n,,\n")

    assert validate_sales([path]).problems == [error(f"no sales rows found in {path}", None)]
    assert validate_sales([]).problems == [error("no sales files given", None)]


def test_isbn_list_problems(write_text):
    sales = write_text("sales.csv", f"ISBN,Author,End Date,Volume\n{ALCHEMIST},,20/07/2024,1\n")
    no_author = write_text("titles.csv", f"ISBN,Title\n{ALCHEMIST},The Alchemist\n")
    bad_isbn = write_text("authors.csv", f"ISBN,Author\n978072253293,Someone\n{ALCHEMIST},Paulo\n")

    assert validate_sales([sales], isbn_list=no_author).problems == [
        error("missing required column", no_author, column="Author")
    ]
    data = read_sales([sales], isbn_list=bad_isbn)
    assert data.warnings == [
        warning("ISBN is not 13 digits", bad_isbn, None, 2, "ISBN", "978072253293")
    ]
    assert data.frame["author"].tolist() == ["Paulo"]
