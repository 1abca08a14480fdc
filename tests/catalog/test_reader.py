"""Reading sales files: formats, locations and the quirks of real exports."""

from __future__ import annotations

import datetime as dt
import gzip
from pathlib import Path

import fsspec
import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog import reader
from shelfcast.catalog.reader import infer_weekly_freq, read_sales
from shelfcast.catalog.validation import BOOKSCAN_COLUMNS
from shelfcast.errors import DataValidationError

ALCHEMIST = "9780722532935"
JANE_EYRE = "9780141439518"
GRUFFALO = "9781841953274"
JUL20, JUL27, AUG03 = pd.to_datetime(["2024-07-20", "2024-07-27", "2024-08-03"])
HEADER = ["ISBN", "Title", "Author", "End Date", "Volume"]


def test_workbook_sheets_become_the_source_column(write_xlsx):
    alchemist = [ALCHEMIST, "The Alchemist", "Paulo Coelho"]
    prices_and_publisher = [8.99, 9.99, "Paperback", "Thorsons", "HarperCollins"]
    gruffalo = [GRUFFALO, "The Gruffalo", "Julia Donaldson"]
    path = write_xlsx(
        "bookscan.xlsx",
        {
            "F Adult Fiction": [
                [*HEADER, "Value", "ASP", "RRP", "Binding", "Imprint", "Publisher Group"],
                [*alchemist, dt.date(2024, 7, 27), 120, 1078.8, *prices_and_publisher],
                [*alchemist, dt.date(2024, 7, 20), 100, 899.0, *prices_and_publisher],
            ],
            "Y Children's, YA & Educational": [
                [*HEADER, "Product Class", "Interval"],
                [*gruffalo, dt.date(2024, 7, 20), 300, "Y1.1", "Weekly"],
            ],
        },
    )

    data = read_sales([path])

    assert data.kind == "bookscan"
    assert data.files == [path]
    assert data.warnings == []
    frame = data.frame
    assert list(frame.columns) == BOOKSCAN_COLUMNS
    assert frame.attrs["freq"] == "W-SAT"
    assert frame["isbn"].tolist() == [ALCHEMIST, ALCHEMIST, GRUFFALO]  # sorted by ISBN, week
    assert frame["week_ending"].tolist() == [JUL20, JUL27, JUL20]
    assert frame["source"].tolist() == ["F Adult Fiction"] * 2 + ["Y Children's, YA & Educational"]
    assert frame["volume"].tolist() == [100.0, 120.0, 300.0]
    assert frame["value"].tolist()[:2] == [899.0, 1078.8] and np.isnan(frame["value"].iloc[2])
    assert frame["publisher_group"].tolist() == ["HarperCollins", "HarperCollins", None]
    assert frame["product_class"].tolist() == [None, None, "Y1.1"]
    assert frame["interval"].tolist() == [None, None, "Weekly"]
    assert frame["week_ending"].dtype == "datetime64[ns]"
    for column in ("volume", "value", "asp", "rrp"):
        assert frame[column].dtype == np.float64


def test_csv_source_is_the_file_stem_unless_a_source_column_says_otherwise(write_text):
    plain = write_text("week30.csv", f"ISBN,End Date,Volume\n{ALCHEMIST},20/07/2024,5\n")
    labelled = write_text(
        "labelled.csv",
        f"ISBN,End Date,Volume,Source\n{JANE_EYRE},20/07/2024,5,F Adult Fiction\n"
        f"{GRUFFALO},20/07/2024,7,\n",
    )

    frame = read_sales([plain, labelled]).frame

    assert dict(zip(frame["isbn"], frame["source"], strict=True)) == {
        ALCHEMIST: "week30",
        JANE_EYRE: "F Adult Fiction",
        GRUFFALO: "labelled",
    }


def test_parquet_with_typed_columns(write_frame):
    path = write_frame(
        "sales.parquet",
        pd.DataFrame(
            {
                "ISBN": [int(ALCHEMIST), int(JANE_EYRE)],
                "End Date": [JUL20, JUL27],
                "Volume": [5, 7],
                "Author": ["Paulo Coelho", None],
            }
        ),
    )

    frame = read_sales([path]).frame

    assert frame[["isbn", "week_ending", "volume", "author", "source"]].to_dict("records") == [
        {"isbn": JANE_EYRE, "week_ending": JUL27, "volume": 7.0, "author": None, "source": "sales"},
        {
            "isbn": ALCHEMIST,
            "week_ending": JUL20,
            "volume": 5.0,
            "author": "Paulo Coelho",
            "source": "sales",
        },
    ]


