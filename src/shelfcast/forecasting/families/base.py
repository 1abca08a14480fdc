"""The model-family protocol, and the base of every family's fitted-model spec.

A family fits a title's weekly history into a `Spec`: a frozen dataclass of plain fields
(orders, coefficients, noise variance; JSON-ready through `to_dict` and `from_dict`) that is
all a forecast needs besides the history. Forecasting and updating must import nothing but
numpy, pandas and scipy: bundles forecast on a server without any fitting library.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, ClassVar, Protocol, Self, TypeVar

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.intervals import PointForecast, stacked
from shelfcast.forecasting.panel import Panel

SPEC_VERSION = "spec_version"  # the key of a spec's layout version in its dict


class SpecError(ForecastError):
    """A spec dict is malformed, of an unknown family, or newer than this code reads."""


@dataclass(frozen=True)
class Spec:
    """A fitted model: its family, the version of its layout, and its fields.

    Subclasses are frozen dataclasses whose fields are ints, floats, strings, tuples of these
    and None, so that `to_dict` / `from_dict` round-trip them through JSON exactly. A family
    that changes its spec's fields increments `version` and overrides `upgrade` to read older
    layouts. Specs written before layouts were versioned (bundle format 1) are version 1.
    """

    family: ClassVar[str]
    version: ClassVar[int] = 1

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"family": self.family, SPEC_VERSION: self.version}
        for f in dataclasses.fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        if data.get("family") != cls.family:
            raise SpecError(f"a {data.get('family')!r} spec is not a {cls.family!r} spec")
        version = data.get(SPEC_VERSION, 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise SpecError(f"{cls.family} spec: {SPEC_VERSION} must be a positive integer")
        if version > cls.version:
            raise SpecError(
                f"{cls.family} spec version {version} is newer than this Shelfcast reads "
                f"(up to {cls.version})"
            )
        values = {k: v for k, v in data.items() if k not in ("family", SPEC_VERSION)}
        if version < cls.version:
            values = cls.upgrade(values, version)
        return cls.from_fields(values)

    @classmethod
    def upgrade(cls, values: dict[str, Any], version: int) -> dict[str, Any]:
        """The fields of a spec of an older `version`, in the current layout."""
        raise SpecError(f"{cls.family} spec version {version} can no longer be read")

    @classmethod
    def from_fields(cls, values: Mapping[str, Any]) -> Self:
        """The spec from its fields' JSON values, each checked against its declared type."""
        types_ = _field_types(cls)
        unknown = sorted(set(values) - set(types_))
        missing = sorted(name for name in types_ if name not in values)
        if unknown or missing:
            raise SpecError(f"{cls.family} spec: unknown fields {unknown}, missing {missing}")
        return cls(**{k: _typed(values[k], t, f"{cls.family}.{k}") for k, t in types_.items()})

    def params(self) -> dict[str, Any]:
        """The model's structure (family, orders, options; not its coefficients) as plain
        values, for run parameters in tracking."""
        return {"family": self.family}


S = TypeVar("S", bound=Spec)


@dataclass(frozen=True)
class FitContext:
    """What a family's `fit` may use besides the title's history."""

    season_length: int
    # Specs of the families named in `requires`, fitted on the same history (those that
    # could be): a combination takes its members' fits instead of fitting them again.
    fitted: Mapping[str, Spec] = field(default_factory=dict)
    # What pooled families trained across all titles (`Family.train_pool`), by family name,
    # on weeks that end no later than this history: never on weeks after it.
    pool: Mapping[str, Any] = field(default_factory=dict)


