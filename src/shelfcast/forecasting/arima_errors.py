"""Regression with (S)ARIMA errors, forecast from fitted parameters: shared by sarima and dhr.

The model-scale series (log1p volumes) is a regression on the date (intercept, a drift from
the spec's time origin, and whatever else the family adds, such as Fourier terms) plus an
ARIMA process, which `arima.py` filters and forecasts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import arima
from shelfcast.forecasting.fourier import week_of, weekly_numbers
from shelfcast.forecasting.intervals import PointForecast, normal_bounds, to_model_scale
from shelfcast.forecasting.panel import Panel, week_numbers

REGRESSIONS_KEPT = 4096  # (spec, first week, weeks) whose regression is kept


class ArimaErrorsSpec(Protocol):
    """What a spec of regression with ARIMA errors gives its forecast."""

    transform: str  # the model scale: "log1p" or "none"

    def arima_params(self) -> arima.ArimaParams: ...

    def regression(self, weeks: np.ndarray) -> np.ndarray: ...


def trend(weeks: np.ndarray, intercept: float, drift: float, time_origin: str) -> np.ndarray:
    """Intercept plus drift per week at `weeks` (`fourier.week_number`), the drift counted
    from the week before `time_origin` (statsforecast's drift regressor is 1, 2, ... over the
    weeks fitted on)."""
    reg = np.full(len(weeks), intercept)
    if drift:
        reg += drift * (weeks - week_of(time_origin) + 1.0)
    return reg


def forecast(
    spec: ArimaErrorsSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
) -> PointForecast:
    """Filter the history's regression residuals, forecast them, add the regression back."""
    n = len(history)
    reg = _regression(spec, history.start, n + horizon)  # the history's weeks, then the future's
    w = to_model_scale(history.values, spec.transform) - reg[:n]
    mean, se = arima.forecast(w, spec.arima_params(), horizon)
    return normal_bounds(mean + reg[n:], se, levels, spec.transform)


@lru_cache(maxsize=REGRESSIONS_KEPT)
def _regression(spec: ArimaErrorsSpec, start: pd.Timestamp, weeks: int) -> np.ndarray:
    """`spec.regression` of `weeks` weeks from `start` (read-only). Kept: it depends on the
    dates alone, so every forecast of a title from the same weeks reuses it."""
    reg = spec.regression(weekly_numbers(start, weeks))
    reg.setflags(write=False)
    return reg


def trend_panel(
    days: np.ndarray, intercept: np.ndarray, drift: np.ndarray, time_origin: Sequence[str]
) -> np.ndarray:
    """`trend` of many titles at once: row i over its `days` (days since 1970)."""
    origin = np.array([week_of(t) for t in time_origin])
    weeks = week_numbers(days) - origin[:, None] + 1.0
    return np.where(
        drift[:, None] != 0, intercept[:, None] + drift[:, None] * weeks, intercept[:, None]
    )


def forecast_panel(
    specs: Sequence[ArimaErrorsSpec],
    panel: Panel,
    horizon: int,
    levels: Sequence[int],
    regression: Callable[[Sequence[Any], np.ndarray], np.ndarray],
) -> PointForecast:
    """`forecast` of many titles at once; `regression(specs, days)` is the family's regression
    of each title over its row of `days` (days since 1970)."""
    transforms = {spec.transform for spec in specs}
    if len(transforms) > 1:
        raise ValueError(f"one panel forecast takes one model scale, got {sorted(transforms)}")
    (transform,) = transforms
    w = to_model_scale(panel.values, transform) - regression(specs, panel.days)
    mean, se = arima.forecast_panel(
        w, panel.lengths, [spec.arima_params() for spec in specs], horizon
    )
    return normal_bounds(
        mean + regression(specs, panel.future_days(horizon)), se, levels, transform
    )