def test_fsspec_uri(memory_dir):
    uri = f"{memory_dir}/exports/week30.csv"
    with fsspec.open(uri, "wb") as f:
        f.write(f"ISBN,End Date,Volume\n{ALCHEMIST},2024-07-20,5\n".encode())

    data = read_sales([uri])

    assert data.files == [uri]
    assert data.frame[["isbn", "volume", "source"]].values.tolist() == [[ALCHEMIST, 5.0, "week30"]]


def test_numeric_isbns_with_trailing_zero(write_xlsx, write_text):
    workbook = write_xlsx(
        "numbers.xlsx",
        {"F Adult Fiction": [HEADER, [float(ALCHEMIST), "", "", JUL20, 5]]},
    )
    text = write_text(
        "numbers.csv",
        f"ISBN,End Date,Volume\n{JANE_EYRE}.0,20/07/2024,5\n{GRUFFALO},20/07/2024,5\n",
    )

    assert read_sales([workbook, text]).frame["isbn"].tolist() == [JANE_EYRE, ALCHEMIST, GRUFFALO]


def test_dates_as_excel_serials_uk_text_iso_text_and_real_dates(write_xlsx, write_text):
    workbook = write_xlsx(
        "dates.xlsx",
        {
            "S Adult Non-Fiction Specialist": [
                ["ISBN", "End Date", "Volume"],
                [ALCHEMIST, 45493, 1],
                [ALCHEMIST, "27/07/2024", 2],
                [ALCHEMIST, dt.datetime(2024, 8, 3), 3],
            ]
        },
    )
    text = write_text(
        "dates.csv",
        f"ISBN,End Date,Volume\n{JANE_EYRE},45493,1\n{JANE_EYRE},27/07/2024,2\n"
        f"{JANE_EYRE},2024-08-03,3\n{GRUFFALO},3/8/2024,4\n{GRUFFALO},2024-07-27 00:00:00,5\n",
    )

    frame = read_sales([workbook, text]).frame

    assert frame[["isbn", "week_ending", "volume"]].values.tolist() == [
        [JANE_EYRE, JUL20, 1.0],
        [JANE_EYRE, JUL27, 2.0],
        [JANE_EYRE, AUG03, 3.0],
        [ALCHEMIST, JUL20, 1.0],
        [ALCHEMIST, JUL27, 2.0],
        [ALCHEMIST, AUG03, 3.0],
        [GRUFFALO, JUL27, 5.0],
        [GRUFFALO, AUG03, 4.0],
    ]


def test_blank_rows_are_dropped_and_rows_keep_their_numbers(write_text, write_xlsx):
    text = write_text(
        "blanks.csv",
        f"ISBN,End Date,Volume\n{ALCHEMIST},20/07/2024,1\n\n , ,\n"
        f"{JANE_EYRE},20/07/2024,-2\n,,\n\n",
    )
    workbook = write_xlsx(
        "blanks.xlsx",
        {
            "F Adult Fiction": [
                HEADER,
                [GRUFFALO, "", "", JUL20, 3],
                [],
                [None, "x", "", JUL27, 4],
                ["", "", "", "", ""],
                [" ", None, None, None, ""],
            ]
        },
    )

    report = reader.validate_sales([text, workbook])

    assert [(p.file, p.row, p.column, p.message) for p in report.problems] == [
        (text, 5, "Volume", "negative number"),
        (workbook, 4, "ISBN", "blank ISBN"),
    ]
    assert [f.rows for f in report.files] == [2, 2]


def test_thousands_separators_and_currency_in_numbers(write_text):
    path = write_text(
        "money.csv",
        f'ISBN,End Date,Volume,Value,RRP\n{ALCHEMIST},20/07/2024,"1,234","£11,093.66",£8.99\n',
    )

    row = read_sales([path]).frame.iloc[0]

    assert (row["volume"], row["value"], row["rrp"]) == (1234.0, 11093.66, 8.99)


def test_headers_match_whatever_their_case_and_spacing(write_text):
    path = write_text(
        "headers.csv",
        f" isbn ,END  DATE,volume,publisher_group\n{ALCHEMIST},20/07/2024,3,Hachette\n",
    )

    row = read_sales([path]).frame.iloc[0]

    assert (row["isbn"], row["week_ending"], row["publisher_group"]) == (
        ALCHEMIST,
        JUL20,
        "Hachette",
    )


