import numpy as np
import pytest

from shelfcast.forecasting import metrics

ACTUAL = np.array([10.0, 0.0, 20.0, 30.0])
FORECAST = np.array([12.0, 2.0, 15.0, 30.0])


def test_point_metrics_match_hand_computation():
    # errors f - a: 2, 2, -5, 0
    assert metrics.mae(ACTUAL, FORECAST) == pytest.approx(9 / 4)
    assert metrics.rmse(ACTUAL, FORECAST) == pytest.approx(np.sqrt((4 + 4 + 25 + 0) / 4))
    assert metrics.bias(ACTUAL, FORECAST) == pytest.approx((2 + 2 - 5 + 0) / 4)
    assert metrics.wape(ACTUAL, FORECAST) == pytest.approx(100 * 9 / 60)


def test_mape_excludes_zero_weeks():
    assert metrics.mape(ACTUAL, FORECAST) == pytest.approx(100 * (2 / 10 + 5 / 20 + 0) / 3)
    assert np.isnan(metrics.mape(np.zeros(3), np.ones(3)))


def test_smape_as_in_m4():
    expected = 100 * np.mean([4 / 22, 4 / 2, 10 / 35, 0.0])
    assert metrics.smape(ACTUAL, FORECAST) == pytest.approx(expected)
    assert metrics.smape(np.zeros(2), np.zeros(2)) == 0.0


def test_mase_scaled_by_in_sample_seasonal_naive():
    insample = np.array([1.0, 2.0, 3.0, 5.0, 4.0, 8.0])  # lag-2 differences: 2, 3, 1, 3
    assert metrics.seasonal_naive_scale(insample, 2) == pytest.approx(9 / 4)
    assert metrics.mase(ACTUAL, FORECAST, insample, 2) == pytest.approx((9 / 4) / (9 / 4))
    # too short for the season: falls back to lag 1
    assert metrics.seasonal_naive_scale(np.array([1.0, 4.0]), 52) == pytest.approx(3.0)
    assert np.isnan(metrics.mase(ACTUAL, FORECAST, np.ones(10), 2))


def test_coverage_counts_bounds_inclusive():
    lower = np.array([9.0, 0.0, 21.0, 25.0])
    upper = np.array([11.0, 1.0, 25.0, 30.0])
    assert metrics.coverage(ACTUAL, lower, upper) == pytest.approx(75.0)


def test_score_reports_every_metric_and_rejects_shape_mismatch():
    out = metrics.score(ACTUAL, FORECAST, np.arange(60.0), 52, {80: (FORECAST - 1, FORECAST + 1)})
    assert set(out) == {
        *("mae", "rmse", "mape", "smape", "mase", "wape", "bias", "coverage_80", "wql")
    }
    quantiles = {0.1: FORECAST - 1, 0.5: FORECAST, 0.9: FORECAST + 1}
    assert out["wql"] == metrics.wql(ACTUAL, quantiles)


def test_wql_of_the_median_alone_is_its_wape_and_wider_misses_cost_more():
    assert metrics.wql(ACTUAL, {0.5: FORECAST}) == pytest.approx(metrics.wape(ACTUAL, FORECAST))
    near = metrics.wql(ACTUAL, {0.1: ACTUAL - 1, 0.9: ACTUAL + 1})
    far = metrics.wql(ACTUAL, {0.1: ACTUAL + 5, 0.9: ACTUAL + 9})
    assert 0 < near < far
    with pytest.raises(ValueError, match="shape"):
        metrics.mae(ACTUAL, FORECAST[:2])
