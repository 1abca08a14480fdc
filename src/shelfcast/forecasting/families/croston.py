"""Croston's method with the Syntetos-Boylan correction (SBA): for titles that sell in some
weeks and not others, a smoothed sale size over a smoothed interval between sales, times 0.95."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import intermittent
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast
from shelfcast.forecasting.panel import Panel

NAME = "croston"
ALPHA = 0.1  # statsforecast's CrostonSBA
SBA = 0.95  # the Syntetos-Boylan bias correction


@dataclass(frozen=True)
class CrostonSpec(Spec):
    family: ClassVar[str] = NAME

    sigma2: float  # variance of the weeks around the fitted rate


class Croston(Family[CrostonSpec]):
    name = NAME
    spec_type = CrostonSpec
    modes = ("intermittent",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: CrostonSpec | None = None
    ) -> CrostonSpec:
        y = history.values
        if len(y) < 2:
            raise ForecastError(f"Croston needs at least 2 weeks, got {len(y)}")
        return CrostonSpec(intermittent.spread(y, SBA * intermittent.croston(y, ALPHA)))

    def forecast(
        self, spec: CrostonSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        rate = SBA * intermittent.croston(history.values, ALPHA)
        return intermittent.flat(rate, spec.sigma2, horizon, levels)

    def forecast_panel(
        self, specs: Sequence[CrostonSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        alpha = np.full(len(specs), ALPHA)
        no = np.zeros(len(specs), dtype=bool)
        rate = SBA * intermittent.panel_rates(panel.values, panel.valid, alpha, alpha, no)
        return intermittent.flat_panel(rate, np.array([s.sigma2 for s in specs]), horizon, levels)


FAMILY = Croston()
