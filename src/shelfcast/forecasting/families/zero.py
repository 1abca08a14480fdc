"""The forecast of an inactive title (no sale in 52 weeks): zero, with an interval from how
often inactive titles of the same catalogue sold again.

`train_pool` measures, across every history, the titles that had no sale in the 52 weeks
before their last 13 and counts what they sold in those 13: a weekly rate. The forecast is
zero, and its upper bounds are that rate's Poisson quantiles (zero when inactive titles
stayed unsold).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from shelfcast.catalog.segments import INACTIVE_WEEKS
from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.families.base import Family, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast
from shelfcast.forecasting.panel import Panel

NAME = "zero"
AFTER_WEEKS = 13  # weeks after an inactive stretch whose sales give the rate


@dataclass(frozen=True)
class ZeroSpec(Spec):
    family: ClassVar[str] = NAME

    rate: float  # weekly sales of titles after 52 weeks without a sale, pooled
    titles: int  # how many such titles the rate is measured on

    def params(self) -> dict[str, Any]:
        return {**super().params(), "rate": round(self.rate, 6)}


class Zero(Family[ZeroSpec]):
    name = NAME
    spec_type = ZeroSpec
    pooled = True
    modes = ("inactive",)

    def train_pool(self, histories: Sequence[TitleSeries], season_length: int) -> dict[str, Any]:
        span = INACTIVE_WEEKS + AFTER_WEEKS
        after = [
            h.values[-AFTER_WEEKS:]
            for h in histories
            if len(h) >= span and not np.any(h.values[-span:-AFTER_WEEKS] > 0)
        ]
        rate = float(np.mean(after)) if after else 0.0
        return {"rate": rate, "titles": len(after)}

    def fit(
        self, history: TitleSeries, context: FitContext, like: ZeroSpec | None = None
    ) -> ZeroSpec:
        pool: Mapping[str, Any] = context.pool.get(NAME) or {"rate": 0.0, "titles": 0}
        return ZeroSpec(rate=float(pool["rate"]), titles=int(pool["titles"]))

    def forecast(
        self, spec: ZeroSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        from scipy.stats import poisson

        mean = np.zeros(horizon)
        upper = {
            lv: np.full(horizon, float(poisson.ppf(0.5 + lv / 200.0, spec.rate))) for lv in levels
        }
        return PointForecast(mean, {lv: mean.copy() for lv in levels}, upper)

    def forecast_panel(
        self, specs: Sequence[ZeroSpec], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        from scipy.stats import poisson

        rates = np.array([s.rate for s in specs])[:, None]
        mean = np.zeros((len(specs), horizon))
        upper = {
            lv: np.repeat(poisson.ppf(0.5 + lv / 200.0, rates), horizon, axis=1) for lv in levels
        }
        return PointForecast(mean, {lv: mean.copy() for lv in levels}, upper)


FAMILY = Zero()
