"""Intermittent and lumpy titles: the intermittent-demand combination, assigned by segment,
and quantiles calibrated on such titles alone: whole numbers that hold the mean and cover what
they say on simulated Poisson and negative-binomial slow sellers."""

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title, fit_titles
from shelfcast.forecasting.backtest import fit_candidates
from shelfcast.forecasting.calibration import interval_bounds, level_taus, needed_taus
from shelfcast.forecasting.families import FAMILIES, forecast, spec_from_dict
from shelfcast.forecasting.fit import INTERMITTENT, WEEK, calibrate, calibration_group
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


def test_the_combination_forecasts_the_mean_of_tsb_adida_and_imapa():
    series = slow_seller("s", 0, "poisson")
    members = ("tsb", "adida", "imapa")
    specs, failed = fit_candidates(series, [INTERMITTENT, *members], 1)
    assert not failed
    spec = specs[INTERMITTENT]
    assert [m.family for m in spec.members] == list(members)
    out = forecast(spec, series, 8, (80, 95))
    rates = [forecast(specs[n], series, 8, (80, 95)).mean for n in members]
    np.testing.assert_allclose(out.mean, np.mean(rates, axis=0))
    assert spec_from_dict(spec.to_dict()) == spec
    assert spec.params()["members"] == "tsb,adida,imapa"
    assert FAMILIES[INTERMITTENT].modes == ("intermittent",)


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


def test_intermittent_titles_are_calibrated_on_their_own_scores(fitted):
    fits, _ = fitted
    slow = [f for f in fits if f.selected == INTERMITTENT]
    smooth = [f for f in fits if f.key.startswith("m")]
    assert len(slow) >= 35 and smooth
    assert {calibration_group(f) for f in slow} == {"intermittent"}
    assert {calibration_group(f) for f in smooth} == {"other"}
    assert all(f.bundle.calibration == slow[0].bundle.calibration for f in slow)
    assert slow[0].bundle.calibration.n_titles == len(slow)
    assert all(f.bundle.calibration != slow[0].bundle.calibration for f in smooth)


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
    assert every not in others and len(others) == 2


def test_intermittent_quantiles_are_whole_hold_the_mean_and_cover_their_share(fitted):
    fits, future = fitted
    inside = {80: [], 95: []}
    for fit in fits:
        if fit.selected != INTERMITTENT:
            continue
        frame = fit.bundle.forecast(AHEAD, (80, 95), quantiles=(0.1, 0.5, 0.9))
        for column in ("p10", "p50", "p90", "lo_80", "hi_80", "lo_95", "hi_95"):
            assert np.all(frame[column] == np.round(frame[column])), column
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
