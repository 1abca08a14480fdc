"""TSB (Teunter, Syntetos and Babai): a smoothed probability of a sale times a smoothed sale
size; unlike Croston it decays towards zero when a title stops selling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import intermittent
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast

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


FAMILY = Tsb()