@pytest.mark.parametrize("list_format", ["csv", "xlsx"])
def test_isbn_list_fills_blank_authors_and_titles(write_text, write_xlsx, list_format):
    sales = write_text(
        "sales.csv",
        "ISBN,Title,Author,End Date,Volume\n"
        f"{ALCHEMIST},,,20/07/2024,1\n{JANE_EYRE},Jane Eyre (Penguin),,20/07/2024,2\n"
        f"{GRUFFALO},The Gruffalo,Julia Donaldson,20/07/2024,3\n",
    )
    rows = [
        ["ISBN", "Title", "Author"],
        [float(ALCHEMIST), "The Alchemist", "Paulo Coelho"],
        [JANE_EYRE, "Jane Eyre", "Charlotte Bronte"],
        [GRUFFALO, "Gruffalo", "J. Donaldson"],
    ]
    if list_format == "csv":
        isbn_list = write_text("isbns.csv", "\n".join(",".join(map(str, r)) for r in rows))
    else:
        isbn_list = write_xlsx("isbns.xlsx", {"ISBNs": rows})

    data = read_sales([sales], isbn_list=isbn_list)

    assert data.frame[["isbn", "title", "author"]].values.tolist() == [
        [JANE_EYRE, "Jane Eyre (Penguin)", "Charlotte Bronte"],
        [ALCHEMIST, "The Alchemist", "Paulo Coelho"],
        [GRUFFALO, "The Gruffalo", "Julia Donaldson"],
    ]
    assert data.warnings == []


def test_long_format_keeps_its_own_weekly_anchor_day(write_text):
    path = write_text(
        "series.csv",
        "unique_id,ds,y\nstore-7,2024-07-28,4\nstore-7,2024-07-21,3\n42,04/08/2024,1.5\n",
    )

    data = read_sales([path])

    assert data.kind == "long"
    assert data.frame.attrs["freq"] == "W-SUN"
    assert list(data.frame.columns) == ["unique_id", "ds", "y"]
    assert data.frame.values.tolist() == [
        ["42", pd.Timestamp("2024-08-04"), 1.5],
        ["store-7", pd.Timestamp("2024-07-21"), 3.0],
        ["store-7", pd.Timestamp("2024-07-28"), 4.0],
    ]
    assert data.frame["ds"].dtype == "datetime64[ns]"
    assert data.frame["y"].dtype == np.float64


def test_infer_weekly_freq():
    assert infer_weekly_freq(pd.date_range("2024-01-03", periods=5, freq="W-WED")) == "W-WED"
    assert infer_weekly_freq(["2024-07-20", "2024-07-27"]) == "W-SAT"
    with pytest.raises(DataValidationError, match="found Saturday, Sunday"):
        infer_weekly_freq(["2024-07-20", "2024-07-21"])
    with pytest.raises(DataValidationError, match="no dates"):
        infer_weekly_freq([])


def test_workbooks_read_the_same_with_openpyxl(write_xlsx, monkeypatch):
    path = write_xlsx(
        "quirks.xlsx",
        {
            "T Adult Non-Fiction Trade": [
                HEADER,
                [float(ALCHEMIST), "", "", 45493, "1,234"],
                [ALCHEMIST, "", "", JUL27, 2],
                ["", "", "", "", ""],
            ]
        },
    )
    with_calamine = read_sales([path]).frame
    monkeypatch.setattr(reader, "EXCEL_ENGINE", "openpyxl")

    assert with_calamine[["isbn", "week_ending", "volume"]].values.tolist() == [
        [ALCHEMIST, JUL20, 1234.0],
        [ALCHEMIST, JUL27, 2.0],
    ]
    pd.testing.assert_frame_equal(read_sales([path]).frame, with_calamine)


def test_compressed_csv_in_windows_encoding(tmp_path: Path):
    path = tmp_path / "export.csv.gz"
    text = f"ISBN,Title,End Date,Volume\n{ALCHEMIST},Café Stories,20/07/2024,3\n"
    path.write_bytes(gzip.compress(text.encode("cp1252")))

    row = read_sales([str(path)]).frame.iloc[0]

    assert (row["title"], row["source"]) == ("Café Stories", "export")


def test_a_single_path_may_be_given_as_a_string(write_text):
    path = write_text("one.csv", f"ISBN,End Date,Volume\n{ALCHEMIST},20/07/2024,5\n")

    assert read_sales(path).files == [path]
