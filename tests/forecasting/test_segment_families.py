"""The families made for a segment: launch curves for new titles, pooled seasonal profiles for
young ones, zero forecasts for inactive ones, metadata forecasts before publication, and
whole-number quantiles for counts."""

import numpy as np
import pandas as pd
import pytest
from support.synthetic import launch_catalogue

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import families as fam
from shelfcast.forecasting import fit_title, fit_titles
from shelfcast.forecasting.calibration import whole_quantiles
from shelfcast.forecasting.families import FAMILIES, FitContext
from shelfcast.forecasting.parallel import train_pools
from shelfcast.forecasting.prepublication import Announced, Launches
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

WEEKS = 300


@pytest.fixture(scope="module")
def catalogue() -> list[TitleSeries]:
    return launch_catalogue(weeks=WEEKS)


def context(name: str, histories: list[TitleSeries]) -> FitContext:
    return FitContext(1, pool={name: FAMILIES[name].train_pool(histories, 52)})


def newcomer(weeks_on_sale: int, level: float = 30.0, seed: int = 1) -> TitleSeries:
    """A gift book launched `weeks_on_sale` weeks before the catalogue's end (in March, so
    no Christmas in its first weeks), with its expected sales for 40 weeks more."""
    start = pd.Timestamp("2020-03-07")
    age = np.arange(weeks_on_sale + 40)
    mean = level * (1 + 4 * np.exp(-age / 8.0))
    sales = np.random.default_rng(seed).poisson(mean[:weeks_on_sale]).astype(float)
    meta = {"product_class": "T4.1 Humour & Gift", "binding": "Hardback", "rrp": "9.99"}
    series = TitleSeries("new", start, sales, source="T Adult Non-Fiction Trade", meta=meta)
    return series, mean[weeks_on_sale:]


def test_a_launch_curve_scaled_by_the_first_weeks_follows_the_decay(catalogue):
    title, expected = newcomer(4)
    spec = FAMILIES["launch"].fit(title, context("launch", catalogue))
    assert spec.group.endswith("T4.1 Humour & Gift/Hardback")
    out = fam.forecast(spec, title, 10, [80, 95])
    assert np.abs(out.mean - expected[:10]).sum() / expected[:10].sum() < 0.3
    assert out.mean[0] > 1.5 * out.mean[-1]  # the launch peak decays, not a flat line
    assert np.all(out.upper[95] > out.mean) and np.all(out.lower[95] < out.mean)


def test_the_launch_curves_upper_80_percent_bound_holds_nine_in_ten_weeks_of_new_launches(
    catalogue,
):
    launch = context("launch", catalogue)
    fresh = [t for t in launch_catalogue(n=80, weeks=WEEKS, seed=11)[1:] if len(t) >= 30]
    for k in (2, 4, 8):
        held = []
        for title in fresh:
            seen = title.head(k)
            out = fam.forecast(FAMILIES["launch"].fit(seen, launch), seen, 13, [80])
            held += list(title.values[k : k + 13] <= out.upper[80])
        assert 0.86 <= np.mean(held) <= 0.96, k  # its 90% quantile, as the pool's errors say


def test_the_launch_scale_follows_each_new_week(catalogue):
    title, _ = newcomer(4)
    spec = FAMILIES["launch"].fit(title, context("launch", catalogue))
    before = fam.forecast(spec, title, 4, [80]).mean
    longer = title.with_values(np.r_[title.values, 5 * title.values[-1]])
    after = fam.forecast(fam.update(spec, longer), longer, 4, [80]).mean
    assert after[0] > 1.5 * before[1]  # a week far above the curve lifts the whole forecast


def test_a_title_that_sold_in_the_first_week_of_the_data_has_no_launch_to_scale(catalogue):
    with pytest.raises(ForecastError, match="launch is not in the data"):
        FAMILIES["launch"].fit(catalogue[0], context("launch", catalogue))


def test_a_young_title_borrows_christmas_from_comparable_titles(catalogue):
    """30 weeks from March: the title has never seen a Christmas; its group's profile has."""
    title, _ = newcomer(30, seed=2)
    title = title.with_values(np.full(30, 20.0))  # past its launch: a steady 20 a week
    spec = FAMILIES["profile"].fit(title, context("profile", catalogue))
    out = fam.forecast(spec, title, 30, [80])
    dates = pd.date_range(title.end, periods=31, freq="W-SAT")[1:]
    december = out.mean[(dates.month == 12) & (dates.day >= 10)]
    autumn = out.mean[dates.month == 10]
    assert december.mean() > 2.0 * autumn.mean()


