import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_catalogue
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import families as fam
from shelfcast.forecasting import gbm_features, trees
from shelfcast.forecasting.families import FitContext, spec_from_dict
from shelfcast.forecasting.families.gbm import FAMILY, GbmPool, GbmSpec, training_rows

pytest.importorskip("lightgbm")
LEVELS = (80, 95)
COLUMN = {name: i for i, name in enumerate(gbm_features.FEATURES)}


def _row(values, start, origin, step):
    x, scale = gbm_features.features(
        values, pd.Timestamp(start), np.array([origin]), np.array([step])
    )
    return dict(zip(gbm_features.FEATURES, x[0], strict=True)), scale[0]


def test_features_are_lags_and_means_relative_to_the_recent_level():
    values = np.arange(1.0, 121.0)  # week i sells i + 1
    row, scale = _row(values, "2023-01-07", 60, 1)  # history: weeks 0..59, selling 1..60
    assert scale == pytest.approx(np.mean(np.arange(48, 61)) + 1)  # last 13 weeks + 1
    assert row["lag_1"] * scale == pytest.approx(60)
    assert row["lag_8"] * scale == pytest.approx(53)
    assert row["mean_4"] * scale == pytest.approx(58.5)
    assert row["mean_52"] * scale == pytest.approx(np.mean(np.arange(9, 61)))
    # the target is week 60; a year before it is week 8 (selling 9), and its neighbours
    assert [row[f"year_ago{s}"] * scale for s in ("_m1", "", "_p1")] == pytest.approx([8, 9, 10])
    assert np.isnan(row["year_ago_swing"])  # a year before the origin there were < 13 weeks
    assert row["h"] == 1 and row["age"] == 60
    # 52 weeks ahead: a year before the target is the last week seen; its next week is unseen
    row, _ = _row(values, "2023-01-07", 60, 52)
    assert row["year_ago"] * scale == pytest.approx(60) and np.isnan(row["year_ago_p1"])
    # beyond the cap: h stays 52, the year-ago week goes back two years (week 169 - 104)
    row, later_scale = _row(values, "2023-01-07", 110, 60)
    assert row["h"] == 52 and row["year_ago"] * later_scale == pytest.approx(66)
    # a short history leaves the long windows missing
    row, short_scale = _row(values, "2023-01-07", 10, 1)
    assert np.isnan(row["mean_13"]) and np.isnan(row["mean_52"])
    assert row["lag_8"] * short_scale == pytest.approx(3)


def test_the_seasonal_swing_averages_past_years_at_the_same_date():
    # three years of 9 copies a week, with 99 in the week ending 2021-12-25 and 2022-12-24
    start = pd.Timestamp("2021-01-02")
    values = np.full(160, 9.0)
    values[[51, 103]] = 99.0
    origin = 154  # history up to the week ending 2023-12-09; target: the week ending 12-23
    row, _ = _row(values, start, origin, 2)
    assert row["seasonal_years"] == 2
    assert row["seasonal_swing"] == pytest.approx((99 + 1) / (9 + 1))
    row, _ = _row(values, start, origin, 3)  # the week after: no peak a year or two before
    assert row["seasonal_swing"] == pytest.approx(1.0)


def test_features_see_nothing_after_the_origin():
    values = np.random.default_rng(0).poisson(20, 200).astype(float)
    later = values.copy()
    later[120:] = 1e6
    origins, steps = np.full(52, 120), np.arange(1, 53)
    a, _ = gbm_features.features(values, pd.Timestamp("2020-01-04"), origins, steps)
    b, _ = gbm_features.features(later, pd.Timestamp("2020-01-04"), origins, steps)
    np.testing.assert_array_equal(a, b)


def test_a_short_title_beside_a_long_one_has_the_features_it_has_alone():
    """A title with fewer weeks than the level window, right-aligned in a wider panel."""
    short = np.arange(1.0, 11.0)
    long = np.random.default_rng(1).poisson(20, 200).astype(float)
    panel = np.zeros((2, 200))
    panel[0], panel[1, -10:] = long, short
    first = (pd.Timestamp("2024-03-02") - pd.Timestamp("1970-01-01")).days
    origins, steps = np.array([150, 150, 10, 10]), np.array([1, 60, 1, 60])
    x, scale = gbm_features.panel_features(
        panel, np.array([200, 10]), np.array([0, first]), np.array([0, 0, 1, 1]), origins, steps
    )
    alone, alone_scale = gbm_features.features(
        short, pd.Timestamp("2024-03-02"), origins[2:], steps[2:]
    )
    np.testing.assert_array_equal(x[2:], alone)
    np.testing.assert_array_equal(scale[2:], alone_scale)
    assert np.isnan(x[2:, COLUMN["seasonal_swing"]]).all()


