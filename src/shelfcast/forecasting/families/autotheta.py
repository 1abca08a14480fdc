"""AutoTheta (Fiorucci et al. 2016, as statsforecast implements it): the standard (STM),
optimised (OTM), dynamic standard (DSTM) or dynamic optimised (DOTM) Theta model, whichever
has the least in-sample error, on volumes deseasonalised by classical multiplicative indices
when the lag-52 autocorrelation is significant on at least two seasons.

statsforecast fits; the forecast re-runs the chosen model's state recursion in numpy."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import seasonal_index
from shelfcast.forecasting.families.base import Family, FitContext, Spec, SpecError
from shelfcast.forecasting.intervals import PointForecast, normal_bounds

NAME = "autotheta"
MODELS = ("STM", "OTM", "DSTM", "DOTM")  # in statsforecast's order: ties go to the earlier
DYNAMIC = ("DSTM", "DOTM")  # the trend line is re-estimated every week
BURN_IN = 3  # first one-step errors left out of the fit criterion and the error variance
MIN_WEEKS = 8
MIN_SEASONS = 2

# State of the recursion: level, mean of the values so far, intercept A and slope B of the
# trend line, and the one-step forecast mu.
State = tuple[float, float, float, float, float]


@dataclass(frozen=True)
class AutoThetaSpec(Spec):
    family: ClassVar[str] = NAME

    model: str  # one of MODELS
    alpha: float  # smoothing of the level
    theta: float  # weight of the trend line: 2 for the standard models
    level0: float  # level before the first week
    sigma2: float  # mean squared one-step error after the burn-in
    seasonal_indices: tuple[float, ...] | None  # by week of the cycle from time_origin; None: none
    time_origin: str  # ISO date of the first week fitted on

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise SpecError(f"autotheta spec: model {self.model!r} is not one of {MODELS}")

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "model": self.model,
            "seasonal": self.seasonal_indices is not None,
        }


def _initial_state(z: np.ndarray, spec: AutoThetaSpec) -> State:
    alpha, level0 = spec.alpha, spec.level0
    if spec.model in DYNAMIC:
        a, b, mu = z[0], 0.0, z[0]
    else:  # the trend line of the whole series, by least squares
        n = len(z)
        b = 6.0 * (2.0 * np.dot(np.arange(1, n + 1), z) / n - (n + 1) * z.mean()) / (n * n - 1)
        a = z.mean() - (n + 1) * b / 2.0
        mu = level0 + (1.0 - 1.0 / spec.theta) * (a + b)
    return alpha * z[0] + (1.0 - alpha) * level0, z[0], a, b, mu


def _step(state: State, i: int, spec: AutoThetaSpec, y: float | None) -> State:
    """The state after week `i` (counted from 0) with value `y`; None: the forecast mu."""
    level, mean, a, b, _ = state
    alpha = spec.alpha
    decay = 1.0 - alpha
    mu = level + (1.0 - 1.0 / spec.theta) * (a * decay**i + b * (1.0 - decay ** (i + 1)) / alpha)
    y = mu if y is None else y
    new_mean = (i * mean + y) / (i + 1)
    if spec.model in DYNAMIC:
        b = ((i - 1) * b + 6.0 * (y - mean) / (i + 1)) / (i + 2)
        a = new_mean - b * (i + 2) / 2.0
    return alpha * y + decay * level, new_mean, a, b, mu


def _theta_forecast(z: np.ndarray, spec: AutoThetaSpec, horizon: int) -> np.ndarray:
    """Mean forecasts of the deseasonalised series: the recursion over `z`, then onwards on
    its own forecasts."""
    state = _initial_state(z, spec)
    for i in range(1, len(z)):
        state = _step(state, i, spec, float(z[i]))
    mean = np.empty(horizon)
    for j in range(horizon):
        state = _step(state, len(z) + j, spec, None)
        mean[j] = state[4]
    return mean


def _fit_theta(z: np.ndarray, models: Sequence[str]) -> dict[str, Any]:
    """statsforecast's fit of each of `models`; the one of least in-sample error, as
    AutoTheta chooses."""
    from statsforecast.theta import thetamodel

    fits = [thetamodel(z, 1, m, np.nan, np.nan, np.nan, nmse=3) for m in models]
    fits = [f for f in fits if np.isfinite(f["mse"])]
    if not fits:
        raise ForecastError(f"no Theta model ({', '.join(models)}) could be fitted")
    return min(fits, key=lambda f: f["mse"])


class AutoTheta(Family[AutoThetaSpec]):
    name = NAME
    spec_type = AutoThetaSpec

    def fit(
        self, history: TitleSeries, context: FitContext, like: AutoThetaSpec | None = None
    ) -> AutoThetaSpec:
        """With `like`, its model type and seasonal flag are kept and the rest re-estimated."""
        y, m = history.values, context.season_length
        if len(y) < MIN_WEEKS:
            raise ForecastError(f"AutoTheta needs at least {MIN_WEEKS} weeks, got {len(y)}")
        if like is None:
            seasonal = seasonal_index.significant(y, m, min_seasons=MIN_SEASONS)
        else:
            seasonal = like.seasonal_indices is not None
        indices, z = seasonal_index.deseasonalised(y, m, seasonal)
        fit = _fit_theta(z, MODELS if like is None else (like.model,))
        par = fit["par"]
        return AutoThetaSpec(
            model=fit["modeltype"],
            alpha=float(par["alpha"]),
            theta=float(par["theta"]),
            level0=float(par["initial_smoothed"]),
            sigma2=float(np.mean(fit["residuals"][BURN_IN:] ** 2)),
            seasonal_indices=indices,
            time_origin=history.start.date().isoformat(),
        )

    def forecast(
        self, spec: AutoThetaSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        z, ahead = seasonal_index.adjusted(
            history, spec.seasonal_indices, spec.time_origin, horizon
        )
        mean = _theta_forecast(z, spec, horizon)
        h = np.arange(1, horizon + 1)
        se = np.sqrt(spec.sigma2 * (1 + (h - 1) * spec.alpha**2))
        return seasonal_index.reseasoned(normal_bounds(mean, se, levels), ahead)


FAMILY = AutoTheta()
