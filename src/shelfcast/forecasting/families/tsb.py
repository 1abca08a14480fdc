"""TSB (Teunter, Syntetos and Babai): a smoothed probability of a sale times a smoothed sale
size; unlike Croston it decays towards zero when a title stops selling."""

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

NAME = "tsb"
ALPHAS = (0.1, 0.1)  # sale size, probability of a sale


@dataclass(frozen=True)
class TsbSpec(Spec):
    family: ClassVar[str] = NAME

    alpha_d: float
    alpha_p: float
    sigma2: float


class Tsb(Family[TsbSpec]):
    name = NAME
    spec_type = TsbSpec
    modes = ("intermittent",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: TsbSpec | None = None
    ) -> TsbSpec:
        y = history.values
        if len(y) < 2:
            raise ForecastError(f"TSB needs at least 2 weeks, got {len(y)}")
        rate = intermittent.tsb(y, *ALPHAS)
        return TsbSpec(*ALPHAS, intermittent.spread(y, rate))

    def forecast(
        self, spec: TsbSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        rate = intermittent.tsb(history.values, spec.alpha_d, spec.alpha_p)
        return intermittent.flat(rate, spec.sigma2, horizon, levels)

    def forecast_panel(
        self, specs: Sequence[TsbSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        alpha_d = np.array([s.alpha_d for s in specs])
        alpha_p = np.array([s.alpha_p for s in specs])
        yes = np.ones(len(specs), dtype=bool)
        rate = intermittent.panel_rates(panel.values, panel.valid, alpha_d, alpha_p, yes)
        return intermittent.flat_panel(rate, np.array([s.sigma2 for s in specs]), horizon, levels)


FAMILY = Tsb()
