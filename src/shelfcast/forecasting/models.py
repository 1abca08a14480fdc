"""Candidate model families: fitting (statsforecast, scipy) and forecasting from parameters.

A fitted model is a `spec`: a JSON-ready dict of its family, orders and parameters. Forecasting
needs only the spec and the weekly history, so a bundle forecasts any horizon, and takes newer
weeks, without refitting and without the fitting library.

Families:
- `snaive`: seasonal naive (the baseline every champion is compared with).
- `sarima`: seasonal ARIMA at period 52 on log1p volumes, order chosen by AICc over a small grid
  of conditional-sum-of-squares fits (the approximation step of Hyndman-Khandakar).
- `dhr`: dynamic harmonic regression, ARIMA errors with Fourier terms of the solar year
  (52.18 weeks, so Christmas stays put in 53-week years); harmonics chosen by AIC.
- `theta`: the standard Theta method (SES with drift, Hyndman & Billah 2003) on classically
  deseasonalised volumes when lag-52 autocorrelation is significant.
- `combo`: the mean of the sarima, dhr and theta forecasts (quantile averaging for intervals).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from scipy.signal import lfilter
from scipy.stats import norm

from shelfcast.catalog.series import weekly_dates
from shelfcast.errors import ForecastError
from shelfcast.forecasting import arima

YEAR_WEEKS = 365.2425 / 7.0
EPOCH = pd.Timestamp("1970-01-01")
COMBO_MEMBERS = ("sarima", "dhr", "theta")
PLAUSIBLE_GROWTH = 20.0  # a mean forecast above 20x the history's peak is a broken fit


@dataclass(frozen=True)
class PointForecast:
    """Forecast arrays for `horizon` weeks: mean, and bounds per interval level."""

    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]


def week_number(dates: pd.DatetimeIndex) -> np.ndarray:
    """Weeks since 1970-01-01 as floats: an absolute clock for trends and Fourier terms."""
    return np.asarray((dates - EPOCH).days, dtype=np.float64) / 7.0


def fourier_terms(weeks: np.ndarray, harmonics: int, period: float = YEAR_WEEKS) -> np.ndarray:
    """Columns sin(2πkt/P), cos(2πkt/P) for k = 1..harmonics."""
    k = np.arange(1, harmonics + 1)
    angle = 2.0 * np.pi * np.outer(weeks, k) / period
    return np.column_stack([np.sin(angle), np.cos(angle)])


def _to_model_scale(y: np.ndarray, transform: str) -> np.ndarray:
    return np.log1p(np.maximum(y, 0.0)) if transform == "log1p" else y


def _from_model_scale(x: np.ndarray, transform: str) -> np.ndarray:
    return np.expm1(x) if transform == "log1p" else x


def _z(level: int) -> float:
    return float(norm.ppf(0.5 + level / 200.0))


def _normal_bounds(
    mean: np.ndarray, se: np.ndarray, levels: Sequence[int], transform: str = "none"
) -> PointForecast:
    lower = {lv: _from_model_scale(mean - _z(lv) * se, transform) for lv in levels}
    upper = {lv: _from_model_scale(mean + _z(lv) * se, transform) for lv in levels}
    return PointForecast(_from_model_scale(mean, transform), lower, upper)


# --- seasonal naive -----------------------------------------------------------------------


def fit_snaive(
    y: np.ndarray, _dates: pd.DatetimeIndex, season_length: int, _like: dict | None = None
) -> dict:
    m = season_length if len(y) > season_length else 1
    if len(y) <= m:
        raise ForecastError(f"seasonal naive needs more than {m} weeks, got {len(y)}")
    errors = y[m:] - y[:-m]
    return {"family": "snaive", "season_length": m, "sigma2": float(np.mean(errors**2))}


def _forecast_snaive(spec: dict, y: np.ndarray, horizon: int, levels: Sequence[int]):
    m = spec["season_length"]
    steps = np.arange(horizon)
    mean = y[len(y) - m + steps % m]
    se = np.sqrt(spec["sigma2"] * (steps // m + 1))
    return _normal_bounds(mean, se, levels)


# --- ARIMA families -------------------------------------------------------------------------


def _arima_params(spec: dict) -> arima.ArimaParams:
    return arima.ArimaParams(
        ar=tuple(spec["ar"]),
        ma=tuple(spec["ma"]),
        sar=tuple(spec["sar"]),
        sma=tuple(spec["sma"]),
        d=spec["order"][1],
        D=spec["seasonal_order"][1],
        m=spec["season_length"],
        sigma2=spec["sigma2"],
    )


def _regression(spec: dict, dates: pd.DatetimeIndex) -> np.ndarray:
    """Intercept, drift and Fourier part of a regression with ARIMA errors."""
    weeks = week_number(dates)
    reg = np.full(len(dates), spec["intercept"])
    if spec["drift"]:
        origin = week_number(pd.DatetimeIndex([pd.Timestamp(spec["time_origin"])]))[0]
        reg += spec["drift"] * (weeks - origin + 1.0)
    if spec.get("fourier"):
        f = spec["fourier"]
        reg += fourier_terms(weeks, f["harmonics"], f["period"]) @ np.asarray(f["coef"])
    return reg


# BFGS gradient tolerance of the CSS fits. statsforecast's default (1e-8) mostly buys
# iterations on a flat objective: at 1e-5 fits take a third less time and, on the sample
# catalogue, give the same champions and holdout WAPE to four decimals.
CSS_GRADIENT_TOL = 1e-5


def _fit_arima(
    x: np.ndarray,
    order: tuple[int, int, int],
    seasonal_order: tuple[int, int, int],
    season_length: int,
) -> tuple[dict, float]:
    """One CSS fit with statsforecast; returns its coefficients and AICc."""
    from statsforecast.arima import Arima

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = Arima(
            x,
            order=order,
            seasonal={"order": seasonal_order, "period": season_length},
            include_constant=True,
            method="CSS",
            tol=CSS_GRADIENT_TOL,
        )
    coef = {k: float(v) for k, v in fitted["coef"].items()}
    sigma2 = float(fitted["sigma2"])
    if not np.isfinite(sigma2) or sigma2 <= 0 or not all(np.isfinite(list(coef.values()))):
        raise ForecastError(f"ARIMA{order}{seasonal_order} did not converge")
    params = _arima_params(
        _arima_spec(
            "check",
            {"coef": coef, "sigma2": sigma2},
            order,
            seasonal_order,
            season_length,
            EPOCH,
            "none",
        )
    )
    if not arima.is_stationary_and_invertible(params):
        raise ForecastError(f"ARIMA{order}{seasonal_order} fit is not stationary and invertible")
    k = len(coef) + 1
    nobs = int(fitted["nobs"])
    loglik = -0.5 * nobs * (np.log(2 * np.pi * sigma2) + 1.0)
    aicc = -2 * loglik + 2 * k + (2 * k * (k + 1)) / max(nobs - k - 1, 1)
    return {"coef": coef, "sigma2": sigma2}, float(aicc)


def _arima_spec(
    family: str,
    fit: dict,
    order: tuple[int, int, int],
    seasonal_order: tuple[int, int, int],
    season_length: int,
    time_origin: pd.Timestamp,
    transform: str,
    fourier: dict | None = None,
) -> dict:
    c = fit["coef"]
    return {
        "family": family,
        "order": list(order),
        "seasonal_order": list(seasonal_order),
        "season_length": season_length,
        "ar": [c[f"ar{i + 1}"] for i in range(order[0])],
        "ma": [c[f"ma{i + 1}"] for i in range(order[2])],
        "sar": [c[f"sar{i + 1}"] for i in range(seasonal_order[0])],
        "sma": [c[f"sma{i + 1}"] for i in range(seasonal_order[2])],
        "intercept": c.get("intercept", 0.0),
        "drift": c.get("drift", 0.0),
        "time_origin": time_origin.date().isoformat(),
        "fourier": fourier,
        "sigma2": fit["sigma2"],
        "transform": transform,
    }


def _differences(x: np.ndarray, season_length: int, seasonal: bool) -> tuple[int, int]:
    from statsforecast.arima import ndiffs

    D = 1 if seasonal else 0
    base = x[season_length:] - x[:-season_length] if D else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d = min(int(ndiffs(base, max_d=1)), 1)
    return d, D


SARIMA_GRID: tuple[tuple[tuple[int, int, int], tuple[int, int, int]], ...] = (
    ((0, 0, 1), (0, 0, 1)),
    ((1, 0, 1), (0, 0, 1)),
    ((2, 0, 0), (0, 0, 1)),
    ((1, 0, 0), (1, 0, 0)),
)


Order = tuple[int, int, int]


def _best_arima(
    x: np.ndarray, orders: Sequence[tuple[Order, Order]], season_length: int
) -> tuple[dict, Order, Order]:
    """The lowest-AICc fit among `orders` (pairs of non-seasonal and seasonal orders)."""
    best: tuple[float, dict, Order, Order] | None = None
    for order, seasonal in orders:
        try:
            fit, aicc = _fit_arima(x, order, seasonal, season_length)
        except (ForecastError, ValueError, np.linalg.LinAlgError):
            continue
        if best is None or aicc < best[0]:
            best = (aicc, fit, order, seasonal)
    if best is None:
        raise ForecastError(f"no ARIMA order among {list(orders)} could be fitted")
    return best[1], best[2], best[3]


def _same_orders(like: dict) -> list[tuple[Order, Order]]:
    return [(tuple(like["order"]), tuple(like["seasonal_order"]))]


def fit_sarima(
    y: np.ndarray, dates: pd.DatetimeIndex, season_length: int, like: dict | None = None
) -> dict:
    """Seasonal ARIMA with differencing by unit-root tests and orders by AICc.

    With `like`, the orders of that earlier fit are kept and only the parameters re-estimated.
    """
    m = season_length
    if len(y) < 2 * m + 26:
        raise ForecastError(f"SARIMA at period {m} needs {2 * m + 26} weeks, got {len(y)}")
    x = _to_model_scale(y, "log1p")
    if like is None:
        d, D = _differences(x, m, seasonal=True)
        orders = [((p, d, q), (P, D, Q)) for (p, _, q), (P, _, Q) in SARIMA_GRID]
    else:
        orders = _same_orders(like)
    fit, order, seasonal = _best_arima(x, orders, m)
    return _arima_spec("sarima", fit, order, seasonal, m, dates[0], "log1p")


HARMONICS = (3, 6, 10, 16)


def _least_squares(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    return coef, float(np.sum((target - design @ coef) ** 2))


def fit_dhr(
    y: np.ndarray, dates: pd.DatetimeIndex, season_length: int, like: dict | None = None
) -> dict:
    """Regression on Fourier terms with ARIMA errors, estimated in two stages.

    Harmonics by OLS AIC; d by a unit-root test on the deseasonalised series; Fourier
    coefficients by OLS on the d-times differenced data; then (p, d, q) with a constant on the
    residual series, by AICc. With `like`, harmonics and orders of that earlier fit are kept.
    """
    if len(y) < season_length + 26:
        raise ForecastError(f"harmonic regression needs {season_length + 26} weeks, got {len(y)}")
    x = _to_model_scale(y, "log1p")
    weeks = week_number(dates)
    trend = np.column_stack([np.ones_like(weeks), weeks - weeks[0]])
    if like is None:
        best_k, best_aic = HARMONICS[0], np.inf
        for k in HARMONICS:
            design = np.column_stack([trend, fourier_terms(weeks, k)])
            rss = _least_squares(design, x)[1]
            aic = len(x) * np.log(max(rss, 1e-12) / len(x)) + 2 * design.shape[1]
            if aic < best_aic:
                best_k, best_aic = k, aic
        terms = fourier_terms(weeks, best_k)
        seasonal_part = terms @ _least_squares(np.column_stack([trend, terms]), x)[0][2:]
        d = _differences(x - seasonal_part, 1, seasonal=False)[0]
        orders = [((p, d, q), (0, 0, 0)) for p, q in ((1, 1), (2, 0))]
    else:
        best_k, d = like["fourier"]["harmonics"], like["order"][1]
        terms = fourier_terms(weeks, best_k)
        orders = _same_orders(like)
    dx, dterms = (np.diff(x), np.diff(terms, axis=0)) if d else (x, terms)
    beta = _least_squares(np.column_stack([np.ones(len(dx)), dterms]), dx)[0][1:]
    fit, order, _ = _best_arima(x - terms @ beta, orders, 1)
    fourier = {"harmonics": best_k, "period": YEAR_WEEKS, "coef": beta.tolist()}
    return _arima_spec("dhr", fit, order, (0, 0, 0), 1, dates[0], "log1p", fourier)


def _forecast_arima(
    spec: dict,
    y: np.ndarray,
    dates: pd.DatetimeIndex,
    future: pd.DatetimeIndex,
    levels: Sequence[int],
) -> PointForecast:
    x = _to_model_scale(y, spec["transform"])
    w = x - _regression(spec, dates)
    mean, se = arima.forecast(w, _arima_params(spec), len(future))
    return _normal_bounds(mean + _regression(spec, future), se, levels, spec["transform"])


# --- Theta ----------------------------------------------------------------------------------


def _seasonal_acf_significant(y: np.ndarray, m: int) -> bool:
    """The M4 Theta test: lag-m autocorrelation significant at 90%."""
    if len(y) < 3 * m:
        return False
    x = y - y.mean()
    denom = float(np.dot(x, x))
    if denom == 0:
        return False
    acf = np.array([np.dot(x[k:], x[: len(x) - k]) / denom for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / len(y))
    return abs(acf[-1]) > limit


def _seasonal_indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative indices by position in the cycle (mean ratio to a 2xm MA)."""
    kernel = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, kernel, mode="valid")  # centred: trend[i] is at week i + m/2
    offset = m // 2
    ratio = np.full(len(y), np.nan)
    positive = trend > 0
    ratio[offset : offset + len(trend)][positive] = (
        y[offset : offset + len(trend)][positive] / (trend[positive])
    )
    idx = np.array(
        [np.nanmean(ratio[j::m]) if np.any(~np.isnan(ratio[j::m])) else 1.0 for j in range(m)]
    )
    idx = np.where(np.isfinite(idx) & (idx > 0.05), idx, 0.05)
    return idx / idx.mean()


