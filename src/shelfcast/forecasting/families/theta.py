"""The standard Theta method (SES with drift, Hyndman & Billah 2003) on volumes, deseasonalised
by classical multiplicative indices when the lag-52 autocorrelation is significant (as in M4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import seasonal_index
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.forecasting.panel import Panel

NAME = "theta"
MIN_WEEKS = 8


@dataclass(frozen=True)
class ThetaSpec(Spec):
    family: ClassVar[str] = NAME

    alpha: float  # SES smoothing
    level0: float  # SES level before the first week
    drift: float  # half the slope of the linear trend (theta = 2)
    sigma2: float  # mean squared one-step error
    seasonal_indices: tuple[float, ...] | None  # by week of the cycle from time_origin; None: none
    time_origin: str  # ISO date of the first week fitted on

    def params(self) -> dict[str, Any]:
        return {**super().params(), "seasonal": self.seasonal_indices is not None}


def _ses_levels(z: np.ndarray, alpha: float, level0: float) -> np.ndarray:
    """Levels l_0..l_n of simple exponential smoothing."""
    from scipy.signal import lfilter

    body = lfilter([alpha], [1.0, alpha - 1.0], z, zi=[(1 - alpha) * level0])[0]
    return np.r_[level0, body]


def _fit_ses(z: np.ndarray) -> tuple[float, float, float]:
    """SES by least squares: alpha by bounded search, l_0 in closed form for each alpha."""
    from scipy.optimize import minimize_scalar

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


def fit_theta(z: np.ndarray) -> tuple[float, float, float, float]:
    """The standard Theta method on `z`: (alpha, l_0, drift, sigma2)."""
    alpha, level0, sigma2 = _fit_ses(z)
    slope = float(np.polyfit(np.arange(len(z)), z, 1)[0])
    return alpha, level0, slope / 2.0, sigma2


def theta_forecast(
    z: np.ndarray,
    fitted: tuple[float, float, float, float],
    horizon: int,
    levels: Sequence[int],
) -> PointForecast:
    """The Theta forecast of the `horizon` weeks after `z` from a fit's (alpha, l_0, drift,
    sigma2)."""
    alpha, level0, drift, sigma2 = fitted
    n = len(z)
    level = _ses_levels(z, alpha, level0)[-1]
    h = np.arange(1, horizon + 1)
    mean = level + drift * (h - 1 + (1 - (1 - alpha) ** n) / alpha)
    se = np.sqrt(sigma2 * (1 + (h - 1) * alpha**2))
    return normal_bounds(mean, se, levels)


def ses_final_levels(
    z: np.ndarray, valid: np.ndarray, alpha: np.ndarray, level0: np.ndarray
) -> np.ndarray:
    """`_ses_levels(...)[-1]` of each row of `z` over its `valid` weeks, every row at once."""
    level = level0.copy()
    decay = 1.0 - alpha
    for t in range(z.shape[1]):
        level = np.where(valid[:, t], alpha * z[:, t] + decay * level, level)
    return level


def theta_panel(
    specs: Sequence[ThetaFit],
    panel: Panel,
    z: np.ndarray,
    ahead: np.ndarray,
    horizon: int,
    levels: Sequence[int],
) -> PointForecast:
    """`theta_reseasoned` of many titles: each spec on its row of the deseasonalised `z`
    (the panel's layout), times its row of `ahead`."""
    alpha = np.array([s.alpha for s in specs])[:, None]
    drift = np.array([s.drift for s in specs])[:, None]
    sigma2 = np.array([s.sigma2 for s in specs])[:, None]
    level0 = np.array([s.level0 for s in specs])
    level = ses_final_levels(z, panel.valid, alpha[:, 0], level0)[:, None]
    n = panel.lengths[:, None]
    h = np.arange(1, horizon + 1)
    mean = level + drift * (h - 1 + (1 - (1 - alpha) ** n) / alpha)
    se = np.sqrt(sigma2 * (1 + (h - 1) * alpha**2))
    return seasonal_index.reseasoned(normal_bounds(mean, se, levels), ahead)


class ThetaFit(Protocol):
    """What a Theta forecast reads of a spec (`ThetaSpec`, the `profile` family's)."""

    alpha: float
    level0: float
    drift: float
    sigma2: float


def theta_reseasoned(
    spec: ThetaFit, z: np.ndarray, ahead: np.ndarray, horizon: int, levels: Sequence[int]
) -> PointForecast:
    """The forecast of a Theta fit on the deseasonalised `z`, times the seasonal indices of
    the weeks `ahead`."""
    fitted = (spec.alpha, spec.level0, spec.drift, spec.sigma2)
    return seasonal_index.reseasoned(theta_forecast(z, fitted, horizon, levels), ahead)


class Theta(Family[ThetaSpec]):
    name = NAME
    spec_type = ThetaSpec

    def fit(
        self, history: TitleSeries, context: FitContext, like: ThetaSpec | None = None
    ) -> ThetaSpec:
        y, m = history.values, context.season_length
        if len(y) < MIN_WEEKS:
            raise ForecastError(f"Theta needs at least {MIN_WEEKS} weeks, got {len(y)}")
        indices, z = seasonal_index.deseasonalised(y, m, seasonal_index.significant(y, m))
        alpha, level0, drift, sigma2 = fit_theta(z)
        return ThetaSpec(
            alpha=alpha,
            level0=level0,
            drift=drift,
            sigma2=sigma2,
            seasonal_indices=indices,
            time_origin=history.start.date().isoformat(),
        )

    def forecast(
        self, spec: ThetaSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        z, ahead = seasonal_index.adjusted(
            history, spec.seasonal_indices, spec.time_origin, horizon
        )
        return theta_reseasoned(spec, z, ahead, horizon, levels)

    def forecast_panel(
        self, specs: Sequence[ThetaSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        z, ahead = seasonal_index.adjusted_panel(
            panel, [s.seasonal_indices for s in specs], [s.time_origin for s in specs], horizon
        )
        return theta_panel(specs, panel, z, ahead, horizon, levels)


FAMILY = Theta()