@pytest.mark.parametrize(
    ("week_ending", "flag"),
    [
        ("2023-12-30", "christmas"),  # Sunday 24 to Saturday 30 December
        ("2023-12-23", "week_before_christmas"),
        ("2024-01-06", "new_year"),
        ("2023-11-25", "black_friday"),  # Thanksgiving 23 November 2023
        ("2024-04-06", "easter"),  # Easter Sunday 31 March 2024
        ("2024-05-18", "mothers_day"),  # 12 May 2024
        ("2024-06-22", "fathers_day"),  # 16 June 2024
    ],
)
def test_holiday_flags_mark_the_week_containing_the_day(week_ending, flag):
    start = pd.Timestamp("2023-01-07")
    weeks = (pd.Timestamp(week_ending) - start).days // 7
    values = np.ones(weeks)
    row, _ = _row(values, start, weeks, 1)  # the target is the week ending `week_ending`
    assert {h for h in gbm_features.HOLIDAYS if row[h] == 1.0} == {flag}
    before, _ = _row(values, start, weeks - 1, 1)
    assert before[flag] == 0.0


def test_calendar_of_a_sunday_anchored_week():
    days = (np.datetime64("2024-12-29") - np.datetime64("1970-01-01")).astype(np.int64)
    cal = gbm_features.calendar_features(np.array([days]))[0]  # week 23-29 December 2024
    named = dict(zip(gbm_features.FEATURES[COLUMN["week_of_year"] :], cal, strict=False))
    assert named["christmas"] == 1.0 and named["days_to_christmas"] == -4
    assert named["week_of_year"] == 52


@pytest.fixture(scope="module")
def catalogue() -> list[TitleSeries]:
    return synthetic_catalogue()


def test_a_title_is_forecast_from_the_pool_with_its_christmas_peak(pools):
    title = seasonal_series(seed=3, key="held-out")
    history = title.head(348)  # ends in late August 2018
    spec = FAMILY.fit(history, FitContext(season_length=52, pool=pools))
    out = fam.forecast(spec, history, 30, LEVELS)
    assert np.all(np.isfinite(out.mean)) and np.all(out.mean >= 0)
    assert np.all(out.lower[95] <= out.mean) and np.all(out.upper[95] > out.mean)
    dates = history.end + pd.Timedelta(weeks=1) * np.arange(1, 31)
    peak = dates[np.argmax(out.mean)]
    assert pd.Timestamp("2018-12-25") <= peak <= pd.Timestamp("2018-12-31")
    actual = title.values[348:378]
    flat = np.full(30, history.values[-52:].mean())
    assert np.abs(out.mean - actual).mean() < 0.5 * np.abs(flat - actual).mean()
    # normal bounds from the title's one-step errors
    half = out.upper[80] - out.mean
    assert half[0] == pytest.approx(1.2815515655 * np.sqrt(spec.sigma2))


def test_the_spec_round_trips_through_json_and_is_small(pools, series):
    spec = FAMILY.fit(series, FitContext(season_length=52, pool=pools))
    text = json.dumps(spec.to_dict(), allow_nan=False)
    assert len(text) < 80_000
    again = spec_from_dict(json.loads(text))
    assert again == spec and isinstance(again, GbmSpec)
    assert spec.pool_hash == pools["gbm"].content_hash
    assert spec.params()["trees"] == pools["gbm"].forest.n_trees
    np.testing.assert_array_equal(
        fam.forecast(again, series, 20, LEVELS).mean, fam.forecast(spec, series, 20, LEVELS).mean
    )


def test_fit_needs_a_pool_and_enough_weeks(pools):
    with pytest.raises(ForecastError, match="no gbm pool"):
        FAMILY.fit(seasonal_series(), FitContext(season_length=52))
    stale = {"gbm": dataclasses.replace(pools["gbm"], layout_version=0)}
    with pytest.raises(ForecastError, match="train the pool again"):
        FAMILY.fit(seasonal_series(), FitContext(season_length=52, pool=stale))
    short = TitleSeries("x", "2024-01-06", np.ones(10))
    with pytest.raises(ForecastError, match="needs more than 13 weeks"):
        FAMILY.fit(short, FitContext(season_length=52, pool=pools))


def test_the_pool_is_deterministic_and_refuses_too_little_data(catalogue):
    few = catalogue[:8]
    first, second = FAMILY.train_pool(few, 52), FAMILY.train_pool(few, 52)
    assert first == second and first.content_hash == second.content_hash
    again = GbmPool.from_dict(json.loads(json.dumps(first.to_dict(), allow_nan=False)))
    assert again == first
    title = catalogue[9]
    from_json = FAMILY.fit(title, FitContext(season_length=52, pool={"gbm": first.to_dict()}))
    assert from_json == FAMILY.fit(title, FitContext(season_length=52, pool={"gbm": first}))
    with pytest.raises(ForecastError, match="training rows"):
        FAMILY.train_pool([s.head(30) for s in catalogue[:3]], 52)
    with pytest.raises(ForecastError, match="52-week year"):
        FAMILY.train_pool(few, 4)


def test_the_pool_forest_predicts_its_training_rows_as_the_booster(catalogue):
    import lightgbm

    x, y, w = training_rows(catalogue[:10], target_rows=20_000)
    booster = lightgbm.train(
        {"verbose": -1, "num_threads": 1, "num_leaves": 15}, lightgbm.Dataset(x, y, weight=w), 20
    )
    forest = trees.rounded(trees.from_lightgbm(booster.dump_model()))
    np.testing.assert_allclose(trees.predict(forest, x), booster.predict(x), rtol=1e-6, atol=1e-9)