def _ses_levels(z: np.ndarray, alpha: float, level0: float) -> np.ndarray:
    """Levels l_0..l_n of simple exponential smoothing."""
    body = lfilter([alpha], [1.0, alpha - 1.0], z, zi=[(1 - alpha) * level0])[0]
    return np.r_[level0, body]


def _fit_ses(z: np.ndarray) -> tuple[float, float, float]:
    """SES by least squares: alpha by bounded search, l_0 in closed form for each alpha."""
    n = len(z)
    steps = np.arange(n)

    def sse_and_level(alpha: float) -> tuple[float, float]:
        zero_start = _ses_levels(z, alpha, 0.0)[:-1]  # one-step forecasts when l_0 = 0
        weight = (1.0 - alpha) ** steps  # how l_0 enters each forecast
        resid = z - zero_start
        level0 = float(np.dot(weight, resid) / np.dot(weight, weight))
        return float(np.sum((resid - weight * level0) ** 2)), level0

    res = minimize_scalar(
        lambda a: sse_and_level(a)[0],
        bounds=(0.01, 0.99),
        method="bounded",
        options={"xatol": 1e-4},
    )
    alpha = float(res.x)
    sse, level0 = sse_and_level(alpha)
    return alpha, level0, sse / n


def fit_theta(
    y: np.ndarray, dates: pd.DatetimeIndex, season_length: int, _like: dict | None = None
) -> dict:
    if len(y) < 8:
        raise ForecastError(f"Theta needs at least 8 weeks, got {len(y)}")
    m = season_length
    seasonal = _seasonal_acf_significant(y, m) and y.mean() > 0
    indices = _seasonal_indices(y, m) if seasonal else np.ones(1)
    z = y / _cycle(indices, len(y), 0)
    alpha, level0, sigma2 = _fit_ses(z)
    slope = float(np.polyfit(np.arange(len(z)), z, 1)[0])
    return {
        "family": "theta",
        "alpha": alpha,
        "level0": level0,
        "drift": slope / 2.0,
        "sigma2": sigma2,
        "seasonal_indices": indices.tolist() if seasonal else None,
        "time_origin": dates[0].date().isoformat(),
    }


