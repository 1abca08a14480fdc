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
from shelfcast.forecasting.panel import Panel

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


def _choose(flag: bool | np.ndarray, when: Any, otherwise: Any) -> Any:
    """`when` where `flag`, else `otherwise` (a title's scalars, or rows of many titles)."""
    return (
        np.where(flag, when, otherwise)
        if isinstance(flag, np.ndarray)
        else (when if flag else otherwise)
    )


def _initial_state(z: np.ndarray, spec: AutoThetaSpec) -> State:
    n = len(z)
    return _start(z[0], z.mean(), np.dot(np.arange(1, n + 1), z), n, spec.model in DYNAMIC, spec)


def _start(
    first: Any, mean: Any, weighted: Any, n: Any, dynamic: Any, spec: AutoThetaSpec | Any
) -> State:
    """The state after the first week: from its value `first`, and for the static models the
    trend line of the whole series from its `mean` and `weighted` sum (sum of k * z_k)."""
    alpha, level0 = spec.alpha, spec.level0
    b_line = 6.0 * (2.0 * weighted / n - (n + 1) * mean) / (n * n - 1)
    a_line = mean - (n + 1) * b_line / 2.0
    mu_line = level0 + (1.0 - 1.0 / spec.theta) * (a_line + b_line)
    a = _choose(dynamic, first, a_line)
    b = _choose(dynamic, 0.0, b_line)
    mu = _choose(dynamic, first, mu_line)
    return alpha * first + (1.0 - alpha) * level0, first, a, b, mu


def _step(state: State, i: Any, spec: Any, dynamic: Any, y: Any | None) -> State:
    """The state after week `i` (counted from 0) with value `y`; None: the forecast mu. For
    one title (`spec` an AutoThetaSpec) or rows of many (its fields as arrays)."""
    level, mean, a, b, _ = state
    alpha = spec.alpha
    decay = 1.0 - alpha
    mu = level + (1.0 - 1.0 / spec.theta) * (a * decay**i + b * (1.0 - decay ** (i + 1)) / alpha)
    y = mu if y is None else y
    new_mean = (i * mean + y) / (i + 1)
    b_dynamic = ((i - 1) * b + 6.0 * (y - mean) / (i + 1)) / (i + 2)
    a = _choose(dynamic, new_mean - b_dynamic * (i + 2) / 2.0, a)
    b = _choose(dynamic, b_dynamic, b)
    return alpha * y + decay * level, new_mean, a, b, mu


def _theta_forecast(z: np.ndarray, spec: AutoThetaSpec, horizon: int) -> np.ndarray:
    """Mean forecasts of the deseasonalised series: the recursion over `z`, then onwards on
    its own forecasts."""
    dynamic = spec.model in DYNAMIC
    state = _initial_state(z, spec)
    for i in range(1, len(z)):
        state = _step(state, i, spec, dynamic, float(z[i]))
    mean = np.empty(horizon)
    for j in range(horizon):
        state = _step(state, len(z) + j, spec, dynamic, None)
        mean[j] = state[4]
    return mean


@dataclass(frozen=True)
class _Rows:
    """The fields `_start` and `_step` read, for many titles (columns of one)."""

    alpha: np.ndarray
    theta: np.ndarray
    level0: np.ndarray


def _theta_forecast_panel(
    z: np.ndarray, panel: Panel, specs: Sequence[AutoThetaSpec], horizon: int
) -> np.ndarray:
    """`_theta_forecast` of every row of `z` (the panel's layout) at once."""
    rows = _Rows(*(np.array([getattr(s, f) for s in specs]) for f in ("alpha", "theta", "level0")))
    dynamic = np.array([s.model in DYNAMIC for s in specs])
    n = panel.lengths
    first = panel.width - n
    week = np.arange(panel.width) - first[:, None]  # each column's week, from each title's first
    valid = panel.valid
    mean = np.where(valid, z, 0.0).sum(axis=1) / n
    weighted = np.where(valid, (week + 1) * z, 0.0).sum(axis=1)
    state = _start(z[np.arange(len(z)), first], mean, weighted, n, dynamic, rows)
    for t in range(1, panel.width):
        moved = _step(state, np.maximum(week[:, t], 1), rows, dynamic, z[:, t])
        after = week[:, t] >= 1  # columns up to a title's first week leave its state as it is
        state = tuple(np.where(after, new, old) for new, old in zip(moved, state, strict=True))
    out = np.empty((len(z), horizon))
    for j in range(horizon):
        state = _step(state, n + j, rows, dynamic, None)
        out[:, j] = state[4]
    return out


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

    def forecast_panel(
        self, specs: Sequence[AutoThetaSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        z, ahead = seasonal_index.adjusted_panel(
            panel, [s.seasonal_indices for s in specs], [s.time_origin for s in specs], horizon
        )
        mean = _theta_forecast_panel(z, panel, specs, horizon)
        h = np.arange(1, horizon + 1)
        alpha = np.array([s.alpha for s in specs])[:, None]
        sigma2 = np.array([s.sigma2 for s in specs])[:, None]
        se = np.sqrt(sigma2 * (1 + (h - 1) * alpha**2))
        return seasonal_index.reseasoned(normal_bounds(mean, se, levels), ahead)


FAMILY = AutoTheta()
