"""The intermittent-demand combination: the mean of ADIDA's and IMAPA's flat weekly rates, the
model of intermittent and lumpy titles (assigned by segment, `forecasting.fit`), with the
dispersion of the title's last `DISPERSION_WEEKS` weeks for the negative binomial its count
calibration draws quantiles from (`calibration.CountCalibration`).

The mean of a few intermittent-demand forecasts is a strong baseline for slow sellers, and it
selects nothing: choosing one method per title on a few backtest origins picks noise where
sales are rare. At rolling origins before the evaluated weeks the two temporal-aggregation
methods' mean had a lower squared error than the mean of TSB, ADIDA and IMAPA on both
intermittent and lumpy titles (spec version 1 combined the three, its bounds averaged)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import counts
from shelfcast.forecasting.families import adida, imapa, tsb
from shelfcast.forecasting.families.base import Family, FitContext, SpecError
from shelfcast.forecasting.families.combo import Combination, ComboSpec
from shelfcast.forecasting.intervals import PointForecast, clip_and_order, normal_bounds

NAME = "intermittent_combo"
# Every family a spec may hold (TSB: version 1's); the ones fitted: `MEMBERS`.
MEMBER_FAMILIES: Mapping[str, Family[Any]] = {
    f.name: f for f in (tsb.FAMILY, adida.FAMILY, imapa.FAMILY)
}
MEMBERS = (adida.NAME, imapa.NAME)
DISPERSION_WEEKS = 52  # the weeks the dispersion is measured on


@dataclass(frozen=True)
class IntermittentComboSpec(ComboSpec):
    """The members' specs, and the dispersion of the weeks (`counts.dispersion`): the model's
    variance is `mean + dispersion * mean^2`. None in specs of version 1, whose bounds are the
    members' averaged."""

    family: ClassVar[str] = NAME
    version: ClassVar[int] = 2
    member_families: ClassVar[Mapping[str, Family[Any]]] = MEMBER_FAMILIES

    dispersion: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "dispersion": self.dispersion}

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        if "dispersion" not in values:
            raise SpecError(f"{cls.family} spec: missing dispersion")
        value = values["dispersion"]
        if value is not None and (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
            or value < 0
        ):
            raise SpecError(f"{cls.family}.dispersion: expected a number >= 0, got {value!r}")
        combo = super().from_fields({k: v for k, v in values.items() if k != "dispersion"})
        return replace(combo, dispersion=None if value is None else float(value))

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        return {**values, "dispersion": None}  # version 1: no dispersion


class IntermittentCombination(Combination):
    name = NAME
    spec_type = IntermittentComboSpec
    modes = ("intermittent",)
    requires = MEMBERS

    def fit(
        self, history: TitleSeries, context: FitContext, like: ComboSpec | None = None
    ) -> IntermittentComboSpec:
        combo = super().fit(history, context, like)
        weeks = history.values[-DISPERSION_WEEKS:]
        return replace(combo, dispersion=counts.dispersion(weeks))  # type: ignore[return-value]

    def forecast(
        self, spec: ComboSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """The members' mean rate, with normal bounds of the negative binomial's standard
        deviation, clipped at zero (version 1: the members' bounds averaged)."""
        out = super().forecast(spec, history, horizon, levels)
        dispersion = getattr(spec, "dispersion", None)
        if dispersion is None:
            return out
        sd = np.sqrt(out.mean + dispersion * out.mean**2)
        return clip_and_order(normal_bounds(out.mean, sd, levels), levels)


FAMILY = IntermittentCombination()
