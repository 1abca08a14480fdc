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

NAME = "snaive"


@dataclass(frozen=True)
class SnaiveSpec(Spec):
    family: ClassVar[str] = NAME

    season_length: int  # 1 (naive) when the history is not longer than a season
    sigma2: float  # mean squared seasonal difference

    def params(self) -> dict[str, Any]:
        return {**super().params(), "season_length": self.season_length}


class SeasonalNaive(Family[SnaiveSpec]):
    name = NAME
    spec_type = SnaiveSpec

    def fit(
        self, history: TitleSeries, context: FitContext, like: SnaiveSpec | None = None
    ) -> SnaiveSpec:
        y = history.values
        m = context.season_length if len(y) > context.season_length else 1
        if len(y) <= m:
            raise ForecastError(f"seasonal naive needs more than {m} weeks, got {len(y)}")
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


FAMILY = SeasonalNaive()
