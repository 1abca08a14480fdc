"""A forecast combination: the mean of its members' forecasts (forecast combinations beat
selection in M4), intervals by averaging the members' bounds (quantile averaging)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families import dhr, sarima, theta
from shelfcast.forecasting.families.base import SPEC_VERSION, Family, FitContext, Spec, SpecError
from shelfcast.forecasting.intervals import PointForecast, finished

NAME = "combo"
# The families it combines, imported here rather than looked up in the table (which holds
# this family too).
MEMBER_FAMILIES: Mapping[str, Family[Any]] = {
    f.name: f for f in (sarima.FAMILY, dhr.FAMILY, theta.FAMILY)
}
MEMBERS = tuple(MEMBER_FAMILIES)
MIN_MEMBERS = 2


@dataclass(frozen=True)
class ComboSpec(Spec):
    """The members' own specs, each of its own family; at most one spec per family."""

    family: ClassVar[str] = NAME

    members: tuple[Spec, ...]

    def to_dict(self) -> dict[str, Any]:
        members = {m.family: m.to_dict() for m in self.members}
        return {"family": self.family, SPEC_VERSION: self.version, "members": members}

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        members = values.get("members")
        if set(values) != {"members"} or not isinstance(members, Mapping):
            raise SpecError(f"combo spec: expected only members by family, got {sorted(values)}")
        unknown = sorted(set(members) - set(MEMBER_FAMILIES))
        if unknown:
            raise SpecError(f"combo spec: members {unknown} are not among {list(MEMBERS)}")
        if any(not isinstance(s, Mapping) or s.get("family") != n for n, s in members.items()):
            raise SpecError(f"combo spec: members {list(members)} hold other families' specs")
        specs = tuple(MEMBER_FAMILIES[name].spec_type.from_dict(s) for name, s in members.items())
        return cls(specs)

    def params(self) -> dict[str, Any]:
        out = {**super().params(), "members": ",".join(m.family for m in self.members)}
        for member in self.members:
            out.update({f"{member.family}.{k}": v for k, v in member.params().items()})
        return out


class Combination(Family[ComboSpec]):
    name = NAME
    spec_type = ComboSpec
    modes = ("seasonal",)
    requires = MEMBERS

    def fit(
        self, history: TitleSeries, context: FitContext, like: ComboSpec | None = None
    ) -> ComboSpec:
        """The members fitted on this history (`context.fitted`); fits nothing itself."""
        members = tuple(context.fitted[name] for name in MEMBERS if name in context.fitted)
        if len(members) < MIN_MEMBERS:
            raise ForecastError("fewer than two members could be fitted")
        return ComboSpec(members)

    def forecast(
        self, spec: ComboSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        parts = [
            finished(
                MEMBER_FAMILIES[m.family].forecast(m, history, horizon, levels),
                history.values,
                levels,
                m.family,
            )
            for m in spec.members
        ]
        return PointForecast(
            np.mean([p.mean for p in parts], axis=0),
            {lv: np.mean([p.lower[lv] for p in parts], axis=0) for lv in levels},
            {lv: np.mean([p.upper[lv] for p in parts], axis=0) for lv in levels},
        )

    def update(self, spec: ComboSpec, history: TitleSeries) -> ComboSpec:
        return ComboSpec(tuple(MEMBER_FAMILIES[m.family].update(m, history) for m in spec.members))


FAMILY = Combination()