class Family(Protocol[S]):
    """A model family. Implementations subclass this (for `requires` and `update`)."""

    name: str  # the family's name in specs, bundles and candidate lists
    spec_type: type[S]
    requires: tuple[str, ...] = ()  # families whose fits `fit` finds in `context.fitted`
    pooled: bool = False  # trained across titles: `train_pool` runs before any `fit`
    # The layout of what `train_pool` returns: a stored pool of another layout is not reused.
    pool_version: int = 1
    # The backtest modes it is a candidate in: "seasonal" (titles with two seasons or more,
    # fitted with the season length), "non-seasonal" (shorter ones, season length 1) and
    # "intermittent" (titles that sell in fewer than most weeks, in either of the others).
    modes: tuple[str, ...] = ("seasonal", "non-seasonal")
    # Fewer titles of the family in one many-title forecast take their per-title forecasts,
    # stacked: for few rows the array code's loops over weeks cost more than the per-title code.
    panel_min_rows: int = 3
    # Its forecasts come out checked, clipped and ordered (a combination of its members' finished
    # forecasts, `intervals.finished_combination`): `families.forecast` does not do it again.
    returns_finished: bool = False

    def fit(self, history: TitleSeries, context: FitContext, like: S | None = None) -> S:
        """Fit on `history`. With `like` (this family's fit at an earlier origin), keep its
        structure (orders, harmonics) and re-estimate only the parameters. Raises
        ForecastError (or ValueError, ArithmeticError) when it cannot fit."""
        ...

    def forecast(
        self, spec: S, history: TitleSeries, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """Mean and bounds per level for the `horizon` weeks after `history`, on the scale of
        sales. Unchecked: `families.forecast` clips, orders and checks it. numpy, pandas and
        scipy only."""
        ...

    def forecast_panel(
        self, specs: Sequence[S], panel: Panel, horizon: int, levels: Sequence[int]
    ) -> PointForecast:
        """`forecast` of many titles at once: `specs[i]` on `panel`'s history i, as titles x
        weeks arrays. A family with a vectorised path overrides this; by default each title's
        `forecast`, stacked."""
        return stacked(
            [
                self.forecast(spec, history, horizon, levels)
                for spec, history in zip(specs, panel.histories, strict=True)
            ]
        )

    def train_pool(self, histories: Sequence[TitleSeries], season_length: int) -> Any:
        """For a pooled family: one model trained across every title's `histories` (each cut
        at the same origin), which `fit` finds in `context.pool[name]`. Training only."""
        raise NotImplementedError(f"{self.name} is not a pooled family")

    def update(self, spec: S, history: TitleSeries) -> S:
        """The spec for a longer `history` (newer weeks appended), parameters unchanged. A
        family whose forecasts re-filter the whole history keeps no state: the same spec."""
        return spec


_TABLE: dict[str, Family[Any]] = {}  # filled by the families package: `register`


def register(families: Sequence[Family[Any]]) -> dict[str, Family[Any]]:
    """Make `families` known to `family_named`, by name; returns the table of every family
    registered (the package's `FAMILIES` is this table)."""
    _TABLE.update({f.name: f for f in families})
    return _TABLE


def family_named(name: object) -> Family[Any]:
    """The registered family named `name`; SpecError naming the known ones when there is none."""
    if not isinstance(name, str) or name not in _TABLE:
        raise SpecError(f"unknown model family {name!r} (known: {', '.join(_TABLE)})")
    return _TABLE[name]


def spec_from_dict(data: object) -> Spec:
    """A spec from its JSON dict, whichever family and layout version it has."""
    if not isinstance(data, Mapping):
        raise SpecError(f"a model spec is a JSON object, got {data!r}")
    return family_named(data.get("family")).spec_type.from_dict(data)


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


@cache
def _field_types(cls: type[Spec]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


# Long tuples (shared by many specs) whose elements were checked, by id and element type.
CHECKED_MIN, CHECKED_SIZE = 64, 256
_CHECKED: dict[tuple[int, type], tuple[Any, ...]] = {}


def _typed(value: Any, hint: Any, where: str) -> Any:
    """A JSON value as the field type `hint`: int, float, str, bool, tuples and optionals."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (types.UnionType, typing.Union):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _typed(value, inner, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise SpecError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            if _CHECKED.get((id(value), args[0])) is value:
                return value  # a shared array already checked (a catalogue's pooled forest)
            if args[0] in (float, int, str) and all(type(v) is args[0] for v in value):
                if type(value) is tuple and len(value) >= CHECKED_MIN:
                    if len(_CHECKED) >= CHECKED_SIZE:
                        _CHECKED.clear()
                    _CHECKED[(id(value), args[0])] = value  # held, so its id stays its own
                return tuple(value)  # the common case, kept quick for long coefficient lists
            return tuple(_typed(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise SpecError(f"{where}: expected {len(args)} values, got {value!r}")
        return tuple(
            _typed(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True))
        )
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint in (int, str, bool) and type(value) is hint:
        return value
    raise SpecError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}")
