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

import numpy as np

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
from shelfcast.forecasting.intervals import PointForecast, finished

NAME = "ensemble"
METHODS = ("mean", "median")


def combine(parts: Sequence[PointForecast], method: str, levels: Sequence[int]) -> PointForecast:
    """The mean or median of finished forecasts, bound by bound."""
    how = np.median if method == "median" else _mean
    return PointForecast(
        how([p.mean for p in parts], axis=0),
        {lv: how([p.lower[lv] for p in parts], axis=0) for lv in levels},
        {lv: how([p.upper[lv] for p in parts], axis=0) for lv in levels},
    )


def _mean(arrays: Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
    """`np.mean(arrays, axis=0)`, the same sums and division, without its wrapper's cost."""
    return np.add.reduce(arrays, axis=axis) / len(arrays)


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
        parts = [
            finished(
                family_named(m.family).forecast(m, history, horizon, levels),
                history.values,
                levels,
                m.family,
            )
            for m in spec.members
        ]
        return combine(parts, spec.method, levels)

    def update(self, spec: EnsembleSpec, history: TitleSeries) -> EnsembleSpec:
        members = tuple(family_named(m.family).update(m, history) for m in spec.members)
        return EnsembleSpec(spec.method, members)


FAMILY = Ensemble()
