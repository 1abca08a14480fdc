"""IMAPA: the mean of ADIDA's rates over every bucket length from one week to the mean
interval between sales, each with its own smoothing constant."""

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

NAME = "imapa"


@dataclass(frozen=True)
class ImapaSpec(Spec):
    family: ClassVar[str] = NAME

    alphas: tuple[float, ...]  # by bucket length 1, 2, ...
    sigma2: float


def _rate(y: np.ndarray, alphas: Sequence[float]) -> float:
    return float(np.mean([intermittent.aggregated(y, k, a) for k, a in enumerate(alphas, 1)]))


class Imapa(Family[ImapaSpec]):
    name = NAME
    spec_type = ImapaSpec
    modes = ("intermittent",)

    def fit(
        self, history: TitleSeries, context: FitContext, like: ImapaSpec | None = None
    ) -> ImapaSpec:
        y = history.values
        if not (y > 0).any() or len(y) < 2:
            raise ForecastError("IMAPA needs at least 2 weeks with a sale among them")
        levels = range(1, intermittent.mean_interval_level(y) + 1)
        alphas = tuple(intermittent.best_alpha(intermittent.bucket_sums(y, k)) for k in levels)
        return ImapaSpec(alphas, intermittent.spread(y, _rate(y, alphas)))

    def forecast(
        self, spec: ImapaSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        return intermittent.flat(_rate(history.values, spec.alphas), spec.sigma2, horizon, levels)


FAMILY = Imapa()
