"""Exponential smoothing (ETS) chosen by AICc, on volumes deseasonalised by classical indices.

A state-space ETS with a 52-week seasonal state is slow to fit and badly estimated on a few
years of weekly sales, so seasonality is taken out first, as Theta does: when the history has
two seasons and a significant lag-52 autocorrelation, it is divided by classical multiplicative
indices, and forecasts are multiplied back by the indices of the weeks forecast. On the
adjusted series statsforecast's AutoETS picks a non-seasonal model by AICc: error additive or
multiplicative (not multiplicative when the series has a zero or negative week), trend none,
additive or damped (no multiplicative trend). A constant series gets statsforecast's
constant model (ANN, alpha 0.9999, no noise). With `like`, the form and the choice of
seasonality are kept and only the indices, smoothing parameters and initial states are
re-estimated.

The spec holds the parameters and the initial states; the forecast takes the state after the
whole (adjusted) history from them, as the recursion's sums with weights kept per parameters
and length (no loop over weeks), so `update` keeps the spec. Error type does not change
the recursion or the point forecast, only the variance: the class-1 formula for additive error,
the exact class-2 recursion for multiplicative error (Hyndman et al. 2008, ch. 6), both
from c_j = alpha + beta (phi + ... + phi^j), normal bounds on the adjusted scale, then times the
indices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import seasonal_index
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.forecasting.panel import Panel

NAME = "ets"
# statsforecast refuses "tiny" series of at most 4 weeks more than the model's parameter count
# (5 for a damped trend): fewer than 10 weeks cannot fit every form.
MIN_WEEKS = 10
STATES_KEPT = 4096  # (parameters, length) whose state weights are kept: a title's forecasts


@dataclass(frozen=True)
class EtsSpec(Spec):
    family: ClassVar[str] = NAME

    error: str  # "A" additive or "M" multiplicative
    trend: str  # "N" none or "A" additive
    damped: bool  # damped trend (only with trend "A")
    alpha: float  # level smoothing
    beta: float  # trend smoothing; 0 without trend
    phi: float  # trend damping; 1 unless damped
    level0: float  # level before the first week
    trend0: float  # trend before the first week; 0 without trend
    sigma2: float  # one-step error variance (relative errors for multiplicative error)
    seasonal_indices: tuple[float, ...] | None  # by week of the cycle from time_origin; None: none
    time_origin: str  # ISO date of the first week fitted on

    @property
    def model(self) -> str:
        """The ETS form as error, trend (d when damped), season: "ANN", "MAdN"."""
        return f"{self.error}{self.trend}{'d' if self.damped else ''}N"

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "model": self.model,
            "seasonal": self.seasonal_indices is not None,
        }


def _final_state(z: np.ndarray, spec: EtsSpec) -> tuple[float, float]:
    """Level and trend after the last week: the ETS recursion from the initial states (the
    same for additive and multiplicative error), as its sums (`_state_weights`)."""
    power, weights = _state_weights(spec.alpha, spec.beta, spec.phi, len(z))
    state = power @ (spec.level0, spec.trend0) + weights @ z
    return float(state[0]), float(state[1])


@lru_cache(maxsize=STATES_KEPT)
def _state_weights(alpha: float, beta: float, phi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The recursion's state (level, trend) after week t is A (state before) + B z_t, with
    expected = level + phi trend and error = z_t - expected: level <- expected + alpha error,
    trend <- phi trend + beta error. So after n weeks it is A^n (level0, trend0) + sum over t
    of A^(n-1-t) B z_t. Returns A^n and those weights (2 x n); the powers are built by
    doubling. Kept per parameters and length: a title's forecasts share them."""
    a = np.array([[1.0 - alpha, phi * (1.0 - alpha)], [-beta, phi * (1.0 - beta)]])
    powers, step = np.eye(2)[None], a  # A^0, then A^k for k < 2, 4, 8, ...
    while len(powers) <= n:
        powers = np.concatenate([powers, powers @ step])
        step = step @ step
    weights = (powers[n - 1 :: -1] @ np.array([alpha, beta])).T if n else np.zeros((2, 0))
    power = powers[n]
    for kept in (power, weights):
        kept.setflags(write=False)
    return power, weights


