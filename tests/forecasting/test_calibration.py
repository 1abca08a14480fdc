"""Conformal quantiles: pooled by horizon step, monotone, never negative, nominal coverage."""

import numpy as np
import pytest
from scipy.stats import norm
from support.synthetic import seasonal_series

from shelfcast.errors import ForecastError
from shelfcast.forecasting import fit_titles
from shelfcast.forecasting.calibration import (
    TAUS,
    Calibration,
    fit_calibration,
    quantile_column,
    scores,
)
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config


def forecast(mean: float, sd: float, horizon: int) -> PointForecast:
    return normal_bounds(np.full(horizon, mean), np.full(horizon, sd), (80, 95))


def test_scores_are_errors_over_the_models_own_spread():
    fc = forecast(100.0, 10.0, 3)
    np.testing.assert_allclose(scores(np.array([110.0, 90.0, 100.0]), fc), [1.0, -1.0, 0.0])


def test_quantiles_of_normal_scores_are_the_normal_quantiles():
    rng = np.random.default_rng(0)
    per_title = [[rng.normal(size=4) for _ in range(3)] for _ in range(2000)]
    cal = fit_calibration(per_title)
    assert cal is not None and cal.n_titles == 2000 and cal.n_scores == 24000
    np.testing.assert_allclose(cal.table[0], norm.ppf(TAUS), atol=0.2)


def test_a_model_twice_too_confident_gets_intervals_twice_as_wide_and_nominal_coverage():
    rng = np.random.default_rng(1)
    fc = forecast(100.0, 5.0, 6)  # says sd 5, errors have sd 10
    per_title = [[scores(100.0 + rng.normal(0, 10, 6), fc) for _ in range(3)] for _ in range(400)]
    cal = fit_calibration(per_title)
    q = cal.quantiles(fc, (0.1, 0.9))
    fresh = 100.0 + rng.normal(0, 10, (5000, 6))
    covered = np.mean((fresh >= q[0.1]) & (fresh <= q[0.9]))
    assert covered == pytest.approx(0.8, abs=0.02)
    assert np.mean(fc.lower[80] <= fresh) < 0.75  # the raw interval is far too narrow


def test_quantiles_are_monotone_non_negative_and_extend_beyond_the_table():
    rng = np.random.default_rng(2)
    cal = fit_calibration([[rng.normal(0, 1 + h, 4) for h in range(1)] for _ in range(100)])
    fc = forecast(1.0, 2.0, 10)  # wide against its mean: lower quantiles clip at zero
    q = cal.quantiles(fc, TAUS)
    stacked = np.array([q[t] for t in TAUS])
    assert np.all(stacked >= 0) and np.all(np.diff(stacked, axis=0) >= 0)
    assert stacked.shape == (len(TAUS), 10) and np.all(stacked[:, 9] == stacked[:, 3])
    with pytest.raises(ForecastError, match="outside"):
        cal.quantiles(fc, (0.999,))


def test_too_few_scores_give_no_calibration_and_sparse_steps_use_all_steps():
    assert fit_calibration([[np.zeros(4)] for _ in range(5)]) is None
    rng = np.random.default_rng(3)
    per_title = [[rng.normal(size=2)] for _ in range(20)]  # 20 per step: under the minimum
    cal = fit_calibration(per_title)
    assert cal.table[0] == cal.table[1]


def test_the_calibration_round_trips_and_refuses_malformed_tables():
    rng = np.random.default_rng(4)
    cal = fit_calibration([[rng.normal(size=3)] for _ in range(50)])
    assert Calibration.from_dict(cal.to_dict()) == cal
    data = cal.to_dict()
    data["steps"][1] = list(reversed(data["steps"][1]))
    with pytest.raises(ForecastError, match="step 2 quantiles are not increasing"):
        Calibration.from_dict(data)
    with pytest.raises(ForecastError, match="step 1 must hold"):
        Calibration.from_dict({**cal.to_dict(), "steps": [[1.0, 2.0]]})


def test_quantile_columns_are_named_by_percent():
    assert [quantile_column(q) for q in (0.1, 0.5, 0.025, 0.995)] == ["p10", "p50", "p2.5", "p99.5"]


def test_fit_titles_calibrates_every_bundle_and_scores_the_holdout():
    series = [seasonal_series(200, seed=i, key=f"k{i}") for i in range(12)]
    config = fit_config(Settings(), horizon=13, n_origins=2, candidates=("snaive", "theta"))
    fits, errors = fit_titles(series, config, workers=1)
    assert not errors
    cal = fits[0].bundle.calibration
    assert cal is not None and all(f.bundle.calibration == cal for f in fits)
    assert len(cal.table) == 13 and cal.n_titles == 12
    frame = fits[0].bundle.forecast(20, (80, 95), quantiles=(0.1, 0.5, 0.9))
    assert list(frame.columns) == [
        "week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95", "p10", "p50", "p90"
    ]  # fmt: skip
    assert (frame["p10"] <= frame["p50"]).all() and (frame["p50"] <= frame["p90"]).all()
    assert (frame["lo_95"] <= frame["lo_80"]).all() and (frame["lo_95"] >= 0).all()
    assert (frame["lo_80"] <= frame["mean"]).all() and (frame["mean"] <= frame["hi_80"]).all()
    held = fits[0].holdout[fits[0].selected]
    assert {"wql", "coverage_80", "coverage_95"} <= set(held)
    assert fits[0].bundle.evaluation["holdout"][fits[0].selected]["wql"] == held["wql"]
