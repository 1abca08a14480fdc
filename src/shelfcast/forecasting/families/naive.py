"""Naive: every week as the last one. The baseline of titles too short to be seasonal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.forecasting.panel import Panel

NAME = "naive"


@dataclass(frozen=True)
class NaiveSpec(Spec):
    family: ClassVar[str] = NAME

    sigma2: float  # mean squared one-week difference


class Naive(Family[NaiveSpec]):
    name = NAME
    spec_type = NaiveSpec

    def fit(
        self, history: TitleSeries, context: FitContext, like: NaiveSpec | None = None
    ) -> NaiveSpec:
        y = history.values
        if len(y) < 2:
            raise ForecastError(f"naive needs at least 2 weeks, got {len(y)}")
        return NaiveSpec(sigma2=float(np.mean(np.diff(y) ** 2)))

    def forecast(
        self, spec: NaiveSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        steps = np.arange(1, horizon + 1)
        mean = np.full(horizon, history.values[-1])
        return normal_bounds(mean, np.sqrt(spec.sigma2 * steps), levels)

    def forecast_panel(
        self, specs: Sequence[NaiveSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        steps = np.arange(1, horizon + 1)
        sigma2 = np.array([s.sigma2 for s in specs])[:, None]
        mean = np.repeat(panel.values[:, -1:], horizon, axis=1)
        return normal_bounds(mean, np.sqrt(sigma2 * steps), levels)


FAMILY = Naive()
