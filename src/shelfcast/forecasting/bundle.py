"""The bundle: one title's fitted model as plain files (JSON and CSV, no pickle).

`bundle.json` carries the format version, the title, the model family, orders and fitted
parameters (noise variance included), the training window, the evaluation (metrics, and the
champion's backtest and holdout forecasts, rounded) and library versions; `history.csv`
carries the weekly history the model was fitted on. A bundle forecasts any horizon without
refitting, and takes newer actual weeks (re-filtering with the same parameters) so that
forecasts start from the latest week.
"""

from __future__ import annotations

import io
import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries, weekly_dates
from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting.models import FAMILIES, PointForecast, forecast_spec

FORMAT_VERSION = 1
BUNDLE_FILE = "bundle.json"
HISTORY_FILE = "history.csv"
MAX_HORIZON = 260
FORECAST_DIGITS = 3


def library_versions() -> dict[str, str]:
    out = {}
    for name in ("shelfcast", "statsforecast", "numpy", "pandas", "scipy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def forecast_record(start: pd.Timestamp, forecast: PointForecast) -> dict:
    """A forecast as plain JSON: its first week, then the weekly mean and bounds, rounded."""

    def rounded(values: np.ndarray) -> list[float | None]:
        return [
            round(float(v), FORECAST_DIGITS) if np.isfinite(v) else None
            for v in np.asarray(values, dtype=np.float64)
        ]

    record: dict = {"start": start.date().isoformat(), "mean": rounded(forecast.mean)}
    for level in sorted(forecast.lower):
        record[f"lo_{level}"] = rounded(forecast.lower[level])
        record[f"hi_{level}"] = rounded(forecast.upper[level])
    return record


def _json(value: object, depth: int = 0) -> str:
    """JSON indented by two spaces, with lists of plain values kept on one line."""
    pad, end = "  " * (depth + 1), "\n" + "  " * depth
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(str(k))}: {_json(v, depth + 1)}" for k, v in value.items()]
        return "{\n" + ",\n".join(items) + end + "}"
    if isinstance(value, list | tuple) and any(isinstance(v, dict | list | tuple) for v in value):
        return "[\n" + ",\n".join(pad + _json(v, depth + 1) for v in value) + end + "]"
    return json.dumps(value, allow_nan=False)


