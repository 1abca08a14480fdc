"""What the training pipeline's steps hand each other, and how it is written as plain files.

Two types carry the pipeline's own data between steps: `SeriesSet` (the weekly series of a
catalogue) and `TrainingResult` (every title's fit, and the titles that failed). Both are
written as parquet and JSON (no pickle), so that an artifact can be read without Shelfcast, by
a newer Shelfcast, or by another Python version. The ZenML materializers
(`shelfcast.training.materializers`) only move these files in and out of the artifact store;
the functions here know nothing of ZenML and are tested on their own.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shelfcast.catalog.reader import SalesData
from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ShelfcastError
from shelfcast.settings import Settings, load_settings

if TYPE_CHECKING:  # the forecasting core (scipy, statsforecast) loads only when it is used:
    # a run served from ZenML's cache never needs it
    from shelfcast.forecasting.fit import FitConfig
    from shelfcast.forecasting.intervals import PointForecast

FORMAT_VERSION = 1
# training.json: 2 keeps each bundle as its bundle.json contents (`forecasting.bundle`) and
# specs as their families write them; 1 (before model families) is no longer read.
TRAINING_FORMAT_VERSION = 2
SALES_FILE = "sales.parquet"
SALES_FORMAT_FILE = "sales.json"
SERIES_FILE = "series.parquet"
SERIES_FORMAT_FILE = "series.json"
TRAINING_FILE = "training.json"
BACKTEST_FILE = "backtest.parquet"
FORECASTS_FILE = "forecasts.parquet"
BUNDLES_FILE = "bundles.parquet"
# Settings that do not change what is registered: left out of the register step's cache key.
NOT_REGISTRY_SETTINGS = (("data", "paths"), ("training", "workers"), ("training", "dask_scheduler"))


class ArtifactFormatError(ShelfcastError):
    """A pipeline artifact is missing a file or has an unsupported format."""


# ------------------------------------------------------------------------------- sales


@dataclass
class SalesTable:
    """Validated sales rows (`catalog.reader.SalesData.frame`), their kind and frequency."""

    frame: pd.DataFrame
    kind: str  # "bookscan" or "long"
    freq: str = "W-SAT"

    @property
    def key_column(self) -> str:
        return "isbn" if self.kind == "bookscan" else "unique_id"

    def sales_data(self) -> SalesData:
        frame = self.frame
        frame.attrs["freq"] = self.freq
        return SalesData(frame=frame, kind=self.kind)  # type: ignore[arg-type]


def sales_to_files(sales: SalesTable) -> dict[str, bytes]:
    frame = sales.frame.copy(deep=False)
    frame.attrs = {}
    about = {"format_version": FORMAT_VERSION, "kind": sales.kind, "freq": sales.freq}
    return {SALES_FILE: _parquet(frame), SALES_FORMAT_FILE: json.dumps(about).encode()}


def sales_from_files(files: Mapping[str, bytes]) -> SalesTable:
    about = _read_json(files, SALES_FORMAT_FILE, "sales artifact")
    frame = _read_parquet(files, SALES_FILE)
    frame.attrs["freq"] = about["freq"]
    return SalesTable(frame=frame, kind=about["kind"], freq=about["freq"])


# ------------------------------------------------------------------------------ series


@dataclass(frozen=True)
class SeriesSet:
    """The weekly series of a catalogue, in a fixed order (sorted by key, or as requested),
    and the kind of sales data they came from ("bookscan" or "long")."""

    series: tuple[TitleSeries, ...]
    kind: str = "bookscan"

    def __post_init__(self) -> None:
        object.__setattr__(self, "series", tuple(self.series))

    def __iter__(self) -> Iterator[TitleSeries]:
        return iter(self.series)

    def __len__(self) -> int:
        return len(self.series)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.series]

    def pick(self, keys: Sequence[str]) -> list[TitleSeries]:
        """The series of `keys`, in that order; an unknown key is an error naming it."""
        by_key = {s.key: s for s in self.series}
        missing = [k for k in keys if k not in by_key]
        if missing:
            raise ShelfcastError(f"no weekly series for {len(missing)} title(s): {missing[:5]}")
        return [by_key[k] for k in keys]


def series_to_files(series: SeriesSet) -> dict[str, bytes]:
    """One parquet file, a row per series: key, start, freq, names, meta and the weekly values
    (one list column built from the arrays end to end, not a Python float per week)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = [np.asarray(s.values, dtype=np.float64) for s in series]
    offsets = np.zeros(len(arrays) + 1, dtype=np.int64)
    np.cumsum([len(a) for a in arrays], out=offsets[1:])
    flat = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.float64)
    large = offsets[-1] > np.iinfo(np.int32).max
    lists, offset_type = (pa.LargeListArray, pa.int64()) if large else (pa.ListArray, pa.int32())
    table = pa.table(
        {
            "key": [s.key for s in series],
            "start": pa.array(pd.to_datetime([s.start for s in series]), pa.timestamp("ns")),
            "freq": [s.freq for s in series],
            "title": pa.array([s.title for s in series], pa.string()),
            "author": pa.array([s.author for s in series], pa.string()),
            "source": pa.array([s.source for s in series], pa.string()),
            "meta": [json.dumps(s.meta, sort_keys=True) for s in series],
            "values": lists.from_arrays(pa.array(offsets, offset_type), pa.array(flat)),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    about = {"format_version": FORMAT_VERSION, "kind": series.kind}
    return {SERIES_FILE: buffer.getvalue(), SERIES_FORMAT_FILE: json.dumps(about).encode()}


def series_from_files(files: Mapping[str, bytes]) -> SeriesSet:
    about = _read_json(files, SERIES_FORMAT_FILE, "series artifact")
    frame = _read_parquet(files, SERIES_FILE)
    return SeriesSet(
        tuple(
            TitleSeries(
                key=str(row.key),
                start=pd.Timestamp(row.start),
                values=np.asarray(row.values, dtype=np.float64),
                freq=str(row.freq),
                title=_text(row.title),
                author=_text(row.author),
                source=_text(row.source),
                meta=json.loads(row.meta),
            )
            for row in frame.itertuples(index=False)
        ),
        kind=about["kind"],
    )


def series_hash(series: SeriesSet) -> str:
    """sha256 of the series' keys, names, dates and values: equal data, equal hash.

    The same sales saved in another format or under another name give the same series, and
    so the same hash: the steps after the series are then cached.
    """
    digest = hashlib.sha256(series.kind.encode())
    for s in series:
        head = [s.key, s.start.isoformat(), s.freq, s.title, s.author, s.source, s.meta]
        digest.update(json.dumps(head, sort_keys=True, default=str).encode())
        digest.update(np.ascontiguousarray(s.values, dtype="<f8").tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------------------- settings


def registry_settings(settings: Settings) -> dict[str, Any]:
    """The settings the register step is keyed by: all but where data and workers come from."""
    values = settings.as_dict()
    for section, name in NOT_REGISTRY_SETTINGS:
        values[section].pop(name, None)
    return values


def settings_from_dict(values: dict[str, Any] | None) -> Settings:
    """Settings back from `registry_settings` (validated: paths and tuples restored); None:
    load them."""
    if values is None:
        return load_settings()
    return Settings(**values)


# ---------------------------------------------------------------------------- training


@dataclass
class TrainingResult:
    """Every title's fit (input order), the titles that failed with why, and how it ran."""

    fits: list[Any]  # of TitleFit; typed loosely so that ZenML can check it unloaded
    errors: dict[str, str] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the FitConfig, as JSON
    executor: str = ""  # where the titles were fitted, e.g. "process pool (2 workers)"
    seconds: float = 0.0  # wall time of fitting every title
    # The pools the titles were fitted against (`pool_state.to_rows`), when kept for the
    # catalogue model, and where they came from (the plan's `PoolPlan`, with `trained_in`)
    pools: list[dict[str, Any]] | None = None
    pools_info: dict[str, Any] = field(default_factory=dict)

    @property
    def keys(self) -> list[str]:
        return [f.key for f in self.fits]


def config_to_dict(config: FitConfig) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()}


def config_from_dict(values: Mapping[str, Any]) -> FitConfig:
    from shelfcast.forecasting.fit import FitConfig

    return FitConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def training_to_files(result: TrainingResult) -> dict[str, bytes]:
    """training.json (per title: selected family, scores, holdout, backtest specs, bundle contents,
    where its forecasts are), the backtest tables, every forecast's weekly values and every
    bundle's history as parquet. Built column-wise: 500 titles take well under a second."""
    titles: list[dict[str, Any]] = []
    tables: list[pd.DataFrame] = []
    forecasts = _ForecastColumns()
    histories: list[np.ndarray] = []
    for fit in result.fits:
        entries = [
            forecasts.add(fc, "backtest", candidate, origin)
            for candidate, by_origin in fit.backtest.forecasts.items()
            for origin, fc in by_origin.items()
        ]
        if fit.holdout_forecast is not None:
            entries.append(forecasts.add(fit.holdout_forecast, "holdout", fit.selected))
        entries += [
            forecasts.add(fc, "candidate", candidate)
            for candidate, fc in fit.candidate_forecasts.items()
        ]
        if not fit.backtest.table.empty:
            tables.append(fit.backtest.table.assign(key=fit.key))
        histories.append(fit.bundle.history.values)
        titles.append(
            {
                "key": fit.key,
                "selected": fit.selected,
                "scores": fit.scores,
                "holdout": fit.holdout,
                "fallback": fit.fallback,
                "seconds": fit.seconds,
                "backtest": {
                    "failures": fit.backtest.failures,
                    "specs": {k: spec.to_dict() for k, spec in fit.backtest.specs.items()},
                },
                "bundle": fit.bundle.info(),
                "meta": fit.bundle.history.meta,
                "forecasts": entries,
            }
        )
    document = {
        "format_version": TRAINING_FORMAT_VERSION,
        "errors": result.errors,
        "config": result.config,
        "executor": result.executor,
        "seconds": result.seconds,
        "titles": titles,
        "pools": None
        if result.pools is None
        else [{**row, "cutoff": row["cutoff"].isoformat()} for row in result.pools],
        "pools_info": result.pools_info,
    }
    return {
        TRAINING_FILE: json.dumps(document, default=_json_default).encode(),
        BACKTEST_FILE: _parquet(pd.concat(tables, ignore_index=True) if tables else pd.DataFrame()),
        FORECASTS_FILE: _parquet(forecasts.frame()),
        BUNDLES_FILE: _parquet(pd.DataFrame({"history": [h.tolist() for h in histories]})),
    }


def training_from_files(files: Mapping[str, bytes]) -> TrainingResult:
    from shelfcast.forecasting.backtest import Backtest
    from shelfcast.forecasting.bundle import Bundle
    from shelfcast.forecasting.families import spec_from_dict
    from shelfcast.forecasting.fit import TitleFit

    document = _read_json(files, TRAINING_FILE, "training artifact")
    if document.get("format_version") != TRAINING_FORMAT_VERSION:
        raise ArtifactFormatError(
            f"unsupported training artifact format {document.get('format_version')!r}"
        )
    tables = _by_key(_read_parquet(files, BACKTEST_FILE))
    columns = {
        name: values.to_numpy(dtype=np.float64)
        for name, values in _read_parquet(files, FORECASTS_FILE).items()
    }
    histories = _read_parquet(files, BUNDLES_FILE)["history"].tolist()
    fits = []
    for title, history in zip(document["titles"], histories, strict=True):
        key = title["key"]
        backtest: dict[str, dict[pd.Timestamp, PointForecast]] = {}
        holdout: PointForecast | None = None
        candidates: dict[str, PointForecast] = {}
        for entry in title["forecasts"]:
            fc = _point_forecast(columns, entry)
            if entry["kind"] == "backtest":
                backtest.setdefault(entry["candidate"], {})[pd.Timestamp(entry["origin"])] = fc
            elif entry["kind"] == "holdout":
                holdout = fc
            else:
                candidates[entry["candidate"]] = fc
        fits.append(
            TitleFit(
                key=key,
                selected=title["selected"],
                scores=title["scores"],
                backtest=Backtest(
                    table=tables[key] if key in tables else pd.DataFrame(),
                    forecasts=backtest,
                    failures=title["backtest"]["failures"],
                    specs={k: spec_from_dict(v) for k, v in title["backtest"]["specs"].items()},
                ),
                bundle=Bundle.from_info(
                    title["bundle"], np.asarray(history, dtype=np.float64), title["meta"]
                ),
                holdout=title["holdout"],
                holdout_forecast=holdout,
                fallback=title["fallback"],
                seconds=title["seconds"],
                candidate_forecasts=candidates,
            )
        )
    return TrainingResult(
        fits=fits,
        errors=document["errors"],
        config=document["config"],
        executor=document["executor"],
        seconds=document["seconds"],
        pools=None
        if document.get("pools") is None
        else [{**row, "cutoff": date.fromisoformat(row["cutoff"])} for row in document["pools"]],
        pools_info=document.get("pools_info", {}),
    )


class _ForecastColumns:
    """Forecast arrays appended end to end: `mean`, `lo_<L>`, `hi_<L>` per interval level."""

    def __init__(self) -> None:
        self.rows = 0
        self.parts: list[tuple[int, PointForecast]] = []
        self.levels: set[int] = set()

    def add(
        self,
        fc: PointForecast,
        kind: str,
        candidate: str,
        origin: pd.Timestamp | None = None,
    ) -> dict[str, Any]:
        """Keep `fc`; returns where it is (the title's entry in training.json)."""
        entry = {
            "kind": kind,
            "candidate": candidate,
            "origin": None if origin is None else pd.Timestamp(origin).isoformat(),
            "levels": sorted(int(level) for level in fc.lower),
            "row": self.rows,
            "weeks": len(fc.mean),
        }
        self.parts.append((self.rows, fc))
        self.levels.update(entry["levels"])
        self.rows += len(fc.mean)
        return entry

    def frame(self) -> pd.DataFrame:
        columns = {"mean": np.full(self.rows, np.nan)}
        for level in sorted(self.levels):
            columns[f"lo_{level}"] = np.full(self.rows, np.nan)
            columns[f"hi_{level}"] = np.full(self.rows, np.nan)
        for row, fc in self.parts:
            end = row + len(fc.mean)
            columns["mean"][row:end] = fc.mean
            for level in fc.lower:
                columns[f"lo_{level}"][row:end] = fc.lower[level]
                columns[f"hi_{level}"][row:end] = fc.upper[level]
        return pd.DataFrame(columns)


def _point_forecast(columns: Mapping[str, np.ndarray], entry: Mapping[str, Any]) -> PointForecast:
    from shelfcast.forecasting.intervals import PointForecast

    rows = slice(entry["row"], entry["row"] + entry["weeks"])
    return PointForecast(
        mean=columns["mean"][rows].copy(),
        lower={lv: columns[f"lo_{lv}"][rows].copy() for lv in entry["levels"]},
        upper={lv: columns[f"hi_{lv}"][rows].copy() for lv in entry["levels"]},
    )


def _by_key(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Rows per key (written contiguously, in order), without the key column."""
    if frame.empty or "key" not in frame.columns:
        return {}
    keys = frame.pop("key").to_numpy()
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    ends = np.r_[starts[1:], len(keys)]
    return {
        str(keys[a]): frame.iloc[a:b].reset_index(drop=True)
        for a, b in zip(starts, ends, strict=True)
    }


def _parquet(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _file(files: Mapping[str, bytes], name: str, what: str = "artifact") -> bytes:
    try:
        return files[name]
    except KeyError:
        raise ArtifactFormatError(f"{what} is missing {name}") from None


def _read_parquet(files: Mapping[str, bytes], name: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(_file(files, name)))


def _read_json(files: Mapping[str, bytes], name: str, what: str) -> Any:
    return json.loads(_file(files, name, what))


def _text(value: object) -> str | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)


def _json_default(value: object) -> object:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} to a training artifact")
