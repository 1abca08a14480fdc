"""Weekly series per title and calendar-week splits."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.sample import ALCHEMIST, sample_catalogue
from shelfcast.catalog.series import TitleSeries, holdout_cutoff, split_series, weekly_series
from shelfcast.errors import ShelfcastError


@dataclass
class Sales:
    """The shape of `catalog.reader.SalesData` that the series builder reads."""

    frame: pd.DataFrame
    kind: str
    warnings: list[object] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def bookscan(rows: list[tuple[str, str, float]], **meta: list[object]) -> Sales:
    frame = pd.DataFrame(rows, columns=["isbn", "week_ending", "volume"])
    frame["week_ending"] = pd.to_datetime(frame["week_ending"])
    for column, values in meta.items():
        frame[column] = values
    return Sales(frame, "bookscan")


A, B, C = "9780000000002", "9780000000019", "9780000000026"


def test_zero_fills_gaps_and_extends_to_the_catalogue_end() -> None:
    sales = bookscan(
        [
            (A, "2020-01-04", 5.0),
            (A, "2020-01-25", 7.0),  # two weeks without sales in between
            (B, "2020-01-11", 1.0),
            (B, "2020-02-15", 3.0),  # the catalogue's last week
        ],
        title=["Alpha", "Alpha", "Beta", "Beta"],
        author=["Ann", None, "Bob", "Bob"],
        source=["F Adult Fiction"] * 2 + ["T Adult Non-Fiction Trade"] * 2,
    )
    a, b = weekly_series(sales, start=None)
    assert (a.key, a.start, a.end, a.freq) == (A, pd.Timestamp("2020-01-04"), b.end, "W-SAT")
    np.testing.assert_array_equal(a.values, [5, 0, 0, 7, 0, 0, 0])
    np.testing.assert_array_equal(b.values, [1, 0, 0, 0, 0, 3])
    assert b.end == pd.Timestamp("2020-02-15")
    assert (a.title, a.author, a.source) == ("Alpha", "Ann", "F Adult Fiction")
    assert (b.title, b.author, b.source) == ("Beta", "Bob", "T Adult Non-Fiction Trade")
    assert a.values.dtype == np.float64


def test_series_start_at_first_positive_sale_and_sum_duplicates() -> None:
    sales = bookscan([(A, "2020-01-04", 0.0), (A, "2020-01-11", 2.0), (A, "2020-01-11", 3.0)])
    (a,) = weekly_series(sales, start=None)
    assert a.start == pd.Timestamp("2020-01-11")
    np.testing.assert_array_equal(a.values, [5.0])


def test_start_filter_drops_earlier_weeks_and_silent_titles() -> None:
    sales = bookscan(
        [
            (A, "2011-12-24", 9.0),
            (A, "2011-12-31", 9.0),
            (A, "2012-01-14", 4.0),
            (B, "2011-06-04", 2.0),  # no sales from the start on
            (C, "2012-02-04", 1.0),
        ]
    )
    series = weekly_series(sales, start="2012-01-01")
    assert [s.key for s in series] == [A, C]
    a = series[0]
    assert a.start == pd.Timestamp("2012-01-14")  # its first sale on or after the start
    np.testing.assert_array_equal(a.values, [4, 0, 0, 0])
    (a_all, b_all, _) = weekly_series(sales, start=None)
    assert a_all.start == pd.Timestamp("2011-12-24")
    assert b_all.end == pd.Timestamp("2012-02-04")
    (a_sat,) = weekly_series(sales, start="2011-12-31", keys=[A])
    assert a_sat.start == pd.Timestamp("2011-12-31")  # a start on a week ending keeps that week


def test_keys_pick_and_order_series() -> None:
    sales = bookscan([(A, "2020-01-04", 1.0), (B, "2020-01-04", 2.0), (C, "2020-01-11", 3.0)])
    assert [s.key for s in weekly_series(sales, keys=[C, A, C])] == [C, A]
    with pytest.raises(ShelfcastError, match=r"no sales on or after 2021-01-01 for 1 key"):
        weekly_series(sales, start="2021-01-01", keys=[A])
    with pytest.raises(ShelfcastError, match="9780000000033"):
        weekly_series(sales, keys=[A, "9780000000033"])


def test_long_format_keeps_its_frequency() -> None:
    frame = pd.DataFrame(
        {
            "unique_id": ["W1", "W1", "W2"],
            "ds": pd.to_datetime(["2020-01-05", "2020-01-19", "2020-01-26"]),  # Sundays
            "y": [10.0, 0.0, 4.0],
        }
    )
    frame.attrs["freq"] = "W-SUN"
    w1, w2 = weekly_series(Sales(frame, "long"), start=None)
    assert (w1.freq, w1.start, w1.end) == ("W-SUN", pd.Timestamp("2020-01-05"), w2.end)
    np.testing.assert_array_equal(w1.values, [10, 0, 0, 0])
    assert list(w1.dates) == list(pd.date_range("2020-01-05", periods=4, freq="W-SUN"))
    assert w1.title is None
    del frame.attrs["freq"]  # without it, the weekday the dates share
    assert weekly_series(Sales(frame, "long"), start=None)[0].freq == "W-SUN"


def test_long_format_first_observation_starts_the_series() -> None:
    frame = pd.DataFrame(
        {"unique_id": ["x", "x"], "ds": pd.to_datetime(["2020-01-04", "2020-01-11"]), "y": [0, 2]}
    )
    frame.attrs["freq"] = "W-SAT"
    (x,) = weekly_series(Sales(frame, "long"), start=None)
    assert x.start == pd.Timestamp("2020-01-04")


def test_bad_inputs() -> None:
    with pytest.raises(ShelfcastError, match="not a week ending of W-SAT"):
        weekly_series(bookscan([(A, "2020-01-05", 1.0)]))
    with pytest.raises(ShelfcastError, match="lacks column"):
        weekly_series(Sales(pd.DataFrame({"isbn": [A]}), "bookscan"))
    with pytest.raises(ShelfcastError, match="unknown sales data kind"):
        weekly_series(Sales(pd.DataFrame(), "monthly"))
    frame = pd.DataFrame({"unique_id": ["x"], "ds": pd.to_datetime(["2020-01-01"]), "y": [1.0]})
    frame.attrs["freq"] = "MS"
    with pytest.raises(ShelfcastError, match="not weekly"):
        weekly_series(Sales(frame, "long"))
    frame = pd.DataFrame(
        {"unique_id": ["x", "x"], "ds": pd.to_datetime(["2020-01-04", "2020-01-06"]), "y": [1, 1]}
    )
    with pytest.raises(ShelfcastError, match="several weekdays"):
        weekly_series(Sales(frame, "long"))
    assert weekly_series(bookscan([])) == []


def test_sample_catalogue_series_fast_and_exact() -> None:
    raw = sample_catalogue()
    frame = raw.rename(
        columns={"ISBN": "isbn", "End Date": "week_ending", "Volume": "volume", "Title": "title"}
    )
    sales = Sales(frame[["isbn", "week_ending", "volume", "title"]], "bookscan")
    began = time.perf_counter()
    series = weekly_series(sales, start=None)
    assert time.perf_counter() - began < 3.0
    assert len(series) == 572
    assert {s.end for s in series} == {pd.Timestamp("2024-07-20")}
    assert sum(s.values.sum() for s in series) == raw["Volume"].sum()
    alchemist = next(s for s in series if s.key == ALCHEMIST)
    assert alchemist.title == "Alchemist, The"
    expected = raw[raw["ISBN"] == ALCHEMIST].set_index("End Date")["Volume"]
    np.testing.assert_array_equal(alchemist.to_frame().set_index("week_ending")["volume"], expected)


def make(start: str, n: int, key: str = A) -> TitleSeries:
    return TitleSeries(key=key, start=pd.Timestamp(start), values=np.arange(1.0, n + 1))


def test_split_holds_out_the_last_calendar_weeks() -> None:
    s = make("2020-01-04", 100)
    train, test = split_series(s, 32)
    assert len(train) == 68 and len(test) == 32
    assert train.end == s.end - pd.Timedelta(weeks=32)
    assert test.start == train.end + pd.Timedelta(weeks=1) and test.end == s.end
    np.testing.assert_array_equal(np.r_[train.values, test.values], s.values)
    assert test.key == s.key and test.freq == s.freq


def test_split_at_the_catalogue_cutoff() -> None:
    long = make("2020-01-04", 100, A)
    stopped = make("2020-01-04", 50, B)  # stopped before the cutoff
    late = make("2020-12-05", 52, C)  # starts late, ends with the catalogue
    assert late.end == long.end
    cutoff = holdout_cutoff([long, stopped, late], 32)
    assert cutoff == long.end - pd.Timedelta(weeks=32)
    for s in (long, late):
        train, test = split_series(s, cutoff=cutoff)
        assert list(test.dates) == list(long.dates[-32:])  # exactly the last 32 catalogue weeks
        assert train.end == cutoff
    train, test = split_series(stopped, cutoff=cutoff)
    assert len(train) == 50 and len(test) == 0
    early = make("2022-01-01", 5)
    train, test = split_series(early, cutoff=cutoff)  # starts after the cutoff
    assert len(train) == 0 and len(test) == 5 and test.start == early.start


def test_split_and_cutoff_argument_errors() -> None:
    s = make("2020-01-04", 10)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ShelfcastError, match="holdout must be"):
            split_series(s, bad)  # type: ignore[arg-type]
        with pytest.raises(ShelfcastError, match="holdout must be"):
            holdout_cutoff([s], bad)  # type: ignore[arg-type]
    with pytest.raises(ShelfcastError, match="not a week ending"):
        split_series(s, cutoff=pd.Timestamp("2020-01-08"))
    with pytest.raises(ShelfcastError, match="holdout or a cutoff"):
        split_series(s)
    with pytest.raises(ShelfcastError, match="no series"):
        holdout_cutoff([], 32)
