"""Dynamic harmonic regression: Fourier terms of the solar year with ARIMA errors, on log1p.

The solar year (52.18 weeks) keeps Christmas put in 53-week years. Estimated in two stages:
harmonics by OLS AIC; `d` by a unit-root test on the deseasonalised series; Fourier
coefficients by OLS on the d-times differenced data; then (p, d, q) with a constant on the
residual series, by AICc.
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
from shelfcast.forecasting.fourier import YEAR_WEEKS, fourier_terms, week_number
from shelfcast.forecasting.intervals import PointForecast, to_model_scale
from shelfcast.forecasting.panel import Panel, week_numbers

NAME = "dhr"
TRANSFORM = "log1p"
HARMONICS = (3, 6, 10, 16)  # candidate numbers of harmonics
ORDERS = ((1, 1), (2, 0))  # candidate (p, q) of the errors


@dataclass(frozen=True)
class DhrSpec(Spec):
    """ARIMA(p,d,q) errors around intercept, drift and `harmonics` Fourier pairs."""

    family: ClassVar[str] = NAME
    version: ClassVar[int] = 2  # 1: bundle format 1's layout, shared with sarima

    order: tuple[int, int, int]
    ar: tuple[float, ...]
    ma: tuple[float, ...]
    intercept: float
    drift: float  # per week, from the week before time_origin
    time_origin: str  # ISO date of the first week fitted on
    harmonics: int
    period: float  # weeks
    fourier: tuple[float, ...]  # coefficients of sin k=1..harmonics, then cos k=1..harmonics
    sigma2: float
    transform: str

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        if version != 1:
            return super().upgrade(values, version)
        values = dict(values)
        seasonal = (values.pop("seasonal_order", None), values.pop("sar", None))
        seasonal += (values.pop("sma", None), values.pop("season_length", None))
        if seasonal != ([0, 0, 0], [], [], 1):
            raise SpecError(f"dhr spec version 1: unexpected seasonal ARIMA terms {seasonal}")
        terms = values.pop("fourier", None)
        if not isinstance(terms, dict):
            raise SpecError(f"dhr spec version 1: fourier must be an object, got {terms!r}")
        return {
            **values,
            "harmonics": terms.get("harmonics"),
            "period": terms.get("period"),
            "fourier": terms.get("coef"),
        }

    def params(self) -> dict[str, Any]:
        return {
            **super().params(),
            "order": list(self.order),
            "transform": self.transform,
            "harmonics": self.harmonics,
        }

    def arima_params(self) -> arima.ArimaParams:
        return arima.ArimaParams(ar=self.ar, ma=self.ma, d=self.order[1], sigma2=self.sigma2)

    def regression(self, weeks: np.ndarray) -> np.ndarray:
        reg = arima_errors.trend(weeks, self.intercept, self.drift, self.time_origin)
        terms = fourier_terms(weeks, self.harmonics, self.period)
        reg += terms @ np.asarray(self.fourier)
        return reg


def _least_squares(design: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float]:
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    return coef, float(np.sum((target - design @ coef) ** 2))


class HarmonicRegression(Family[DhrSpec]):
    name = NAME
    spec_type = DhrSpec
    modes = ("seasonal",)
    # per title, its regression is kept (`arima_errors`): 40 µs a title against 100 in arrays,
    # measured up to 256 titles
    panel_min_rows = 512

    def fit(
        self, history: TitleSeries, context: FitContext, like: DhrSpec | None = None
    ) -> DhrSpec:
        """With `like`, its harmonics and orders are kept and only the parameters re-estimated."""
        y = history.values
        if len(y) < context.season_length + 26:
            raise ForecastError(
                f"harmonic regression needs {context.season_length + 26} weeks, got {len(y)}"
            )
        x = to_model_scale(y, TRANSFORM)
        weeks = week_number(history.dates)
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
            d = css.differences(x - seasonal_part, 1, seasonal=False)[0]
            orders = [((p, d, q), (0, 0, 0)) for p, q in ORDERS]
        else:
            best_k, d = like.harmonics, like.order[1]
            terms = fourier_terms(weeks, best_k)
            orders = [(like.order, (0, 0, 0))]
        dx, dterms = (np.diff(x), np.diff(terms, axis=0)) if d else (x, terms)
        beta = _least_squares(np.column_stack([np.ones(len(dx)), dterms]), dx)[0][1:]
        fit = css.best_arima(x - terms @ beta, orders, 1)
        return DhrSpec(
            order=fit.order,
            ar=fit.coefs("ar", fit.order[0]),
            ma=fit.coefs("ma", fit.order[2]),
            intercept=fit.intercept,
            drift=fit.drift,
            time_origin=history.start.date().isoformat(),
            harmonics=best_k,
            period=YEAR_WEEKS,
            fourier=tuple(beta.tolist()),
            sigma2=fit.sigma2,
            transform=TRANSFORM,
        )

    def forecast(
        self, spec: DhrSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return arima_errors.forecast(spec, history, horizon, levels)

    def forecast_panel(
        self, specs: Sequence[DhrSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return arima_errors.forecast_panel(specs, panel, horizon, levels, _regressions)


def _regressions(specs: Sequence[DhrSpec], days: np.ndarray) -> np.ndarray:
    """Each spec's `regression` over its row of `days` (days since 1970)."""
    reg = arima_errors.trend_panel(
        days,
        np.array([s.intercept for s in specs]),
        np.array([s.drift for s in specs]),
        [s.time_origin for s in specs],
    )
    weeks = week_numbers(days)
    by_terms: dict[int, list[int]] = {}
    for i, spec in enumerate(specs):
        by_terms.setdefault(spec.harmonics, []).append(i)
    for harmonics, rows in by_terms.items():
        k = np.arange(1, harmonics + 1)
        period = np.array([specs[i].period for i in rows])[:, None, None]
        angle = 2.0 * np.pi * (weeks[rows][:, :, None] * k) / period
        coef = np.array([specs[i].fourier for i in rows])
        reg[rows] += np.einsum("rwk,rk->rw", np.sin(angle), coef[:, :harmonics])
        reg[rows] += np.einsum("rwk,rk->rw", np.cos(angle), coef[:, harmonics:])
    return reg


FAMILY = HarmonicRegression()
