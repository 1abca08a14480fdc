import numpy as np
import pandas as pd
import pytest

from shelfcast.errors import ForecastError
from shelfcast.forecasting.models import FITTERS, fit_snaive, forecast_spec, fourier_terms

LEVELS = (80, 95)


@pytest.mark.parametrize("family", list(FITTERS))
def test_every_family_forecasts_dated_non_negative_ordered_intervals(series, family):
    spec = FITTERS[family](series.values, series.dates, 52, None)
    out = forecast_spec(spec, series.values, series.dates, 40, LEVELS)
    assert out.mean.shape == (40,)
    assert np.all(out.mean >= 0)
    assert np.all(out.lower[95] <= out.lower[80])
    assert np.all(out.lower[80] <= out.mean)
    assert np.all(out.mean <= out.upper[80])
    assert np.all(out.upper[80] <= out.upper[95])
    assert np.all(out.upper[95] > out.lower[95])


@pytest.mark.parametrize("family", ["sarima", "dhr", "theta"])
def test_seasonal_families_beat_a_flat_forecast_on_christmas(series, family):
    train, test = series.values[:-40], series.values[-40:]
    spec = FITTERS[family](train, series.dates[:-40], 52, None)
    out = forecast_spec(spec, train, series.dates[:-40], 40, LEVELS)
    flat = np.full(40, train[-52:].mean())
    assert np.abs(out.mean - test).mean() < np.abs(flat - test).mean()


def test_refit_with_like_keeps_structure(series):
    first = FITTERS["sarima"](series.values[:-60], series.dates[:-60], 52, None)
    again = FITTERS["sarima"](series.values, series.dates, 52, first)
    assert again["order"] == first["order"]
    assert again["seasonal_order"] == first["seasonal_order"]
    dhr = FITTERS["dhr"](series.values[:-60], series.dates[:-60], 52, None)
    dhr_again = FITTERS["dhr"](series.values, series.dates, 52, dhr)
    assert dhr_again["fourier"]["harmonics"] == dhr["fourier"]["harmonics"]


def test_seasonal_naive_repeats_last_season_with_growing_intervals():
    y = np.arange(1.0, 11.0)  # 10 weeks, season 4
    dates = pd.date_range("2024-01-06", periods=10, freq="W-SAT")
    spec = fit_snaive(y, dates, 4)
    assert spec["sigma2"] == pytest.approx(16.0)  # every lag-4 difference is 4
    out = forecast_spec(spec, y, dates, 6, LEVELS)
    np.testing.assert_allclose(out.mean, [7, 8, 9, 10, 7, 8])
    width = out.upper[95] - out.mean
    assert width[4] == pytest.approx(width[0] * np.sqrt(2))


def test_short_series_are_refused_with_a_reason():
    y = np.ones(30)
    dates = pd.date_range("2024-01-06", periods=30, freq="W-SAT")
    with pytest.raises(ForecastError, match="needs"):
        FITTERS["sarima"](y, dates, 52, None)


def test_fourier_terms_follow_the_solar_year():
    terms = fourier_terms(np.array([0.0, 365.2425 / 7]), 2)
    np.testing.assert_allclose(terms[0], terms[1], atol=1e-12)
