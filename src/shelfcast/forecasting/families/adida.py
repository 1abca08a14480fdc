"""ADIDA: sales summed into buckets as long as the mean interval between sales, smoothed, and
spread back over the weeks (temporal aggregation removes most zeros)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import intermittent
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast

NAME = "adida"


@dataclass(frozen=True)
class AdidaSpec(Spec):
    family: ClassVar[str] = NAME

    bucket: int  # weeks per bucket
    alpha: float
    sigma2: float


class Adida(Family[AdidaSpec]):
    name = NAME
    spec_type = AdidaSpec
    modes = ("intermittent",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: AdidaSpec | None = None
    ) -> AdidaSpec:
        y = history.values
        if not (y > 0).any() or len(y) < 2:
            raise ForecastError("ADIDA needs at least 2 weeks with a sale among them")
        bucket = intermittent.mean_interval_level(y)
        alpha = intermittent.best_alpha(intermittent.bucket_sums(y, bucket))
        rate = intermittent.aggregated(y, bucket, alpha)
        return AdidaSpec(bucket, alpha, intermittent.spread(y, rate))

    def forecast(
        self, spec: AdidaSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        rate = intermittent.aggregated(history.values, spec.bucket, spec.alpha)
        return intermittent.flat(rate, spec.sigma2, horizon, levels)


FAMILY = Adida()
