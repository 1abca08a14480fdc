"""The built-in sample catalogue: determinism, layout, realism, and the files it writes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.isbn import is_valid_isbn13
from shelfcast.catalog.sample import (
    ALCHEMIST,
    CATERPILLAR,
    COLUMNS,
    FIRST_WEEK,
    LAST_WEEK,
    METADATA_COLUMNS,
    SHEETS,
    plan_catalogue,
    sample_catalogue,
    write_sample,
)
from shelfcast.catalog.sample import files as sample_files
from shelfcast.catalog.selection import SelectionCriteria, acf52, seasonal_strength
from shelfcast.errors import ShelfcastError


@pytest.fixture(scope="module")
def catalogue() -> pd.DataFrame:
    return sample_catalogue()


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory) -> list[Path]:
    """The default catalogue written as csv: sales, title list."""
    return write_sample(tmp_path_factory.mktemp("sample"), fmt="csv")


@pytest.fixture(scope="module")
def title_list(csv_files: list[Path]) -> pd.DataFrame:
    return pd.read_csv(csv_files[1], dtype={"ISBN": str}, parse_dates=["Publication Date"])


@pytest.fixture(scope="module")
def weekly(catalogue: pd.DataFrame) -> pd.DataFrame:
    """Weeks x ISBN volumes, zero-filled."""
    return catalogue.pivot(index="End Date", columns="ISBN", values="Volume").fillna(0.0)


def test_same_seed_same_frame_other_seed_other_frame(catalogue: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(sample_catalogue(42), catalogue)
    other = sample_catalogue(7)
    assert not other.equals(catalogue)
    assert set(other["ISBN"]) != set(catalogue["ISBN"])


# SHA-256 of the seed-42 catalogue: its sales rows as plain CSV (pandas' writer, "\n" line
# ends) and the title list file as written. A change here changes everyone's sample data, and
# with it every figure in the docs and benchmarks: refactor the generator without moving them
# (and bump `GENERATOR_VERSION` when the data has to change).
SEED_42_SALES_SHA256 = "54ae0b6eeb5b775f3948bdde22903e261614a2ffdedef9620b34b8dd2eeeb646"
SEED_42_ISBN_LIST_SHA256 = "62302a01cf724dbb186b109ad200b4b986983fb7bcee25678bcaa983531d544d"
# The same of the 500 core titles alone, as the generator wrote them before titles were added
# (sales rows; ISBN, Title and Author of the ISBN list): adding titles left them as they were.
SEED_42_CORE_SALES_SHA256 = "eec9c0e08aeb1cc19ef9bbd60e463f20beff584edecbb53459acfdb0c41a9cc0"
SEED_42_CORE_ISBN_LIST_SHA256 = "3902f271a4cfff6a5b64f6859109fc2ddc7e44bbad41c71b8e15b3ffd2e71ad3"


def _sha256(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False, lineterminator="\n").encode()).hexdigest()


def test_seed_42_generates_the_same_data_as_always(catalogue: pd.DataFrame, csv_files) -> None:
    assert _sha256(catalogue) == SEED_42_SALES_SHA256
    isbn_list = csv_files[1]
    assert hashlib.sha256(isbn_list.read_bytes()).hexdigest() == SEED_42_ISBN_LIST_SHA256

    core = {t.isbn for t in plan_catalogue(42).core}
    assert len(core) == 500
    in_core = catalogue[catalogue["ISBN"].isin(core)].reset_index(drop=True)
    assert _sha256(in_core) == SEED_42_CORE_SALES_SHA256
    names = pd.read_csv(isbn_list, dtype=str, keep_default_na=False)
    names = names.loc[names["ISBN"].isin(core), ["ISBN", "Title", "Author"]]
    assert _sha256(names) == SEED_42_CORE_ISBN_LIST_SHA256


def test_layout(catalogue: pd.DataFrame) -> None:
    assert list(catalogue.columns) == COLUMNS
    assert set(catalogue["Source"]) == set(SHEETS.values())
    assert catalogue["End Date"].dtype == "datetime64[ns]"
    assert catalogue["Volume"].dtype == np.int64


def test_597_valid_isbns_572_with_sales(catalogue: pd.DataFrame, title_list) -> None:
    assert title_list["ISBN"].is_unique and len(title_list) == 597
    isbns = catalogue["ISBN"].unique()
    assert len(isbns) == 572  # the other 25 are not published yet
    assert set(isbns) <= set(title_list["ISBN"])
    assert all(is_valid_isbn13(i) and i.startswith("978") for i in isbns)
    assert {ALCHEMIST, CATERPILLAR} <= set(isbns)
    assert (catalogue.groupby("ISBN")["Source"].nunique() == 1).all()


def test_weeks_are_saturdays_over_the_whole_range(catalogue: pd.DataFrame) -> None:
    dates = catalogue["End Date"]
    assert dates.min() == pd.Timestamp("2001-01-06")
    assert dates.max() == pd.Timestamp("2024-07-20")
    assert (dates.dt.dayofweek == 5).all()
    iso = dates.dt.isocalendar()
    assert (catalogue["Interval"] == iso["year"] * 100 + iso["week"]).all()
    assert not catalogue.duplicated(["ISBN", "End Date"]).any()


def test_row_count_about_390k(catalogue: pd.DataFrame) -> None:
    assert 0.85 * 390_000 <= len(catalogue) <= 1.15 * 390_000


def test_volumes_and_prices(catalogue: pd.DataFrame) -> None:
    assert (catalogue["Volume"] > 0).all()  # weeks without sales are absent rows
    assert (catalogue["ASP"] > 0).all()
    assert (catalogue["ASP"] <= catalogue["RRP"]).all()
    np.testing.assert_allclose(
        catalogue["Value"], (catalogue["Volume"] * catalogue["ASP"]).round(2), atol=1e-9
    )


def test_metadata_strings(catalogue: pd.DataFrame) -> None:
    assert set(catalogue["Binding"]) <= {
        "Hardback",
        "Paperback",
        "Trade Paperback",
        "Board Book",
        "Spiral Bound",
        "Flexibound",
    }
    for column in ("Title", "Imprint", "Publisher Group", "Product Class"):
        assert catalogue[column].notna().all() and (catalogue[column].str.len() > 0).all()
    first = catalogue.drop_duplicates("ISBN").set_index("ISBN")
    alchemist, caterpillar = first.loc[ALCHEMIST], first.loc[CATERPILLAR]
    assert (alchemist["Title"], alchemist["Author"]) == ("Alchemist, The", "Coelho, Paulo")
    assert alchemist["Imprint"] == "Thorsons" and "HarperCollins" in alchemist["Publisher Group"]
    assert alchemist["Source"] in (SHEETS["F"], SHEETS["T"])
    assert (caterpillar["Title"], caterpillar["Author"]) == (
        "Very Hungry Caterpillar, The",
        "Carle, Eric",
    )
    assert caterpillar["Imprint"] == "Puffin" and caterpillar["Source"] == SHEETS["Y"]


def test_a_handful_of_titles_lack_authors_in_sales_rows(catalogue: pd.DataFrame) -> None:
    blank = catalogue.groupby("ISBN")["Author"].apply(lambda a: a.isna().all())
    assert 1 <= blank.sum() <= 10
    assert not blank[[ALCHEMIST, CATERPILLAR]].any()
    assert catalogue["Author"].isna().groupby(catalogue["ISBN"]).nunique().max() == 1


def test_alchemist_is_a_steady_backlist_seller_with_a_christmas_lift(weekly: pd.DataFrame) -> None:
    volume = weekly[ALCHEMIST]
    assert (volume > 0).all()
    assert 300 <= volume.median() <= 1200
    assert volume.max() <= 2500
    for year in range(2005, 2024):
        in_year = volume[volume.index.year == year]
        christmas = in_year[(in_year.index.month == 12) & (in_year.index.day <= 24)]
        assert christmas.mean() > 1.3 * in_year.median(), year


def test_caterpillar_peaks_at_christmas_and_in_spring(weekly: pd.DataFrame) -> None:
    volume = weekly[CATERPILLAR]
    for year in range(2005, 2024):
        in_year = volume[volume.index.year == year]
        christmas = in_year[(in_year.index.month == 12) & (in_year.index.day <= 24)]
        assert christmas.min() > in_year.median(), year
        assert christmas.mean() > 2.0 * in_year.median(), year
    spring = volume[volume.index.month.isin([3, 4])]
    summer = volume[volume.index.month.isin([6, 7])]
    assert spring.mean() > 1.1 * summer.mean()


@pytest.mark.parametrize("isbn", [ALCHEMIST, CATERPILLAR])
def test_seed_titles_have_measurable_seasonality(weekly: pd.DataFrame, isbn: str) -> None:
    criteria = SelectionCriteria(max_titles=1)  # its eligibility thresholds
    window = np.log1p(weekly[isbn].to_numpy()[-260:])
    assert seasonal_strength(window) >= criteria.min_seasonal_strength + 0.1
    assert acf52(window) >= criteria.min_acf52 + 0.1


def test_christmas_strongest_for_childrens(catalogue: pd.DataFrame) -> None:
    by_sheet = catalogue.pivot_table(
        index="End Date", columns="Source", values="Volume", aggfunc="sum"
    )["2005":"2019"]
    ratio = by_sheet / by_sheet.groupby(by_sheet.index.year).transform("median")
    christmas = ratio[(ratio.index.month == 12) & (ratio.index.day <= 24)].mean()
    assert christmas.idxmax() == SHEETS["Y"]
    assert (christmas > 1.0).all()


def test_lockdown_dip_with_partial_rebound(weekly: pd.DataFrame) -> None:
    total = weekly.sum(axis=1)
    before = total["2020-01-11":"2020-03-14"].mean()
    shut = total["2020-03-28":"2020-04-11"].mean()
    later = total["2020-05-16":"2020-06-13"].mean()
    reopened = total["2020-06-20":"2020-07-18"].mean()
    assert shut < 0.75 * before
    assert shut < later < before  # online buying recovers part of the loss
    assert reopened > 0.9 * before


def test_editions_replace_hardbacks(catalogue: pd.DataFrame) -> None:
    life = catalogue.groupby(["Title", "ISBN", "Binding"])["End Date"].agg(["min", "max"])
    life = life.reset_index()
    pairs = life.merge(life, on="Title", suffixes=("_hb", "_pb"))
    pairs = pairs[(pairs["Binding_hb"] == "Hardback") & (pairs["Binding_pb"] == "Paperback")]
    assert len(pairs) >= 10
    assert (pairs["min_pb"] > pairs["min_hb"]).all()
    faded = pairs["max_hb"] < pairs["min_pb"] + pd.Timedelta(weeks=120)
    assert faded.mean() > 0.8


def test_titles_launch_stop_and_sell_sparsely(catalogue: pd.DataFrame) -> None:
    life = catalogue.groupby("ISBN").agg(
        first=("End Date", "min"), last=("End Date", "max"), rows=("Volume", "size")
    )
    weeks = (life["last"] - life["first"]).dt.days // 7 + 1
    assert (life["first"] > pd.Timestamp("2010-01-01")).sum() >= 50  # launches
    assert (life["last"] < pd.Timestamp("2023-01-01")).sum() >= 30  # out of print
    assert (life["rows"] / weeks < 0.6).sum() >= 20  # low sellers: many zero weeks


def test_title_list_dates_every_title(catalogue: pd.DataFrame, title_list) -> None:
    """A title is published on the Thursday of its first week on sale, before the first week
    of the catalogue for the backlist, after its last week for the titles not out yet."""
    published = title_list.set_index("ISBN")["Publication Date"]
    assert (published.dt.dayofweek == 3).all()
    first_sale = catalogue.groupby("ISBN")["End Date"].min()
    week_of = published + pd.Timedelta(days=2)  # its week ending

    inside = week_of[(week_of > FIRST_WEEK) & (week_of <= LAST_WEEK)]
    assert len(inside) >= 150
    assert (first_sale[inside.index] >= inside).all()
    assert (first_sale[inside.index] == inside).mean() > 0.9  # low sellers may wait a week

    before = week_of[week_of <= FIRST_WEEK]
    assert len(before) >= 250 and {ALCHEMIST, CATERPILLAR} <= set(before.index)
    assert before.min() > pd.Timestamp("1960-01-01")

    forthcoming = week_of[week_of > LAST_WEEK]
    assert len(forthcoming) == 25
    assert not set(forthcoming.index) & set(catalogue["ISBN"])
    assert forthcoming.max() <= LAST_WEEK + pd.Timedelta(weeks=26)
    assert set(published.index) == set(first_sale.index) | set(forthcoming.index)


def test_write_csv_and_parquet(tmp_path, catalogue: pd.DataFrame, csv_files) -> None:
    paths = csv_files
    assert [p.name for p in paths] == ["bookscan_weekly.csv", "isbn_list.csv"]
    back = pd.read_csv(paths[0], dtype={"ISBN": str}, parse_dates=["End Date"])
    assert list(back.columns) == COLUMNS
    assert len(back) == len(catalogue)
    assert back["Volume"].sum() == catalogue["Volume"].sum()
    assert back["Author"].isna().sum() == catalogue["Author"].isna().sum()
    isbn_list = pd.read_csv(paths[1], dtype={"ISBN": str})
    assert list(isbn_list.columns) == METADATA_COLUMNS
    assert set(isbn_list["ISBN"]) >= set(catalogue["ISBN"])
    assert isbn_list.notna().all().all()

    paths = write_sample(tmp_path / "parquet", fmt="parquet")
    assert [p.name for p in paths] == ["bookscan_weekly.parquet", "isbn_list.csv"]
    pd.testing.assert_frame_equal(pd.read_parquet(paths[0]), catalogue)
    assert sorted(p.name for p in (tmp_path / "parquet").iterdir()) == [
        "bookscan_weekly.parquet",
        "isbn_list.csv",
    ]


def test_write_xlsx_sheets(tmp_path) -> None:
    small = sample_catalogue(titles=20)
    paths = write_sample(tmp_path, fmt="xlsx", titles=20)
    assert [p.name for p in paths] == ["bookscan_weekly.xlsx", "isbn_list.csv"]
    sheets = pd.read_excel(paths[0], sheet_name=None, dtype={"ISBN": str}, engine="calamine")
    assert list(sheets) == list(SHEETS.values())
    assert small["Author"].isna().any()
    for name, frame in sheets.items():
        assert list(frame.columns) == COLUMNS[:-1]
        expected = small[small["Source"] == name].drop(columns="Source").reset_index(drop=True)
        expected["Author"] = expected["Author"].where(expected["Author"].notna(), np.nan)
        pd.testing.assert_frame_equal(frame, expected, check_dtype=False)


def test_xlsx_refuses_more_rows_than_a_sheet_holds(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(sample_files, "XLSX_MAX_ROWS", 1_000)
    with pytest.raises(ShelfcastError, match=r"more than 1,000 rows.*write csv or parquet"):
        write_sample(tmp_path, fmt="xlsx", titles=20)
    assert not list(tmp_path.iterdir())  # the temporary file is gone


@pytest.mark.slow
def test_write_full_xlsx(tmp_path, catalogue: pd.DataFrame) -> None:
    path = write_sample(tmp_path, fmt="xlsx")[0]
    sheets = pd.read_excel(path, sheet_name=None, engine="calamine")
    assert list(sheets) == list(SHEETS.values())
    assert sum(len(f) for f in sheets.values()) == len(catalogue)


def test_unknown_format(tmp_path) -> None:
    with pytest.raises(ShelfcastError, match="unknown sample format"):
        write_sample(tmp_path, fmt="json")  # type: ignore[arg-type]
