"""A forecast combination: the mean of its members' forecasts (forecast combinations beat
selection in M4), intervals by averaging the members' bounds (quantile averaging).

`combo` combines SARIMA, DHR and Theta for seasonal titles; a subclass of `ComboSpec` and
`Combination` with other `member_families` is another combination
(`intermittent_combo`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, ClassVar, Self

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families import dhr, sarima, theta
from shelfcast.forecasting.families.base import SPEC_VERSION, Family, FitContext, Spec, SpecError
from shelfcast.forecasting.intervals import PointForecast, finished_combination

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
    member_families: ClassVar[Mapping[str, Family[Any]]] = MEMBER_FAMILIES

    members: tuple[Spec, ...]

    def to_dict(self) -> dict[str, Any]:
        members = {m.family: m.to_dict() for m in self.members}
        return {"family": self.family, SPEC_VERSION: self.version, "members": members}

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        members, known = values.get("members"), cls.member_families
        if set(values) != {"members"} or not isinstance(members, Mapping):
            raise SpecError(
                f"{cls.family} spec: expected only members by family, got {sorted(values)}"
            )
        unknown = sorted(set(members) - set(known))
        if unknown:
            raise SpecError(f"{cls.family} spec: members {unknown} are not among {list(known)}")
        if any(not isinstance(s, Mapping) or s.get("family") != n for n, s in members.items()):
            raise SpecError(
                f"{cls.family} spec: members {list(members)} hold other families' specs"
            )
        return cls(tuple(known[name].spec_type.from_dict(s) for name, s in members.items()))

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
    returns_finished = True

    def fit(
        self, history: TitleSeries, context: FitContext, like: ComboSpec | None = None
    ) -> ComboSpec:
        """The members fitted on this history (`context.fitted`); fits nothing itself."""
        members = tuple(context.fitted[n] for n in self.requires if n in context.fitted)
        if len(members) < MIN_MEMBERS:
            raise ForecastError("fewer than two members could be fitted")
        return self.spec_type(members)

    def forecast(
        self, spec: ComboSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        parts = (
            (m.family, spec.member_families[m.family].forecast(m, history, horizon, levels))
            for m in spec.members
        )
        return finished_combination(parts, history.values, levels)

    def update(self, spec: ComboSpec, history: TitleSeries) -> ComboSpec:
        known = spec.member_families
        return replace(
            spec, members=tuple(known[m.family].update(m, history) for m in spec.members)
        )


FAMILY = Combination()