def _variance(spec: EtsSpec, mean: np.ndarray) -> np.ndarray:
    """Forecast variance for each step ahead on the adjusted scale."""
    h = len(mean)
    c2 = (spec.alpha + spec.beta * np.cumsum(spec.phi ** np.arange(1, h + 1))) ** 2
    if spec.error == "A":
        return spec.sigma2 * (1.0 + np.concatenate([[0.0], np.cumsum(c2)[:-1]]))
    from scipy.signal import lfilter

    # theta_k = mean_k^2 + sigma2 * sum_{j<k} c2_j theta_{k-1-j}: an all-pole filter of mean^2
    theta = lfilter([1.0], np.concatenate([[1.0], -spec.sigma2 * c2[: h - 1]]), mean**2)
    return (1.0 + spec.sigma2) * theta - mean**2


def _fit_ets(z: np.ndarray, like: EtsSpec | None) -> dict[str, Any]:
    """statsforecast's ETS model dict: AutoETS over non-seasonal forms, or `like`'s form."""
    from statsforecast.models import AutoETS

    if like is None:
        model = AutoETS(season_length=1, model="ZZN", damped=None)
    else:
        model = AutoETS(season_length=1, model=f"{like.error}{like.trend}N", damped=like.damped)
    return model.fit(z).model_


class Ets(Family[EtsSpec]):
    name = NAME
    spec_type = EtsSpec
    panel_min_rows = 32  # arrays cost what per-title forecasts do at about 30 titles

    def fit(
        self, history: TitleSeries, context: FitContext, like: EtsSpec | None = None
    ) -> EtsSpec:
        y, m = history.values, context.season_length
        if len(y) < MIN_WEEKS:
            raise ForecastError(f"ETS needs at least {MIN_WEEKS} weeks, got {len(y)}")
        if like is None:
            seasonal = seasonal_index.significant(y, m, min_seasons=2)
        else:
            seasonal = like.seasonal_indices is not None
        indices, z = seasonal_index.deseasonalised(y, m, seasonal)
        fitted = _fit_ets(z, like)
        error, trend, _, damped = fitted["components"]
        alpha, beta, _, phi, *states = (float(v) for v in fitted["par"])
        has_trend = trend != "N"
        return EtsSpec(
            error=error,
            trend=trend,
            damped=damped == "D",
            alpha=alpha,
            beta=beta if has_trend else 0.0,
            phi=phi if damped == "D" else 1.0,
            level0=states[0],
            trend0=states[1] if has_trend else 0.0,
            sigma2=float(fitted["sigma2"]),
            seasonal_indices=indices,
            time_origin=history.start.date().isoformat(),
        )

    def forecast(
        self, spec: EtsSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        z, ahead = seasonal_index.adjusted(
            history, spec.seasonal_indices, spec.time_origin, horizon
        )
        level, trend = _final_state(z, spec)
        mean = level + trend * np.cumsum(spec.phi ** np.arange(1, horizon + 1))
        out = normal_bounds(mean, np.sqrt(_variance(spec, mean)), levels)
        return seasonal_index.reseasoned(out, ahead)

    def forecast_panel(
        self, specs: Sequence[EtsSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """`forecast` of many titles: the recursion over every row at once."""
        z, ahead = seasonal_index.adjusted_panel(
            panel, [s.seasonal_indices for s in specs], [s.time_origin for s in specs], horizon
        )
        alpha, beta, phi, sigma2 = (
            np.array([getattr(s, name) for s in specs])
            for name in ("alpha", "beta", "phi", "sigma2")
        )
        level = np.array([s.level0 for s in specs])
        trend = np.array([s.trend0 for s in specs])
        for t in range(panel.width):
            valid = panel.valid[:, t]
            expected = level + phi * trend
            error = z[:, t] - expected
            level = np.where(valid, expected + alpha * error, level)
            trend = np.where(valid, phi * trend + beta * error, trend)
        h = np.arange(1, horizon + 1)
        powers = phi[:, None] ** h
        mean = level[:, None] + trend[:, None] * np.cumsum(powers, axis=1)
        c2 = (alpha[:, None] + beta[:, None] * np.cumsum(powers, axis=1)) ** 2
        before = np.concatenate([np.zeros((len(specs), 1)), np.cumsum(c2, axis=1)[:, :-1]], axis=1)
        additive = sigma2[:, None] * (1.0 + before)
        theta = np.empty_like(mean)
        for k in range(horizon):
            lagged = np.sum(c2[:, :k] * theta[:, :k][:, ::-1], axis=1)
            theta[:, k] = mean[:, k] ** 2 + sigma2 * lagged
        multiplicative = (1.0 + sigma2[:, None]) * theta - mean**2
        error_type = np.array([s.error for s in specs])[:, None]
        variance = np.where(error_type == "A", additive, multiplicative)
        out = normal_bounds(mean, np.sqrt(variance), levels)
        return seasonal_index.reseasoned(out, ahead)


FAMILY = Ets()
