"""Title selection: statistics, thresholds, ranking and the forced seed titles."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.sample import ALCHEMIST, CATERPILLAR, sample_catalogue
from shelfcast.catalog.selection import (
    STAT_COLUMNS,
    SelectionCriteria,
    acf52,
    seasonal_strength,
    select_titles,
    title_statistics,
)
from shelfcast.catalog.series import TitleSeries, weekly_series
from shelfcast.errors import ShelfcastError
from shelfcast.settings import Settings

DEFAULTS = Settings().selection
# The selection Shelfcast makes by default: the settings' size and test titles.
SEED_CRITERIA = SelectionCriteria(
    max_titles=DEFAULTS.max_seasonal_books, always_include=DEFAULTS.default_test_isbns
)

END = pd.Timestamp("2024-07-20")
WEEK = np.arange(260)
SQUARE = np.where(WEEK % 52 < 26, 30.0, 10.0)  # mean exactly 20 over whole years


def ending_at_end(key: str, values: np.ndarray) -> TitleSeries:
    start = END - pd.Timedelta(weeks=len(values) - 1)
    return TitleSeries(key=key, start=start, values=np.asarray(values, float), title=key)


def seasonal(key: str, n: int = 260, level: float = 100.0, seed: int = 0) -> TitleSeries:
    rng = np.random.default_rng(seed)
    shape = np.exp(0.6 * np.sin(2 * np.pi * np.arange(n) / 52) + 0.05 * rng.standard_normal(n))
    return ending_at_end(key, np.round(level * shape))


def verdict(series: list[TitleSeries], **criteria: object) -> pd.DataFrame:
    kwargs = {"max_titles": DEFAULTS.max_seasonal_books} | criteria
    return select_titles(series, SelectionCriteria(**kwargs)).table.set_index("key")  # type: ignore[arg-type]


def test_seasonal_statistics_separate_a_seasonal_pattern_from_noise() -> None:
    rng = np.random.default_rng(1)
    pattern = np.sin(2 * np.pi * WEEK / 52) + 0.2 * rng.standard_normal(260)
    noise = rng.standard_normal(260)
    assert seasonal_strength(pattern) > 0.9
    assert acf52(pattern) > 0.7  # at most (n - 52) / n = 0.8 with 260 weeks
    assert seasonal_strength(noise) < 0.5
    assert abs(acf52(noise)) < 0.2
    assert np.isnan(seasonal_strength(noise[:103])) and np.isnan(acf52(noise[:103]))
    assert seasonal_strength(np.ones(200)) == 0.0 and acf52(np.ones(200)) == 0.0
    table = verdict([ending_at_end("noise", np.round(100 * np.exp(0.3 * noise)))])
    assert "seasonal strength" in table.loc["noise", "reason"]
    assert not table.loc["noise", "eligible"]


def test_statistics_table() -> None:
    values = np.r_[SQUARE[:200], np.zeros(10)]
    table = title_statistics([ending_at_end("x", values), seasonal("y")])
    assert list(table.columns) == STAT_COLUMNS
    x = table.set_index("key").loc["x"]
    assert x["title"] == "x" and x["weeks"] == 210
    assert x["total_volume"] == values.sum()
    assert x["mean_volume_recent"] == pytest.approx(values[-104:].mean())
    assert x["zero_share"] == pytest.approx(10 / 104)
    assert x["last_sale"] == END - pd.Timedelta(weeks=10)
    assert 0.0 <= x["seasonal_strength"] <= 1.0


def test_history_threshold() -> None:
    table = verdict([ending_at_end("104", SQUARE[:104]), ending_at_end("103", SQUARE[:103])])
    assert table.loc["104", "eligible"]
    assert not table.loc["103", "eligible"]
    assert table.loc["103", "reason"].startswith("history 103 < 104 weeks")


def test_volume_threshold() -> None:
    below = np.where(WEEK % 52 < 26, 29.0, 10.0)  # mean 19.5
    table = verdict([ending_at_end("20", SQUARE), ending_at_end("19.5", below)])
    assert table.loc["20", "mean_volume_recent"] == 20.0
    assert table.loc["20", "eligible"]
    assert table.loc["19.5", "reason"] == "mean volume 19.5 < 20"


def test_still_selling_threshold() -> None:
    values = 3 * SQUARE
    last_13th = values.copy()
    last_13th[-12:] = 0  # last sale 12 weeks before the catalogue end: in the last 13 weeks
    stopped = values.copy()
    stopped[-13:] = 0
    series = [ending_at_end("sold", last_13th), ending_at_end("stopped", stopped)]
    table = verdict(series, min_seasonal_strength=0.0, min_acf52=-1.0)
    assert table.loc["sold", "eligible"]
    assert table.loc["stopped", "reason"] == "no sale in the last 13 weeks"


@pytest.mark.parametrize("statistic", ["seasonal_strength", "acf52"])
def test_seasonality_thresholds(statistic: str) -> None:
    s = seasonal("s")
    value = title_statistics([s])[statistic].iloc[0]
    name = "min_seasonal_strength" if statistic == "seasonal_strength" else "min_acf52"
    assert verdict([s], **{name: value - 0.01}).loc["s", "eligible"]
    below = verdict([s], **{name: value + 0.01}).loc["s"]
    assert not below["eligible"]
    assert below["reason"].startswith("seasonal strength" if name[4] == "s" else "acf52")


def test_ranking_and_max_titles() -> None:
    series = [seasonal(f"k{i:02d}", level=30.0 * (i + 1), seed=i) for i in range(20)]
    selection = select_titles(series, SelectionCriteria(max_titles=5, always_include=()))
    table = selection.table.set_index("key")
    assert table["eligible"].all()
    assert len(selection.selected) == 5
    top = table.sort_values("score", ascending=False).index[:5]
    assert selection.selected == list(top)
    assert table["selected"].sum() == 5
    assert table.loc[selection.selected[0], "reason"].startswith("rank 1: seasonal strength")
    left_out = table[~table["selected"]]
    assert left_out["reason"].str.endswith("beyond the 5 titles taken").all()


def test_forced_titles_are_always_included() -> None:
    short = seasonal(ALCHEMIST, n=60)  # too short to be eligible
    others = [seasonal(f"k{i}", level=50.0 * (i + 1), seed=i) for i in range(4)]
    caterpillar = seasonal(CATERPILLAR, level=10_000.0, seed=9)  # eligible, ranks first
    forced = {"always_include": DEFAULTS.default_test_isbns}
    selection = select_titles([short, *others, caterpillar], SelectionCriteria(3, **forced))
    table = selection.table.set_index("key")
    assert set(selection.selected) == {ALCHEMIST, CATERPILLAR, "k3"}
    assert selection.selected[0] == CATERPILLAR
    assert table.loc[ALCHEMIST, "reason"].startswith("forced: seed default title (history 60")
    assert table.loc[CATERPILLAR, "reason"].endswith("; seed default title")
    assert table.loc[ALCHEMIST, "forced"] and not table.loc[ALCHEMIST, "eligible"]
    only_forced = select_titles([short, *others], SelectionCriteria(1, **forced))
    assert only_forced.selected == [ALCHEMIST]
    assert select_titles(others, SelectionCriteria(2, **forced)).selected == ["k3", "k2"]


def test_criteria_validation_and_duplicate_keys() -> None:
    assert SelectionCriteria(max_titles=15).always_include == ()  # only the caller's titles
    assert SEED_CRITERIA.always_include == (ALCHEMIST, CATERPILLAR)
    assert SEED_CRITERIA.max_titles == 15
    for bad in ({"min_weeks": 103}, {"max_titles": 0}, {"max_weeks_since_sale": 0}):
        with pytest.raises(ShelfcastError):
            SelectionCriteria(**{"max_titles": 15, **bad})  # type: ignore[arg-type]
    with pytest.raises(ShelfcastError, match="duplicate series keys"):
        select_titles([seasonal("a"), seasonal("a")], SEED_CRITERIA)


@dataclass
class Sales:
    frame: pd.DataFrame
    kind: str


def test_sample_catalogue_selection() -> None:
    frame = sample_catalogue().rename(
        columns={"ISBN": "isbn", "End Date": "week_ending", "Volume": "volume", "Title": "title"}
    )
    series = weekly_series(Sales(frame, "bookscan"), start=None)
    began = time.perf_counter()
    table = title_statistics(series)
    elapsed = time.perf_counter() - began
    assert len(table) == 572
    assert elapsed < 15.0  # about 2-3 s on two cores
    selection = select_titles(series, SEED_CRITERIA)
    assert len(selection.selected) == 15
    chosen = selection.table.set_index("key").loc[selection.selected]
    assert {ALCHEMIST, CATERPILLAR} <= set(selection.selected)
    assert chosen["eligible"].all()  # the seed titles qualify on their own
    assert chosen["title"].nunique() == 15
