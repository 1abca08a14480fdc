import warnings

import numpy as np
import pytest
from statsforecast.models import ARIMA

from shelfcast.forecasting import arima


def _params(coef: dict, order, seasonal, m, sigma2) -> arima.ArimaParams:
    return arima.ArimaParams(
        ar=tuple(coef[f"ar{i + 1}"] for i in range(order[0])),
        ma=tuple(coef[f"ma{i + 1}"] for i in range(order[2])),
        sar=tuple(coef[f"sar{i + 1}"] for i in range(seasonal[0])),
        sma=tuple(coef[f"sma{i + 1}"] for i in range(seasonal[2])),
        d=order[1],
        D=seasonal[1],
        m=m,
        sigma2=sigma2,
    )


@pytest.mark.parametrize(
    ("order", "seasonal", "m"),
    [((2, 0, 0), (0, 0, 0), 1), ((1, 1, 1), (0, 0, 0), 1), ((1, 0, 0), (1, 1, 0), 12)],
)
def test_forecast_from_parameters_matches_statsforecast(order, seasonal, m):
    rng = np.random.default_rng(3)
    t = np.arange(300)
    y = 50 + 10 * np.sin(2 * np.pi * t / m if m > 1 else t / 9) + rng.normal(0, 2, 300).cumsum() / 5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = ARIMA(
            order=order, seasonal_order=seasonal, season_length=m, include_mean=False
        ).fit(y)
    coef = fitted.model_["coef"]
    expected = fitted.predict(24, level=[95])
    params = _params(coef, order, seasonal, m, fitted.model_["sigma2"])
    mean, se = arima.forecast(y, params, 24)
    # Conditional (CSS) filtering vs the exact Kalman filter: equal up to start-up effects.
    np.testing.assert_allclose(mean, expected["mean"], rtol=2e-3, atol=0.05)
    np.testing.assert_allclose(expected["hi-95"] - expected["mean"], 1.959964 * se, rtol=1e-2)


def test_psi_weights_of_a_random_walk_are_ones():
    p = arima.ArimaParams(d=1, sigma2=4.0)
    np.testing.assert_allclose(arima.psi_weights(p, 5), np.ones(5))
    mean, se = arima.forecast(np.array([1.0, 3.0, 2.0, 7.0]), p, 3)
    np.testing.assert_allclose(mean, [7.0, 7.0, 7.0])
    np.testing.assert_allclose(se, 2.0 * np.sqrt([1, 2, 3]))


def test_seasonal_polynomial_is_expanded_at_lag_m():
    p = arima.ArimaParams(ar=(0.5,), sar=(0.3,), m=4)
    np.testing.assert_allclose(
        arima.ar_polynomial(p, with_differences=False), [1, -0.5, 0, 0, -0.3, 0.15]
    )


@pytest.mark.parametrize(
    "params",
    [
        arima.ArimaParams(ar=(0.8,), ma=(-0.4,), sigma2=1.5),  # one lag each: in floats
        arima.ArimaParams(ma=(0.3,), d=1, sigma2=0.5),
        arima.ArimaParams(ar=(0.6,), sigma2=2.0),
        arima.ArimaParams(),
        arima.ArimaParams(ar=(0.5, 0.2), ma=(0.1, -0.3), d=1, sigma2=1.0),  # dot products
        arima.ArimaParams(ar=(0.4,), sar=(0.3,), sma=(-0.2,), D=1, m=12, sigma2=1.0),
    ],
)
def test_a_series_forecasts_as_it_does_among_others_and_its_errors_are_kept(params):
    """One series' recursion (floats for one lag, dot products for more) against the
    recursion over rows; the standard errors kept per process are not changed by callers."""
    w = np.random.default_rng(7).normal(size=120).cumsum()
    mean, se = arima.forecast(w, params, 30)
    means, ses = arima.forecast_panel(w[None], np.array([len(w)]), [params], 30)
    np.testing.assert_allclose(mean, means[0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(se, ses[0], rtol=1e-10)
    assert not se.flags.writeable
    again_mean, again_se = arima.forecast(w, params, 30)
    np.testing.assert_array_equal(again_mean, mean)
    assert again_se is se
