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
from functools import lru_cache
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np
import orjson

from shelfcast.catalog.isbn import normalize_isbn
from shelfcast.errors import ForecastError, ShelfcastError
from shelfcast.forecasting.batch import Forecasts, forecast_arrays
from shelfcast.forecasting.bundle import ActualWeekError, Bundle, checked_weeks

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
        if actuals:
            check_actuals(model.bundle, actuals)
        (result,) = self.predictions_json([(model, actuals)], horizon, levels, quantiles)
        if isinstance(result, ForecastError):
            raise result
        return result

    def predictions_json(
        self,
        requests: Sequence[tuple[ServedModel, Sequence[tuple[date, float]]]],
        horizon: int,
        levels: Sequence[int],
        quantiles: Sequence[float] = (),
    ) -> list[bytes | ForecastError]:
        """The prediction objects of many titles (each with its checked actual weeks, or
        none) with the same horizon, levels and quantiles: the cached ones from the cache,
        the others forecast together as arrays (`forecasting.batch`; the actual weeks update
        each model with its parameters unchanged). A title may appear once among those with
        actual weeks. In the place of a title that cannot be forecast, its `ForecastError`
        (the others are answered all the same)."""
        levels, quantiles = level_key(levels), quantile_key(quantiles)
        out: list[bytes | ForecastError | None] = [None] * len(requests)
        todo: list[int] = []
        with self._lock:
            for i, (model, actuals) in enumerate(requests):
                key = (model.name, model.isbn, horizon, levels, quantiles)
                cached = None if actuals else self._cache.get(key)
                if cached is None:
                    todo.append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = cached
        if todo:
            bundles = [requests[i][0].bundle for i in todo]
            given = {requests[i][0].bundle.key: requests[i][1] for i in todo if requests[i][1]}
            failed: dict[str, str] = {}
            forecasts = forecast_arrays(bundles, horizon, levels, quantiles, given or None, failed)
            rows = {key: row for row, key in enumerate(forecasts.keys)}
            with self._lock:
                for i in todo:
                    model, actuals = requests[i]
                    if model.bundle.key in failed:
                        out[i] = ForecastError(failed[model.bundle.key])
                        continue
                    out[i] = _prediction_json(model, forecasts, rows[model.bundle.key])
                    if not actuals:
                        self._cache[(model.name, model.isbn, horizon, levels, quantiles)] = out[i]
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return [o for o in out if o is not None]


def level_key(levels: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(levels)))


def quantile_key(quantiles: Iterable[float]) -> tuple[float, ...]:
    """Quantiles sorted, once each, to the precision of their columns (0.1 and 0.1000001 are
    both 0.1, `p10`)."""
    return tuple(sorted({round(float(q), QUANTILE_DIGITS) for q in quantiles}))


def check_actuals(bundle: Bundle, actuals: Sequence[tuple[date, float]]) -> None:
    """Actual weeks must fit the title's series (`bundle.checked_weeks`): InstanceProblem
    naming the first that does not, as `actuals[j].week_ending` or `actuals[j].volume`."""
    try:
        checked_weeks(bundle.history, actuals)
    except ActualWeekError as exc:
        raise InstanceProblem(f"actuals[{exc.index}].{exc.field}", exc.reason) from None


def _prediction_json(model: ServedModel, forecasts: Forecasts, row: int) -> bytes:
    """Title `row` of `forecasts` as its prediction object: compact JSON, each week through
    one format string, the numbers written by orjson (a float's shortest repr, as `json.dumps`
    writes it) all at once."""
    dates = forecasts.week_endings[row].astype("datetime64[D]").astype("S10").tolist()
    values = np.array([column[row] for column in forecasts.columns.values()])
    if not np.isfinite(values).all():
        raise ValueError("Out of range float values are not JSON compliant")
    rounded = np.round(values, DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    # `[[a,b],[c,d]]` -> [[a, b], [c, d]]: each number's text as orjson wrote it
    written = orjson.dumps(rounded, option=orjson.OPT_SERIALIZE_NUMPY)
    texts = [column.split(b",") for column in written[2:-2].split(b"],[")]
    week = _week_format(tuple(forecasts.columns))
    weeks = b",".join([week % w for w in zip(dates, *texts, strict=True)])
    head = _head_json(model.isbn, model.name, model.version, model.family)
    return head + weeks + b"]}"


@lru_cache(maxsize=256)
def _week_format(columns: tuple[str, ...]) -> bytes:
    """The format of one week's object: its date, then a value per column of `columns`."""
    names = [json.dumps(c).replace("%", "%%") for c in columns]
    return ('{"week_ending":"%s",' + ",".join(f"{name}:%s" for name in names) + "}").encode()


@lru_cache(maxsize=CACHE_SIZE)
def _head_json(isbn: str, name: str, version: str, family: str) -> bytes:
    """The start of a model's prediction objects, up to its weeks."""
    head = {"isbn": isbn, "model_name": name, "model_version": version, "model_family": family}
    return (json.dumps(head, separators=(",", ":"))[:-1] + ',"weeks":[').encode()
