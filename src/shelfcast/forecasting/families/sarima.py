"""Seasonal ARIMA at period 52 on log1p volumes, orders by AICc over a small grid of CSS fits.

Differencing comes from unit-root tests (the seasonal difference always, `d` by KPSS), then the
orders of `GRID` are compared by AICc: the approximation step of Hyndman-Khandakar.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import arima, arima_errors, css
from shelfcast.forecasting.families.base import Family, FitContext, Spec, SpecError
from shelfcast.forecasting.intervals import PointForecast, to_model_scale
from shelfcast.forecasting.panel import Panel

NAME = "sarima"
TRANSFORM = "log1p"

# (p, _, q), (P, _, Q): the differencing orders come from the unit-root tests.
GRID: tuple[tuple[css.Order, css.Order], ...] = (
    ((0, 0, 1), (0, 0, 1)),
    ((1, 0, 1), (0, 0, 1)),
    ((2, 0, 0), (0, 0, 1)),
    ((1, 0, 0), (1, 0, 0)),
)


@dataclass(frozen=True)
class SarimaSpec(Spec):
    """(p,d,q)(P,D,Q)m with a constant, on the `transform` scale; R's sign conventions."""

    family: ClassVar[str] = NAME
    version: ClassVar[int] = 2  # 1: bundle format 1's layout, with "fourier": null

    order: tuple[int, int, int]
    seasonal_order: tuple[int, int, int]
    season_length: int
    ar: tuple[float, ...]
    ma: tuple[float, ...]
    sar: tuple[float, ...]
    sma: tuple[float, ...]
    intercept: float
    drift: float  # per week, from the week before time_origin
    time_origin: str  # ISO date of the first week fitted on
    sigma2: float
    transform: str

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        if version == 1:
            values = dict(values)
            if values.pop("fourier", None) is not None:
                raise SpecError("sarima spec version 1: Fourier terms are not part of SARIMA")
            return values
        return super().upgrade(values, version)

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "order": list(self.order),
            "seasonal_order": list(self.seasonal_order),
            "season_length": self.season_length,
            "transform": self.transform,
        }

    def arima_params(self) -> arima.ArimaParams:
        return arima.ArimaParams(
            ar=self.ar,
            ma=self.ma,
            sar=self.sar,
            sma=self.sma,
            d=self.order[1],
            D=self.seasonal_order[1],
            m=self.season_length,
            sigma2=self.sigma2,
        )

    def regression(self, weeks: np.ndarray) -> np.ndarray:
        return arima_errors.trend(weeks, self.intercept, self.drift, self.time_origin)


class Sarima(Family[SarimaSpec]):
    name = NAME
    spec_type = SarimaSpec
    modes = ("seasonal",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: SarimaSpec | None = None
    ) -> SarimaSpec:
        """With `like`, its orders are kept and only the parameters re-estimated."""
        y, m = history.values, context.season_length
        if len(y) < 2 * m + 26:
            raise ForecastError(f"SARIMA at period {m} needs {2 * m + 26} weeks, got {len(y)}")
        x = to_model_scale(y, TRANSFORM)
        if like is None:
            d, D = css.differences(x, m, seasonal=True)
            orders = [((p, d, q), (P, D, Q)) for (p, _, q), (P, _, Q) in GRID]
        else:
            orders = [(like.order, like.seasonal_order)]
        fit = css.best_arima(x, orders, m)
        return SarimaSpec(
            order=fit.order,
            seasonal_order=fit.seasonal_order,
            season_length=m,
            ar=fit.coefs("ar", fit.order[0]),
            ma=fit.coefs("ma", fit.order[2]),
            sar=fit.coefs("sar", fit.seasonal_order[0]),
            sma=fit.coefs("sma", fit.seasonal_order[2]),
            intercept=fit.intercept,
            drift=fit.drift,
            time_origin=history.start.date().isoformat(),
            sigma2=fit.sigma2,
            transform=TRANSFORM,
        )

    def forecast(
        self, spec: SarimaSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return arima_errors.forecast(spec, history, horizon, levels)

    def forecast_panel(
        self, specs: Sequence[SarimaSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return arima_errors.forecast_panel(specs, panel, horizon, levels, _trends)


def _trends(specs: Sequence[SarimaSpec], days: np.ndarray) -> np.ndarray:
    """Each spec's regression over its row of `days` (days since 1970)."""
    return arima_errors.trend_panel(
        days,
        np.array([s.intercept for s in specs]),
        np.array([s.drift for s in specs]),
        [s.time_origin for s in specs],
    )


FAMILY = Sarima()
