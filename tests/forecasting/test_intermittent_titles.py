"""Intermittent and lumpy titles: the intermittent-demand combination, assigned by segment,
and count calibrations per demand class: negative-binomial quantiles, whole numbers, intervals
that hold the mean and cover what they say on simulated Poisson and negative-binomial slow
sellers, and the mean corrected by the class's backtests."""

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title, fit_titles, metrics
from shelfcast.forecasting.backtest import fit_candidates
from shelfcast.forecasting.calibration import (
    Calibration,
    CountCalibration,
    interval_bounds,
    level_taus,
    needed_taus,
)
from shelfcast.forecasting.families import FAMILIES, SpecError, forecast, spec_from_dict
from shelfcast.forecasting.families.intermittent_combo import DISPERSION_WEEKS
from shelfcast.forecasting.fit import INTERMITTENT, WEEK, calibrate, calibration_group
from shelfcast.forecasting.intervals import z
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

WEEKS = 160
AHEAD = 13


def slow_seller(key: str, seed: int, kind: str, weeks: int = WEEKS + AHEAD) -> TitleSeries:
    """Sales in about a third of the weeks: Poisson sizes, or negative-binomial (lumpy) ones."""
    rng = np.random.default_rng(seed)
    sold = rng.random(weeks) < rng.uniform(0.15, 0.45)
    if kind == "poisson":
        sizes = 1 + rng.poisson(rng.uniform(0.5, 2.0), weeks)
    else:
        sizes = 1 + rng.negative_binomial(0.6, 0.6 / (0.6 + rng.uniform(2.0, 6.0)), weeks)
    return TitleSeries(key, "2020-01-04", np.where(sold, sizes, 0).astype(float))


def smooth_seller(key: str, seed: int) -> TitleSeries:
    rng = np.random.default_rng(seed)
    return TitleSeries(key, "2020-01-04", rng.poisson(40.0, WEEKS + AHEAD).astype(float))


def test_the_combination_forecasts_the_mean_of_adida_and_imapa_with_its_dispersion():
    series = slow_seller("s", 0, "negative binomial")
    members = ("adida", "imapa")
    specs, failed = fit_candidates(series, [INTERMITTENT, *members], 1)
    assert not failed
    spec = specs[INTERMITTENT]
    assert [m.family for m in spec.members] == list(members)
    out = forecast(spec, series, 8, (80, 95))
    rates = [forecast(specs[n], series, 8, (80, 95)).mean for n in members]
    np.testing.assert_allclose(out.mean, np.mean(rates, axis=0))
    weeks = series.values[-DISPERSION_WEEKS:]
    assert spec.dispersion == pytest.approx((weeks.var() - weeks.mean()) / weeks.mean() ** 2)
    variance = ((out.upper[80] - out.mean) / z(80)) ** 2  # what the count calibration reads
    np.testing.assert_allclose(variance, out.mean + spec.dispersion * out.mean**2)
    # its normal bounds are finished like any family's: clipped at zero and ordered
    assert (out.lower[95] == 0).all() and (out.lower[80] >= 0).all()
    assert (out.lower[95] <= out.lower[80]).all() and (out.lower[80] <= out.mean).all()
    assert spec_from_dict(spec.to_dict()) == spec
    assert spec.params()["members"] == "adida,imapa"
    assert FAMILIES[INTERMITTENT].modes == ("intermittent",)
    longer = series.with_values(np.append(series.values, [0.0, 4.0]))
    assert FAMILIES[INTERMITTENT].update(spec, longer).dispersion == spec.dispersion