def _cycle(indices: np.ndarray, length: int, start: int) -> np.ndarray:
    return indices[(start + np.arange(length)) % len(indices)]


def _forecast_theta(
    spec: dict, y: np.ndarray, dates: pd.DatetimeIndex, horizon: int, levels: Sequence[int]
) -> PointForecast:
    indices = np.asarray(spec["seasonal_indices"] or [1.0])
    origin = week_number(pd.DatetimeIndex([pd.Timestamp(spec["time_origin"])]))[0]
    offset = round(week_number(dates[:1])[0] - origin)
    z = y / _cycle(indices, len(y), offset)
    alpha, n = spec["alpha"], len(z)
    level = _ses_levels(z, alpha, spec["level0"])[-1]
    h = np.arange(1, horizon + 1)
    mean = level + spec["drift"] * (h - 1 + (1 - (1 - alpha) ** n) / alpha)
    se = np.sqrt(spec["sigma2"] * (1 + (h - 1) * alpha**2))
    out = _normal_bounds(mean, se, levels)
    season = _cycle(indices, horizon, offset + len(y))
    return PointForecast(
        out.mean * season,
        {lv: b * season for lv, b in out.lower.items()},
        {lv: b * season for lv, b in out.upper.items()},
    )


# --- dispatch -------------------------------------------------------------------------------

