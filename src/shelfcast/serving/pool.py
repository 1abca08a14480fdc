"""The models a server holds: one release's bundles, found by model name or ISBN.

The titles are `Titles`: every bundle of a per-title release held in memory (`KeptTitles`),
or a catalogue release's table, whose bundles are built on first use
(`serving.catalogue.CatalogueTitles`). Bundles are immutable, so a forecast without actual
weeks is computed once per (model, ISBN, horizon, levels, quantiles) and kept as its JSON
bytes in a bounded LRU cache; with actual weeks the bundle is updated (re-filtered with the
same parameters, no refit) for that request only.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from shelfcast.catalog.isbn import normalize_isbn
from shelfcast.errors import ShelfcastError
from shelfcast.forecasting.bundle import MAX_HORIZON, Bundle

if TYPE_CHECKING:
    from shelfcast.releases import Release

CACHE_SIZE = 8192
QUANTILE_DIGITS = 5  # as their columns name them: p12.345 for 0.12345
DECIMALS = 3  # unit sales: a thousandth of a copy is plenty, and it keeps responses small

CacheKey = tuple[str, str, int, tuple[int, ...], tuple[float, ...]]


class InstanceProblem(ShelfcastError):
    """An instance that cannot be answered; `field` is relative to the instance."""

    def __init__(self, field: str, reason: str):
        super().__init__(reason)
        self.field = field
        self.reason = reason


class UnknownTitle(InstanceProblem):
    """No model of the release has this name or ISBN."""


@dataclass(frozen=True)
class ServedModel:
    """A title's bundle and the registry facts a prediction reports."""

    name: str
    version: str
    isbn: str
    family: str
    bundle: Bundle


@runtime_checkable
class Titles(Protocol):
    """The titles a pool serves: how many, and each one's model by model name or ISBN."""

    def __len__(self) -> int: ...

    def find(self, name_or_isbn: str) -> ServedModel | None: ...


class KeptTitles:
    """Every title's model, held in memory (a per-title release)."""

    def __init__(self, models: Iterable[ServedModel]):
        self.models = {m.name: m for m in models}
        self._by_isbn = {m.isbn: m for m in self.models.values()}

    def __len__(self) -> int:
        return len(self.models)

    def find(self, name_or_isbn: str) -> ServedModel | None:
        return self.models.get(name_or_isbn) or self._by_isbn.get(normalize_isbn(name_or_isbn))


class ModelPool:
    """Every title of a release, ready to forecast. Safe to use from several threads."""

    def __init__(
        self,
        models: Iterable[ServedModel] | Titles,
        release_id: str | None = None,
        cache_size: int = CACHE_SIZE,
    ):
        self.release_id = release_id
        self.titles = models if isinstance(models, Titles) else KeptTitles(models)
        self._cache: OrderedDict[CacheKey, bytes] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    @classmethod
    def from_bundles(
        cls,
        bundles: Mapping[str, Bundle],
        versions: Mapping[str, str] | None = None,
        release_id: str | None = None,
    ) -> ModelPool:
        """A pool from `{model name: bundle}`; versions default to "1"."""
        versions = versions or {}
        return cls(
            (
                ServedModel(
                    name=name,
                    version=str(versions.get(name, "1")),
                    isbn=bundle.key,
                    family=bundle.family,
                    bundle=bundle,
                )
                for name, bundle in bundles.items()
            ),
            release_id=release_id,
        )

    @classmethod
    def from_release(cls, release: Release, bundles: Mapping[str, Bundle]) -> ModelPool:
        """A pool from a release's manifest and its loaded (checksum-verified) bundles."""
        return cls(
            (
                ServedModel(
                    name=m.name,
                    version=m.version,
                    isbn=m.isbn,
                    family=m.model_family,
                    bundle=bundles[m.name],
                )
                for m in release.models
            ),
            release_id=release.release_id,
        )

    def __len__(self) -> int:
        return len(self.titles)

    def get(self, name_or_isbn: str, field: str = "isbn") -> ServedModel:
        """The model named `name_or_isbn`, or whose ISBN it is (hyphens allowed)."""
        model = self.titles.find(name_or_isbn)
        if model is None:
            where = f" in release {self.release_id}" if self.release_id else ""
            raise UnknownTitle(field, f"no model for {field} {name_or_isbn!r}{where}")
        return model

    def is_cached(
        self,
        model: ServedModel,
        horizon: int,
        levels: Sequence[int],
        quantiles: Sequence[float] = (),
    ) -> bool:
        """Whether a forecast without actuals would be answered from the cache."""
        key = (model.name, model.isbn, horizon, level_key(levels), quantile_key(quantiles))
        return key in self._cache

    def prediction_json(
        self,
        model: ServedModel,
        horizon: int,
        levels: Sequence[int],
        quantiles: Sequence[float] = (),
        actuals: Sequence[tuple[date, float]] = (),
    ) -> bytes:
        """One instance's prediction object as JSON bytes: each week's mean, bounds per level
        and quantiles (`p10` for 0.1).

        Raises `InstanceProblem` for actual weeks that do not fit the title's series, and
        `ForecastError` when the model cannot forecast from them.
        """
        levels, quantiles = level_key(levels), quantile_key(quantiles)
        if actuals:
            check_actuals(model.bundle, actuals)
            updated = model.bundle.updated(actuals)
            return _prediction_json(model, updated, horizon, levels, quantiles)
        key = (model.name, model.isbn, horizon, levels, quantiles)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                return cached
        out = _prediction_json(model, model.bundle, horizon, levels, quantiles)
        with self._lock:
            self._cache[key] = out
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out