def test_a_version_1_combination_of_three_still_forecasts_with_its_members_bounds():
    series = slow_seller("s", 3, "poisson")
    members = ("tsb", "adida", "imapa")
    specs, failed = fit_candidates(series, list(members), 1)
    assert not failed
    old = {
        "family": INTERMITTENT,
        "members": {n: specs[n].to_dict() for n in members},
    }
    spec = spec_from_dict(old)
    assert spec.dispersion is None and [m.family for m in spec.members] == list(members)
    out = forecast(spec, series, 8, (80, 95))
    parts = [forecast(specs[n], series, 8, (80, 95)) for n in members]
    np.testing.assert_allclose(out.mean, np.mean([p.mean for p in parts], axis=0))
    np.testing.assert_allclose(out.upper[80], np.mean([p.upper[80] for p in parts], axis=0))
    assert spec_from_dict(spec.to_dict()) == spec  # written as version 2, dispersion null
    with pytest.raises(SpecError, match="dispersion"):
        spec_from_dict({**spec.to_dict(), "dispersion": -1.0})


def test_an_intermittent_title_is_assigned_the_combination_and_a_smooth_one_is_not():
    config = fit_config(Settings())
    fit = fit_title(slow_seller("s", 1, "negative binomial"), config)
    plan = fit.bundle.evaluation["plan"]
    assert fit.bundle.evaluation["segment"]["demand"] in ("intermittent", "lumpy")
    assert fit.selected == fit.bundle.family == INTERMITTENT and fit.fallback is None
    assert plan["candidates"] == [plan["baseline"], INTERMITTENT]
    assert f"{INTERMITTENT} assigned" in plan["reason"]
    assert set(fit.scores) == {plan["baseline"], INTERMITTENT}  # backtested all the same
    assert len(fit.scores_for_calibration) == plan["origins"]
    smooth = fit_title(smooth_seller("m", 2), config)
    assert smooth.selected != INTERMITTENT
    assert INTERMITTENT not in smooth.bundle.evaluation["plan"]["candidates"]


def newcomer() -> TitleSeries:
    """A title on sale for its first 10 weeks at the others' cut, selling in some of them."""
    sales = np.array([3.0, 0, 1, 0, 0, 2, 0, 0, 1, 0])
    return TitleSeries("new", pd.Timestamp("2020-01-04") + (WEEKS - 10) * WEEK, sales)


@pytest.fixture(scope="module")
def fitted():
    """40 slow sellers (half Poisson, half negative-binomial), 6 smooth ones and a new title,
    fitted on all but their last 13 weeks, and those weeks."""
    titles = [slow_seller(f"p{i}", i, "poisson") for i in range(20)]
    titles += [slow_seller(f"n{i}", 100 + i, "negative binomial") for i in range(20)]
    titles += [smooth_seller(f"m{i}", 200 + i) for i in range(6)]
    config = fit_config(Settings(), horizon=AHEAD, n_origins=3, holdout=0)
    fits, errors = fit_titles([*(t.head(WEEKS) for t in titles), newcomer()], config, workers=1)
    assert not errors
    return fits, {t.key: t.values[WEEKS:] for t in titles}


def test_each_demand_class_takes_a_count_calibration_from_its_own_backtests(fitted):
    fits, _ = fitted
    slow = [f for f in fits if f.selected == INTERMITTENT]
    smooth = [f for f in fits if f.key.startswith("m")]
    assert len(slow) >= 35 and smooth
    assert {calibration_group(f) for f in slow} == {"intermittent", "lumpy"}
    assert {calibration_group(f) for f in smooth} == {"other"}
    for group in ("intermittent", "lumpy"):
        members = [f for f in slow if calibration_group(f) == group]
        (own,) = {f.bundle.calibration for f in members}
        assert isinstance(own, CountCalibration) and own.n_titles == len(members)
        actual = sum(f.totals_for_calibration[0] for f in members)
        forecast_sales = sum(f.totals_for_calibration[1] for f in members)
        assert own.scale == pytest.approx(actual / forecast_sales)
        assert own.n_weeks == sum(f.totals_for_calibration[2] for f in members) > 0
    assert all(isinstance(f.bundle.calibration, Calibration) for f in smooth)