Fitter = Callable[[np.ndarray, pd.DatetimeIndex, int, dict | None], dict]

FITTERS: dict[str, Fitter] = {
    "snaive": fit_snaive,
    "sarima": fit_sarima,
    "dhr": fit_dhr,
    "theta": fit_theta,
}
FAMILIES = (*FITTERS, "combo")


def combine(members: dict[str, dict]) -> dict:
    return {"family": "combo", "members": members}


def forecast_spec(
    spec: dict,
    y: np.ndarray,
    dates: pd.DatetimeIndex,
    horizon: int,
    levels: Sequence[int],
) -> PointForecast:
    """Forecast `horizon` weeks after `dates[-1]` from a fitted spec and the history `y`.

    Means and bounds are clipped at zero and ordered: lo_95 <= lo_80 <= mean <= hi_80 <= hi_95.
    """
    future = weekly_dates(dates[-1], horizon + 1)[1:]
    family = spec["family"]
    if family == "snaive":
        out = _forecast_snaive(spec, y, horizon, levels)
    elif family in ("sarima", "dhr"):
        out = _forecast_arima(spec, y, dates, future, levels)
    elif family == "theta":
        out = _forecast_theta(spec, y, dates, horizon, levels)
    elif family == "combo":
        parts = [forecast_spec(s, y, dates, horizon, levels) for s in spec["members"].values()]
        out = PointForecast(
            np.mean([p.mean for p in parts], axis=0),
            {lv: np.mean([p.lower[lv] for p in parts], axis=0) for lv in levels},
            {lv: np.mean([p.upper[lv] for p in parts], axis=0) for lv in levels},
        )
    else:
        raise ForecastError(f"unknown model family {family!r}")
    ceiling = PLAUSIBLE_GROWTH * max(float(np.max(y, initial=0.0)), 1.0)
    if np.any(out.mean > ceiling):
        raise ForecastError(f"{family} forecast exceeds {PLAUSIBLE_GROWTH}x the history's peak")
    return _clip_and_order(out, levels)


def _clip_and_order(out: PointForecast, levels: Sequence[int]) -> PointForecast:
    mean = np.maximum(np.nan_to_num(out.mean, nan=0.0), 0.0)
    lower, upper = {}, {}
    inner_lo, inner_hi = mean, mean
    for lv in sorted(levels):
        inner_lo = np.minimum(np.maximum(out.lower[lv], 0.0), inner_lo)
        inner_hi = np.maximum(out.upper[lv], inner_hi)
        lower[lv], upper[lv] = inner_lo, inner_hi
    if not (np.all(np.isfinite(mean)) and all(np.all(np.isfinite(b)) for b in upper.values())):
        raise ForecastError("forecast is not finite")
    return PointForecast(mean, lower, upper)