def level_key(levels: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(levels)))


def quantile_key(quantiles: Iterable[float]) -> tuple[float, ...]:
    """Quantiles sorted, once each, to the precision of their columns (0.1 and 0.1000001 are
    both 0.1, `p10`)."""
    return tuple(sorted({round(float(q), QUANTILE_DIGITS) for q in quantiles}))


def check_actuals(bundle: Bundle, actuals: Sequence[tuple[date, float]]) -> None:
    """Actual weeks must be week endings of the title's series (the same weekday), from its
    first week to at most MAX_HORIZON weeks after its last, each given once."""
    history = bundle.history
    start, end = history.start.date(), history.end.date()
    seen: set[date] = set()
    for j, (week, _volume) in enumerate(actuals):
        field = f"actuals[{j}].week_ending"
        offset = (week - start).days
        if offset % 7:
            raise InstanceProblem(
                field,
                f"{week} is a {week:%A}: this title's weeks end on a {end:%A} "
                f"(its last known week ends {end})",
            )
        if offset < 0:
            raise InstanceProblem(field, f"{week} is before this title's history ({start})")
        if (week - end).days > 7 * MAX_HORIZON:
            raise InstanceProblem(
                field,
                f"{week} is more than {MAX_HORIZON} weeks after this title's last week ({end})",
            )
        if week in seen:
            raise InstanceProblem(field, f"{week} is given more than once")
        seen.add(week)


def _prediction_json(
    model: ServedModel,
    bundle: Bundle,
    horizon: int,
    levels: tuple[int, ...],
    quantiles: tuple[float, ...],
) -> bytes:
    frame = bundle.forecast(horizon, levels, quantiles=quantiles)
    dates = pd.DatetimeIndex(frame["week_ending"]).strftime("%Y-%m-%d").tolist()
    columns = [c for c in frame.columns if c != "week_ending"]
    # + 0.0 turns -0.0 into 0.0
    values = [(np.round(frame[c].to_numpy(), DECIMALS) + 0.0).tolist() for c in columns]
    weeks = [
        {"week_ending": day, **dict(zip(columns, row, strict=True))}
        for day, row in zip(dates, zip(*values, strict=True), strict=True)
    ]
    prediction = {
        "isbn": model.isbn,
        "model_name": model.name,
        "model_version": model.version,
        "model_family": model.family,
        "weeks": weeks,
    }
    return json.dumps(prediction, separators=(",", ":"), allow_nan=False).encode()
