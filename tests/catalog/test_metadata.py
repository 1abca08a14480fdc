"""Title metadata files: read in any format, every bad cell named."""

from __future__ import annotations

import datetime as dt

import fsspec
import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.metadata import TITLE_COLUMNS, read_metadata
from shelfcast.catalog.reader import read_sales
from shelfcast.catalog.sample import ALCHEMIST, CATERPILLAR, LAST_WEEK, write_sample
from shelfcast.errors import DataValidationError

HEADER = "ISBN,Title,Author,Binding,Imprint,Publisher Group,Product Class,RRP,Publication Date"
ALCHEMIST_ROW = (
    f'{ALCHEMIST},"Alchemist, The","Coelho, Paulo",Paperback,Thorsons,'
    "HarperCollins Publishers Group,F1.1 General & Literary Fiction,9.99,1995-01-05"
)


@pytest.fixture(scope="module")
def sample_files(tmp_path_factory) -> list[str]:
    return [str(p) for p in write_sample(tmp_path_factory.mktemp("sample"), fmt="parquet")]


def test_reads_the_sample_title_list(sample_files: list[str]) -> None:
    titles = read_metadata(sample_files[1])
    assert list(titles.columns) == TITLE_COLUMNS
    assert len(titles) == 597 and titles["isbn"].is_unique
    assert titles["rrp"].dtype == np.float64
    assert titles["publication_date"].dtype == "datetime64[ns]"
    assert titles.notna().all().all()
    alchemist = titles.set_index("isbn").loc[ALCHEMIST]
    assert (alchemist["title"], alchemist["imprint"], alchemist["rrp"]) == (
        "Alchemist, The",
        "Thorsons",
        9.99,
    )
    assert (titles["publication_date"] > LAST_WEEK).sum() == 25  # not published yet


def test_the_title_list_still_fills_blank_authors(sample_files: list[str]) -> None:
    sales = read_sales([sample_files[0]], isbn_list=sample_files[1])
    assert sales.frame["author"].notna().all()
    assert not sales.warnings


def test_csv_with_pub_date_header_blanks_and_uk_dates(write_text) -> None:
    path = write_text(
        "titles.csv",
        f"isbn,pub date,rrp,Title\n{ALCHEMIST},05/01/1995,£9.99,x\n{CATERPILLAR},,,\n",
    )
    titles = read_metadata(path)
    assert titles["isbn"].tolist() == [ALCHEMIST, CATERPILLAR]
    assert titles["publication_date"].iloc[0] == pd.Timestamp("1995-01-05")
    assert pd.isna(titles["publication_date"].iloc[1]) and np.isnan(titles["rrp"].iloc[1])
    assert titles["title"].tolist() == ["x", None]
    assert titles["author"].isna().all()  # a column the file does not have


def test_xlsx_sheets_and_parquet_on_fsspec(write_xlsx, memory_dir) -> None:
    fiction = [["ISBN", "Publication Date", "RRP"], [ALCHEMIST, dt.date(1995, 1, 5), 9.99]]
    children = [["ISBN", "Pub Date"], [CATERPILLAR, dt.date(1969, 6, 3)]]
    titles = read_metadata(write_xlsx("titles.xlsx", {"Fiction": fiction, "Children": children}))
    assert titles["publication_date"].dt.year.tolist() == [1995, 1969]
    assert titles["rrp"].iloc[0] == 9.99 and np.isnan(titles["rrp"].iloc[1])

    uri = f"{memory_dir}/titles.parquet"
    headers = {"isbn": "ISBN", "publication_date": "Publication Date"}
    with fsspec.open(uri, "wb") as f:
        titles.rename(columns=headers).to_parquet(f)
    pd.testing.assert_frame_equal(read_metadata(uri), titles)


def test_every_bad_cell_is_named(write_text) -> None:
    path = write_text(
        "bad.csv",
        f"{HEADER}\n{ALCHEMIST_ROW}\n"
        "9780722532936,x,,,,,,abc,2024-13-01\n"
        f"{CATERPILLAR},y,,,,,,-1,31/02/2024\n"
        f"{ALCHEMIST},z,,,,,,3,\n",
    )
    with pytest.raises(DataValidationError) as raised:
        read_metadata(path)
    found = {(p.row, p.column, p.value): p.message for p in raised.value.problems}
    assert all(p.file == path for p in raised.value.problems)
    assert "wrong ISBN check digit" in found[3, "ISBN", "9780722532936"]
    assert found[3, "RRP", "abc"] == "not a number"
    assert found[3, "Publication Date", "2024-13-01"].startswith("not a date")
    assert found[4, "RRP", "-1"] == "negative number"
    assert found[4, "Publication Date", "31/02/2024"].startswith("not a date")
    assert found[5, "ISBN", ALCHEMIST] == "ISBN listed twice (also row 2)"
    assert len(found) == 6


@pytest.mark.parametrize(
    ("text", "message"),
    [("Title,RRP\nx,1\n", "missing required column"), (f"{HEADER}\n", "no titles found")],
)
def test_a_file_without_titles_is_an_error(write_text, text: str, message: str) -> None:
    path = write_text("empty.csv", text)
    with pytest.raises(DataValidationError, match=message):
        read_metadata(path)


def test_a_missing_file_is_an_error(tmp_path) -> None:
    with pytest.raises(DataValidationError, match="file not found"):
        read_metadata(str(tmp_path / "absent.csv"))
