"""Seasonal naive: each week as the same week a season earlier. The baseline of every title."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.forecasting.panel import Panel

NAME = "snaive"


@dataclass(frozen=True)
class SnaiveSpec(Spec):
    family: ClassVar[str] = NAME

    season_length: int  # 1 only in bundles written before `naive` was a family of its own
    sigma2: float  # mean squared seasonal difference

    def params(self) -> dict[str, Any]:
        return {**super().params(), "season_length": self.season_length}


class SeasonalNaive(Family[SnaiveSpec]):
    name = NAME
    spec_type = SnaiveSpec
    modes = ("seasonal",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: SnaiveSpec | None = None
    ) -> SnaiveSpec:
        y, m = history.values, context.season_length
        if m < 2 or len(y) <= m:
            raise ForecastError(
                f"seasonal naive needs a season of 2 or more weeks and more weeks than that; "
                f"got a season of {m} and {len(y)} weeks"
            )
        errors = y[m:] - y[:-m]
        return SnaiveSpec(season_length=m, sigma2=float(np.mean(errors**2)))

    def forecast(
        self, spec: SnaiveSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        y, m = history.values, spec.season_length
        steps = np.arange(horizon)
        mean = y[len(y) - m + steps % m]
        se = np.sqrt(spec.sigma2 * (steps // m + 1))
        return normal_bounds(mean, se, levels)

    def forecast_panel(
        self, specs: Sequence[SnaiveSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        m = np.array([s.season_length for s in specs])[:, None]
        sigma2 = np.array([s.sigma2 for s in specs])[:, None]
        steps = np.arange(horizon)
        rows = np.arange(len(specs))[:, None]
        mean = panel.values[rows, panel.width - m + steps % m]
        return normal_bounds(mean, np.sqrt(sigma2 * (steps // m + 1)), levels)


FAMILY = SeasonalNaive()