def test_a_new_title_takes_every_titles_calibration_whatever_its_demand_class(fitted):
    fits, _ = fitted
    (new,) = [f for f in fits if f.key == "new"]
    segment = new.bundle.evaluation["segment"]
    assert segment["stage"] == "new" and segment["demand"] in ("intermittent", "lumpy")
    assert calibration_group(new) is None and new.selected != INTERMITTENT
    every = calibrate(fits, (80, 95))
    assert every is not None and new.bundle.calibration == every
    assert every.n_titles == sum(bool(f.scores_for_calibration) for f in fits)
    others = {f.bundle.calibration for f in fits if f.key != "new"}
    assert every not in others and len(others) == 3  # intermittent, lumpy, other


def test_intermittent_quantiles_are_whole_hold_the_mean_and_cover_their_share(fitted):
    fits, future = fitted
    inside = {80: [], 95: []}
    for fit in fits:
        if fit.selected != INTERMITTENT:
            continue
        frame = fit.bundle.forecast(AHEAD, (80, 95), quantiles=(0.1, 0.5, 0.9))
        for column in ("p10", "p50", "p90", "lo_80", "lo_95"):
            assert np.all(frame[column] == np.round(frame[column])), column
        for column in ("hi_80", "hi_95"):  # a count, or the mean where the count is below it
            values = frame[column]
            assert np.all((values == np.round(values)) | (values == frame["mean"])), column
        assert np.all(frame[["p10", "p50", "p90"]].diff(axis=1).iloc[:, 1:] >= 0)
        assert np.all(frame["lo_95"] <= frame["lo_80"]) and np.all(frame["hi_80"] <= frame["hi_95"])
        assert np.all(frame["lo_95"] <= frame["mean"]) and np.all(frame["mean"] <= frame["hi_80"])
        for level in inside:
            lo, hi = frame[f"lo_{level}"].to_numpy(), frame[f"hi_{level}"].to_numpy()
            inside[level] += list((future[fit.key] >= lo) & (future[fit.key] <= hi))
    for level, hits in inside.items():  # within 5 points of nominal, as every segment
        assert abs(100 * np.mean(hits) - level) <= 5, level


def test_a_count_interval_whose_lower_quantile_is_zero_is_one_sided():
    lo, hi = level_taus(80)
    assert {lo, 0.5, 0.8, hi} <= set(needed_taus([80], []))
    mean = np.array([0.4, 3.0])
    values = {lo: np.array([0.0, 1.0]), 0.8: np.array([1.0, 4.0]), hi: np.array([2.0, 5.0])}
    counts = interval_bounds(mean, values, [80], whole=True)
    np.testing.assert_array_equal(counts["lo_80"], [0.0, 1.0])
    np.testing.assert_array_equal(counts["hi_80"], [1.0, 5.0])  # [0, q80]; central
    volumes = interval_bounds(mean, values, [80], whole=False)
    np.testing.assert_array_equal(volumes["hi_80"], [2.0, 5.0])


def test_the_holdout_is_scored_on_the_corrected_mean_and_the_count_quantiles():
    titles = [slow_seller(f"h{i}", 300 + i, "negative binomial") for i in range(12)]
    config = fit_config(Settings(), horizon=AHEAD, n_origins=3, holdout=AHEAD)
    fits, errors = fit_titles(titles, config, workers=1)
    assert not errors
    for fit in fits:
        own = fit.bundle.calibration
        assert isinstance(own, CountCalibration) and own.scale != 1.0
        actual = fit.bundle.history.values[-AHEAD:]
        row = fit.bundle.evaluation["holdout"][fit.selected]
        mean, columns = own.columns(fit.holdout_forecast, (80, 95), (0.1, 0.5, 0.9), True)
        np.testing.assert_allclose(mean, own.scale * fit.holdout_forecast.mean)
        assert row["mae"] == pytest.approx(np.mean(np.abs(actual - mean)))
        scored = {t: columns[f"p{round(t * 100)}"] for t in (0.1, 0.5, 0.9)}
        assert row["wql"] == pytest.approx(metrics.wql(actual, scored))
        assert row["coverage_80"] == pytest.approx(
            metrics.coverage(actual, columns["lo_80"], columns["hi_80"])
        )
