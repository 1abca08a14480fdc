"""Reading with text columns as categoricals (`read_sales(categorical=True)`), and the paths
taken for typed parquet files: the same rows, values and problems as the default reading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.reader import read_sales, validate_sales
from shelfcast.catalog.series import weekly_series
from shelfcast.errors import DataValidationError

ALCHEMIST = "9780722532935"
JANE_EYRE = "9780141439518"
GRUFFALO = "9781841953274"
WEEKS = pd.to_datetime(["2024-07-20", "2024-07-27", "2024-08-03"])


def _sales(**extra: list[object]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ISBN": [GRUFFALO, ALCHEMIST, ALCHEMIST, JANE_EYRE],
            "Title": ["The Gruffalo", " The Alchemist ", "The Alchemist", None],
            "End Date": [WEEKS[0], WEEKS[1], WEEKS[0], WEEKS[2]],
            "Volume": [3, 5, 0, 7],
            "Interval": [202430, 202431, 202430, 202432],
            **extra,
        }
    )


def _as_objects(frame: pd.DataFrame) -> pd.DataFrame:
    """Categorical columns as objects, missing as None (as the default reading gives them)."""
    out = frame.copy()
    for column, dtype in frame.dtypes.items():
        if isinstance(dtype, pd.CategoricalDtype):
            values = frame[column].to_numpy(dtype=object)
            out[column] = np.where(pd.isna(values), None, values)
    return out


@pytest.mark.parametrize("name", ["sales.parquet", "sales.csv"])
def test_categorical_reading_gives_the_same_frame(write_frame, name):
    path = write_frame(name, _sales())

    plain = read_sales(path)
    compact = read_sales(path, categorical=True)

    text = ["isbn", "title", "author", "interval", "binding", "source"]
    assert all(isinstance(compact.frame[c].dtype, pd.CategoricalDtype) for c in text)
    assert compact.frame["title"].cat.categories.is_monotonic_increasing
    pd.testing.assert_frame_equal(_as_objects(compact.frame), plain.frame)
    assert compact.frame["isbn"].tolist() == [JANE_EYRE, ALCHEMIST, ALCHEMIST, GRUFFALO]
    assert compact.frame["interval"].tolist()[0] == "202432"
    assert [(s.key, s.title, list(s.values)) for s in weekly_series(compact)] == [
        (s.key, s.title, list(s.values)) for s in weekly_series(plain)
    ]


def test_categorical_reading_reports_the_same_problems(write_frame):
    frame = _sales()
    frame.loc[1, "ISBN"] = "9780722532936"  # wrong check digit
    frame.loc[2, "Volume"] = -1
    path = write_frame("sales.parquet", frame)

    with pytest.raises(DataValidationError) as plain:
        read_sales(path)
    with pytest.raises(DataValidationError) as compact:
        read_sales(path, categorical=True)

    assert compact.value.problems == plain.value.problems
    assert [(p.row, p.column, p.value) for p in plain.value.problems] == [
        (3, "ISBN", "9780722532936"),
        (4, "Volume", "-1"),
    ]
    assert validate_sales(path).problems == plain.value.problems


def test_unsorted_files_with_repeats_and_overlaps_read_alike(write_frame):
    first = _sales()
    later = pd.concat([_sales().iloc[[3, 0]], _sales().iloc[[0]]], ignore_index=True)
    later.loc[0, "Volume"] = 9  # supersedes JANE_EYRE's week with another volume
    paths = [write_frame("a-week-1.parquet", first), write_frame("b-week-2.parquet", later)]

    plain = read_sales(paths)
    compact = read_sales(paths, categorical=True)

    pd.testing.assert_frame_equal(_as_objects(compact.frame), plain.frame)
    assert [str(p) for p in compact.warnings] == [str(p) for p in plain.warnings]
    gruffalo = plain.frame[plain.frame["isbn"] == GRUFFALO]
    assert gruffalo["volume"].tolist() == [6.0]  # repeated within the later file: summed
    jane = plain.frame[plain.frame["isbn"] == JANE_EYRE]
    assert jane["volume"].tolist() == [9.0]  # the later file wins


def test_typed_dates_with_a_time_of_day_keep_the_date(write_frame):
    frame = _sales()
    frame["End Date"] = frame["End Date"] + pd.Timedelta(hours=13)
    path = write_frame("sales.parquet", frame)

    read = read_sales(path, categorical=True).frame

    assert sorted(set(read["week_ending"])) == list(WEEKS)


def test_isbn_list_fills_blank_titles_of_categorical_columns(write_frame, write_text):
    path = write_frame("sales.parquet", _sales())
    names = write_text("isbn_list.csv", f"ISBN,Author,Title\n{JANE_EYRE},Brontë,Jane Eyre\n")

    plain = read_sales(path, isbn_list=names).frame
    compact = read_sales(path, isbn_list=names, categorical=True).frame

    pd.testing.assert_frame_equal(_as_objects(compact), plain)
    assert plain.loc[plain["isbn"] == JANE_EYRE, "title"].tolist() == ["Jane Eyre"]
    assert compact["title"].cat.categories.is_monotonic_increasing
