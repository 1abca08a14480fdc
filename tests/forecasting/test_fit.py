import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title, fit_titles
from shelfcast.forecasting.backtest import backtest, rolling_origins
from shelfcast.forecasting.fit import select_candidate
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config


def test_rolling_origins_step_back_by_the_horizon():
    assert rolling_origins(300, 32, 3) == [204, 236, 268]
    assert rolling_origins(100, 32, 3, min_train=40) == [68]


def test_backtest_never_sees_weeks_after_each_origin(series, monkeypatch):
    import shelfcast.forecasting.backtest as bt_module

    seen: list[pd.Timestamp] = []
    real = bt_module.fit_candidates

    def spy(history, *args, **kwargs):
        seen.append(history.end)
        return real(history, *args, **kwargs)

    monkeypatch.setattr(bt_module, "fit_candidates", spy)
    result = backtest(
        series,
        horizon=32,
        n_origins=3,
        candidates=("snaive", "theta"),
        season_length=52,
        levels=(80, 95),
    )
    origins = sorted(result.table["origin"].unique())
    assert seen == origins
    assert origins[-1] == series.dates[len(series) - 33]


def test_held_out_weeks_cannot_change_the_backtest_or_the_choice(series):
    config = fit_config(Settings(), n_origins=2, candidates=("snaive", "theta", "sarima"))
    poisoned = series.with_values(np.r_[series.values[:-32], np.full(32, 1e6)])
    a, b = fit_title(series, config), fit_title(poisoned, config)
    pd.testing.assert_frame_equal(a.backtest.table, b.backtest.table)
    assert a.selected == b.selected
    assert a.holdout != b.holdout  # the holdout itself is scored on those weeks


def test_the_selection_is_the_best_ensemble_by_backtest_and_baseline_is_reported(series):
    fit = fit_title(series, fit_config(Settings(), n_origins=2))
    combined = {k: v for k, v in fit.scores.items() if k in fit_config(Settings()).ensembles}
    assert fit.selected_mase == min(combined.values()) and fit.selected in combined
    assert fit.bundle.family == "ensemble"
    assert "snaive" in fit.scores
    assert set(fit.holdout) == {fit.selected, "snaive"}
    assert fit.holdout_forecast is not None and len(fit.holdout_forecast.mean) == 32
    assert fit.bundle.evaluation["selected"] == fit.selected
    assert fit.bundle.history.end == series.end  # refitted on all data


def test_ties_go_to_the_simpler_family():
    summary = pd.DataFrame({"mase": [1.0, 1.0], "mae": [2.0, 2.0]}, index=["combo", "snaive"])
    assert select_candidate(summary) == "snaive"


def test_a_single_family_is_selected_where_no_ensemble_can_be_formed(series):
    fit = fit_title(series, fit_config(Settings(), n_origins=2, ensembles=()))
    assert fit.selected_mase == min(fit.scores.values()) and fit.bundle.family == fit.selected


def test_a_title_under_two_seasons_is_backtested_with_non_seasonal_candidates():
    young = TitleSeries("9780241003008", "2023-01-07", 20.0 + np.arange(60.0) % 7)
    fit = fit_title(young, fit_config(Settings()))
    plan = fit.bundle.evaluation["plan"]
    assert plan["mode"] == "non-seasonal" and plan["baseline"] == "naive"
    assert "under 2 seasons" in plan["reason"]
    assert not {"snaive", "sarima", "dhr", "combo"} & set(plan["candidates"])
    assert plan["origins"] == 3 and plan["horizon"] + plan["holdout"] <= 60
    assert fit.fallback is None and fit.baseline == "naive"
    assert len(fit.bundle.forecast(32)) == 32


def test_a_title_too_short_to_backtest_without_launch_curves_falls_back_to_naive_and_says_so():
    short = TitleSeries("9780241003008", "2023-01-07", [3.0, 5.0, 4.0])
    fit = fit_title(short, fit_config(Settings()))
    assert fit.selected == fit.bundle.family == "naive"
    assert fit.fallback and "no candidate could be backtested" in fit.fallback
    assert "leave 1" in fit.fallback and "launch failed" in fit.fallback
    assert list(fit.bundle.forecast(3)["mean"]) == [4.0, 4.0, 4.0]


def test_fit_titles_in_processes_keeps_order_and_reports_failures():
    good = [seasonal_series(200, seed=i, key=f"k{i}") for i in range(3)]
    bad = TitleSeries("one-week", "2024-01-06", [5.0])
    config = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))
    fits, errors = fit_titles([good[0], bad, *good[1:]], config, workers=2)
    assert [f.key for f in fits] == ["k0", "k1", "k2"]
    assert list(errors) == ["one-week"]
    inline, _ = fit_titles(good, config, workers=1)
    for a, b in zip(fits, inline, strict=True):
        assert a.scores == pytest.approx(b.scores)
        assert a.selected == b.selected
