"""An ensemble: the mean or median of a title's best candidates by backtest.

Which candidates, and how many, is decided per title by the backtest (`forecasting.ensembles`);
the spec keeps the members' own specs, best first, and the rule that combines them. Intervals
average the members' bounds (quantile averaging); calibration replaces them where a bundle has
one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Self

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families.base import (
    SPEC_VERSION,
    Family,
    FitContext,
    Spec,
    SpecError,
    family_named,
    spec_from_dict,
)
from shelfcast.forecasting.intervals import PointForecast, finished_combination

NAME = "ensemble"
METHODS = ("mean", "median")


@dataclass(frozen=True)
class EnsembleSpec(Spec):
    """`method` over `members` (specs of other families, best first)."""

    family: ClassVar[str] = NAME

    method: str
    members: tuple[Spec, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            SPEC_VERSION: self.version,
            "method": self.method,
            "members": [m.to_dict() for m in self.members],
        }

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        method, members = values.get("method"), values.get("members")
        if set(values) != {"method", "members"} or method not in METHODS:
            raise SpecError(
                f"ensemble spec: expected a method in {METHODS} and members, got {values}"
            )
        if not isinstance(members, list) or len(members) < 2:
            raise SpecError("ensemble spec: members must be a list of two or more specs")
        specs = tuple(spec_from_dict(m) for m in members)
        if any(s.family == NAME for s in specs):
            raise SpecError("ensemble spec: an ensemble cannot be a member of another")
        return cls(method, specs)

    def params(self) -> dict[str, Any]:
        out = {**super().params(), "method": self.method}
        out["members"] = ",".join(m.family for m in self.members)
        return out


class Ensemble(Family[EnsembleSpec]):
    name = NAME
    spec_type = EnsembleSpec
    returns_finished = True
    modes = ()  # never fitted as a candidate: `forecasting.ensembles` builds it

    def fit(
        self, history: TitleSeries, context: FitContext, like: EnsembleSpec | None = None
    ) -> EnsembleSpec:
        """An ensemble is not fitted by itself: `forecasting.ensembles` builds it from the
        members the backtest ranked best."""
        raise ForecastError("an ensemble is built from ranked candidates, not fitted")

    def forecast(
        self, spec: EnsembleSpec, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        parts = (
            (m.family, family_named(m.family).forecast(m, history, horizon, levels))
            for m in spec.members
        )
        return finished_combination(parts, history.values, levels, spec.method)

    def update(self, spec: EnsembleSpec, history: TitleSeries) -> EnsembleSpec:
        members = tuple(family_named(m.family).update(m, history) for m in spec.members)
        return EnsembleSpec(spec.method, members)


FAMILY = Ensemble()