def test_an_inactive_title_gets_a_zero_forecast_and_says_why():
    sold = np.r_[np.full(200, 4.0), np.zeros(60)]
    series = TitleSeries("9780000000002", "2019-01-05", sold)
    fit = fit_title(series, fit_config(Settings()))
    assert fit.selected == fit.bundle.family == "zero" and fit.fallback is None
    assert fit.bundle.evaluation["segment"]["name"] == "inactive"
    assert "no sale in the last 60 weeks" in fit.bundle.evaluation["reason"]
    assert fit.holdout["zero"]["mase"] == 0.0  # the gate can weigh it against a champion
    frame = fit.bundle.forecast(8, [80, 95], quantiles=[0.1, 0.9])
    assert np.all(frame["mean"] == 0) and np.all(frame["hi_95"] == 0)


def test_the_inactive_interval_comes_from_how_often_inactive_titles_sold_again():
    quiet = np.r_[np.full(100, 3.0), np.zeros(52)]
    woke = [np.r_[quiet, np.full(13, 2.0)] for _ in range(3)]
    slept = [np.r_[quiet, np.zeros(13)] for _ in range(3)]
    histories = [TitleSeries(f"t{i}", "2020-01-04", v) for i, v in enumerate(woke + slept)]
    spec = FAMILIES["zero"].fit(histories[0], context("zero", histories))
    assert spec.rate == pytest.approx(1.0) and spec.titles == 6
    out = fam.forecast(spec, histories[0], 4, [80, 95])
    assert np.all(out.mean == 0) and np.all(out.upper[95] >= 2)


def test_a_new_title_is_backtested_on_launch_candidates_and_never_left_on_naive(catalogue):
    title, _ = newcomer(9)
    config = fit_config(Settings())
    fit = fit_title(title, config, train_pools([*catalogue, title], config))
    plan = fit.bundle.evaluation["plan"]
    assert plan["mode"] == "new" and "launch" in plan["candidates"]
    assert fit.bundle.evaluation["segment"]["stage"] == "new"
    young, _ = newcomer(3)
    fit = fit_title(young, config, train_pools([*catalogue, young], config))
    assert fit.selected == "launch" and "no candidate could be backtested" in fit.fallback


def test_quantiles_of_counts_are_whole_and_keep_what_they_cover():
    rng = np.random.default_rng(0)
    q = {0.1: rng.uniform(0, 3, 500), 0.5: rng.uniform(3, 5, 500), 0.9: rng.uniform(5, 9, 500)}
    q[0.1][:5] = 0.37
    whole = whole_quantiles(q)
    y = rng.integers(0, 10, 500)
    for tau, values in whole.items():
        assert np.all(values == np.round(values))
        if tau >= 0.5:
            assert np.array_equal(y <= values, y <= q[tau])
        else:
            assert np.array_equal(y >= values, y >= q[tau])
    assert np.all(whole[0.1][:5] == 1)
    assert np.all(whole[0.1] <= whole[0.5]) and np.all(whole[0.5] <= whole[0.9])


def test_a_slow_seller_gets_whole_number_quantiles():
    sales = np.resize(np.array([0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 1.0]), 300)
    fits, _ = fit_titles([TitleSeries("slow", "2018-01-06", sales)], fit_config(Settings()))
    frame = fits[0].bundle.forecast(13, [80, 95], quantiles=[0.1, 0.5, 0.9])
    for column in ("p10", "p50", "p90", "lo_80", "hi_95"):
        assert np.all(frame[column] == np.round(frame[column])), column
    assert 0 < frame["mean"].mean() < 1.5 and frame["hi_95"].max() >= 1


def test_a_title_before_publication_is_forecast_from_its_metadata(catalogue):
    star = [
        TitleSeries(
            f"star-{i}",
            s.start,
            s.values * 10,
            s.freq,
            author="Star, Author",
            source=s.source,
            meta=s.meta,
        )
        for i, s in enumerate(catalogue[5:7])
    ]
    launches = Launches([*catalogue, *star])
    last = max(s.end for s in catalogue)
    publication = last + pd.Timedelta(weeks=3)
    meta = dict(catalogue[5].meta)
    known = Announced("announced", publication, author="Star, Author", meta=meta)
    unknown = Announced("announced", publication, author="Nobody, New", meta=meta)
    star_forecast = launches.predict(known, last, 20, levels=[80, 95], quantiles=[0.1, 0.9])
    plain = launches.predict(unknown, last, 20, levels=[80, 95])
    frame = star_forecast.frame
    assert np.all(frame["mean"][:2] == 0) and np.all(frame["mean"][2:] > 0)
    assert frame["week_ending"].iloc[2] >= publication
    assert star_forecast.author_launches == 2 and plain.author_launches == 0
    assert frame["mean"].sum() > 2 * plain.frame["mean"].sum()
    assert np.all(frame["p90"] == np.round(frame["p90"]))
    assert np.all(frame["hi_95"][2:] > frame["mean"][2:])
    assert np.all(frame["lo_80"] <= frame["mean"])
    assert "comparable titles" in star_forecast.reason
