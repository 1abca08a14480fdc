"""The intermittent-demand combination: the mean of TSB's, ADIDA's and IMAPA's flat weekly
rates, the model of intermittent and lumpy titles (assigned by segment, `forecasting.fit`).

The mean of a few intermittent-demand forecasts is a strong baseline for slow sellers, and it
selects nothing: choosing one method per title on a few backtest origins picks noise where
sales are rare."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from shelfcast.forecasting.families import adida, imapa, tsb
from shelfcast.forecasting.families.base import Family
from shelfcast.forecasting.families.combo import Combination, ComboSpec

NAME = "intermittent_combo"
MEMBER_FAMILIES: Mapping[str, Family[Any]] = {
    f.name: f for f in (tsb.FAMILY, adida.FAMILY, imapa.FAMILY)
}


@dataclass(frozen=True)
class IntermittentComboSpec(ComboSpec):
    family: ClassVar[str] = NAME
    member_families: ClassVar[Mapping[str, Family[Any]]] = MEMBER_FAMILIES


class IntermittentCombination(Combination):
    name = NAME
    spec_type = IntermittentComboSpec
    modes = ("intermittent",)
    requires = tuple(MEMBER_FAMILIES)


FAMILY = IntermittentCombination()
