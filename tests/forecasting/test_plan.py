"""Each title's backtest adapts to its history's length; a 130-week title is seasonal."""

import numpy as np
import pytest
from support.synthetic import seasonal_series

from shelfcast.forecasting import fit_title
from shelfcast.forecasting.plan import MIN_HORIZON, min_seasonal_train, plan_backtest
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config


def plan(n_weeks: int, horizon: int = 32, holdout: int = 32, n_origins: int = 3):
    return plan_backtest(
        n_weeks,
        horizon=horizon,
        n_origins=n_origins,
        holdout=holdout,
        season_length=52,
        seasonal_candidates=("snaive", "dhr"),
        nonseasonal_candidates=("naive", "theta"),
        seasonal_baseline="snaive",
        nonseasonal_baseline="naive",
    )


def test_a_long_history_keeps_the_requested_backtest():
    p = plan(400)
    assert (p.seasonal, p.horizon, p.n_origins, p.holdout, p.reason) == (True, 32, 3, 32, "")
    assert p.candidates == ("snaive", "dhr") and p.season_length == 52


@pytest.mark.parametrize("n_weeks", [104, 130, 160, 200])
def test_two_seasons_or_more_are_backtested_seasonally_within_the_history(n_weeks):
    p = plan(n_weeks)
    assert p.seasonal and p.baseline == "snaive" and p.n_origins == 3
    assert p.horizon >= MIN_HORIZON
    first_origin = n_weeks - p.holdout - p.n_origins * p.horizon
    assert first_origin >= min_seasonal_train(52)
    assert (p.reason == "") == (n_weeks >= 78 + 4 * 32)


def test_a_130_week_history_is_backtested_with_13_week_origins():
    p = plan(130)
    assert (p.horizon, p.n_origins, p.holdout) == (13, 3, 13)
    assert "130 weeks leave 52 after the first 78" in p.reason


@pytest.mark.parametrize("n_weeks", [12, 20, 60, 103])
def test_under_two_seasons_is_non_seasonal_and_says_why(n_weeks):
    p = plan(n_weeks)
    assert not p.seasonal and p.season_length == 1 and p.baseline == "naive"
    assert p.candidates == ("naive", "theta")
    assert f"{n_weeks} weeks is under 2 seasons" in p.reason
    assert p.n_origins >= 1 and n_weeks - p.holdout - p.n_origins * p.horizon >= 8


def test_a_history_too_short_for_any_origin_has_none():
    p = plan(9)
    assert p.n_origins == 0 and "leave 1 after the first 8" in p.reason


def test_a_requested_holdout_longer_than_the_horizon_is_cut_to_it():
    p = plan(400, horizon=13, holdout=32)
    assert (p.horizon, p.holdout) == (13, 13) and "holdout 13 weeks" in p.reason


def test_a_130_week_real_shaped_title_is_forecast_seasonally_not_flat():
    """Two and a half years of a seasonal title: seasonal candidates, a forecast that rises
    into Christmas rather than repeating the last week."""
    series = seasonal_series(weeks=130, seed=3)
    fit = fit_title(series, fit_config(Settings(), horizon=13))
    evaluation = fit.bundle.evaluation
    assert evaluation["plan"]["mode"] == "seasonal" and fit.fallback is None
    assert evaluation["plan"]["origins"] == 3
    assert {"snaive", "dhr"} <= set(fit.scores)
    forecast = fit.bundle.forecast(52)
    assert forecast["mean"].std() > 0.1 * forecast["mean"].mean()  # not flat
    peak = forecast.loc[forecast["mean"].idxmax(), "week_ending"]
    assert peak.month == 12 or (peak.month == 1 and peak.day <= 7)
    assert not np.allclose(forecast["mean"], series.values[-1])