@dataclass(frozen=True)
class Bundle:
    """A title's model spec, the history it was fitted on, and what is known about it."""

    model: dict
    history: TitleSeries
    evaluation: dict = field(default_factory=dict)
    library_versions: dict[str, str] = field(default_factory=library_versions)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def key(self) -> str:
        return self.history.key

    @property
    def family(self) -> str:
        return self.model["family"]

    def forecast(
        self,
        horizon: int,
        levels: Sequence[int] = (),
        actuals: Iterable[tuple[object, float]] | None = None,
    ) -> pd.DataFrame:
        """Weekly forecasts after the last known week: week_ending, mean, lo_L, hi_L per level
        (no intervals when `levels` is empty)."""
        if not 1 <= horizon <= MAX_HORIZON:
            raise ForecastError(f"horizon must be between 1 and {MAX_HORIZON}, got {horizon}")
        for level in levels:
            if not 0 < level < 100:
                raise ForecastError(f"interval level must be between 0 and 100, got {level}")
        history = self.updated(actuals).history if actuals is not None else self.history
        out = forecast_spec(self.model, history.values, history.dates, horizon, levels)
        frame = pd.DataFrame(
            {
                "week_ending": weekly_dates(history.end, horizon + 1)[1:],
                "mean": out.mean,
            }
        )
        for level in sorted(levels):
            frame[f"lo_{level}"] = out.lower[level]
            frame[f"hi_{level}"] = out.upper[level]
        return frame

    def updated(self, actuals: Iterable[tuple[object, float]]) -> Bundle:
        """The same model with newer (or corrected) weeks in its history; gaps are zero weeks."""
        history = self.history
        known = pd.Series(history.values, index=history.dates)
        for week, volume in actuals:
            when = pd.Timestamp(week)
            if (when - history.start).days % 7 or when.normalize() != when:
                raise ForecastError(
                    f"week_ending {when.date()} is not a {history.freq} week ending of this series"
                )
            if when < history.start:
                raise ForecastError(f"week_ending {when.date()} is before the model's history")
            value = float(volume)
            if not np.isfinite(value) or value < 0:
                raise ForecastError(f"volume for {when.date()} must be a number >= 0, got {volume}")
            known.loc[when] = value
        weeks = weekly_dates(history.start, (known.index.max() - history.start).days // 7 + 1)
        values = known.reindex(weeks, fill_value=0.0).to_numpy()
        return replace(self, history=history.with_values(values))

    def info(self) -> dict:
        """The contents of bundle.json."""
        h = self.history
        return {
            "format_version": FORMAT_VERSION,
            "key": h.key,
            "title": h.title,
            "author": h.author,
            "source": h.source,
            "model": self.model,
            "training_window": {
                "start": h.start.date().isoformat(),
                "end": h.end.date().isoformat(),
                "weeks": len(h),
                "freq": h.freq,
            },
            "evaluation": self.evaluation,
            "library_versions": self.library_versions,
            "created_at": self.created_at,
            "files": {"history": HISTORY_FILE},
        }

    def to_files(self) -> dict[str, bytes]:
        history = self.history.to_frame()
        history["week_ending"] = history["week_ending"].dt.strftime("%Y-%m-%d")
        return {
            BUNDLE_FILE: _json(self.info()).encode(),
            HISTORY_FILE: history.to_csv(index=False, float_format="%.10g").encode(),
        }

    @classmethod
    def from_files(cls, files: Mapping[str, bytes]) -> Bundle:
        try:
            info = json.loads(files[BUNDLE_FILE])
            history = pd.read_csv(io.BytesIO(files[HISTORY_FILE]), parse_dates=["week_ending"])
        except KeyError as exc:
            raise BundleError(f"bundle is missing {exc.args[0]}") from None
        except (ValueError, pd.errors.ParserError) as exc:
            raise BundleError(f"bundle files are malformed: {exc}") from None
        if info.get("format_version") != FORMAT_VERSION:
            raise BundleError(f"unsupported bundle format version {info.get('format_version')!r}")
        if info.get("model", {}).get("family") not in FAMILIES:
            raise BundleError(f"unknown model family in bundle: {info.get('model')!r}")
        window = info["training_window"]
        dates = pd.DatetimeIndex(history["week_ending"])
        expected = weekly_dates(pd.Timestamp(window["start"]), len(dates))
        if not dates.equals(expected):
            raise BundleError(f"{HISTORY_FILE} is not a regular {window['freq']} series")
        series = TitleSeries(
            key=str(info["key"]),
            start=dates[0],
            values=history["volume"].to_numpy(dtype=np.float64),
            freq=window["freq"],
            title=info.get("title"),
            author=info.get("author"),
            source=info.get("source"),
        )
        return cls(
            model=info["model"],
            history=series,
            evaluation=info.get("evaluation", {}),
            library_versions=info.get("library_versions", {}),
            created_at=info.get("created_at", ""),
        )


def write_bundle(bundle: Bundle, directory: str | Path) -> Path:
    """Write a bundle folder atomically: files go to a temporary sibling, renamed into place."""
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    for name, data in bundle.to_files().items():
        (staging / name).write_bytes(data)
    if target.exists():
        old = target.with_name(f".{target.name}.old")
        os.replace(target, old)
        os.replace(staging, target)
        for child in old.iterdir():
            child.unlink()
        old.rmdir()
    else:
        os.replace(staging, target)
    return target


def read_bundle(directory: str | Path) -> Bundle:
    folder = Path(directory)
    try:
        files = {name: (folder / name).read_bytes() for name in (BUNDLE_FILE, HISTORY_FILE)}
    except FileNotFoundError as exc:
        raise BundleError(f"{folder} is not a bundle: {exc.filename} is missing") from None
    return Bundle.from_files(files)
