"""The bundle: one title's fitted model as plain files (JSON and CSV, no pickle).

`bundle.json` carries the format version, the title, the model spec (family, spec version,
orders and fitted parameters, noise variance included), the training window, the evaluation
(metrics, the title's demand segment, and the selected family's backtest and holdout forecasts,
rounded) and library versions;
`history.csv` carries the weekly history the model was fitted on. A bundle forecasts any
horizon without refitting, and takes newer actual weeks (its family updates the spec, with
the same parameters) so that forecasts start from the latest week.

This module is the only one that writes or reads bundles. Format versions:
- 1: specs without a version (each family reads them as its spec version 1);
- 2: specs as their family's `Spec.to_dict` writes them, with `spec_version`;
- 3: with the `calibration` of its quantiles and intervals (`forecasting.calibration`; its
  `method` says which: `conformal`, or `negative-binomial` for slow sellers, whose mean it
  corrects too) and the backtest plan in its evaluation. Bundles of formats 1 and 2 forecast
  their quantiles and intervals from their model's own normal bounds, as they always did.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog.segments import Segment, segment_of
from shelfcast.catalog.series import TitleSeries, weekly_dates
from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting import artifact_json, families
from shelfcast.forecasting.artifact_json import FieldError, Fields
from shelfcast.forecasting.calibration import (
    SPREAD_LEVEL,
    AnyCalibration,
    calibrated,
    calibration_from_dict,
    is_whole,
)
from shelfcast.forecasting.families import Spec, SpecError
from shelfcast.forecasting.intervals import PointForecast

FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
BUNDLE_FILE = "bundle.json"
HISTORY_FILE = "history.csv"
MAX_HORIZON = 260
DAY_NS = 86_400 * 10**9
MAX_WEEKS = 20_000  # weeks of history a bundle may hold (M4 Weekly's longest is 2,597)
MAX_FILE_BYTES = 64 * 2**20  # a bundle file's size at most (a pooled forest's is ~70 kB)
LENGTHS = ("season_length", "bucket")  # spec fields that are a number of weeks to divide by
WEEKLY = re.compile(r"^W-(MON|TUE|WED|THU|FRI|SAT|SUN)$")
FORECAST_DIGITS = 3


def selected_family(evaluation: Mapping[str, Any]) -> str | None:
    """The family a bundle's backtest selected: `selected`, or `champion` in the bundles
    written before that key was renamed."""
    return evaluation.get("selected") or evaluation.get("champion")


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


def check_request(horizon: int, levels: Sequence[int], quantiles: Sequence[float]) -> None:
    """ForecastError unless `horizon` is 1..MAX_HORIZON, levels in (0, 100), quantiles in (0, 1)."""
    if not 1 <= horizon <= MAX_HORIZON:
        raise ForecastError(f"horizon must be between 1 and {MAX_HORIZON}, got {horizon}")
    for level in levels:
        if not 0 < level < 100:
            raise ForecastError(f"interval level must be between 0 and 100, got {level}")
    for q in quantiles:
        if not 0 < q < 1:
            raise ForecastError(f"quantile must be between 0 and 1, got {q}")


class ActualWeekError(ForecastError):
    """An actual week that does not fit a title's series: its `index` among the weeks given,
    the `field` at fault (`week_ending` or `volume`) and the reason."""

    def __init__(self, index: int, field: str, reason: str):
        super().__init__(reason)
        self.index, self.field, self.reason = index, field, reason


def checked_weeks(
    history: TitleSeries, actuals: Iterable[tuple[object, float]]
) -> dict[int, float]:
    """Each actual week's number from the history's first week (0), and its volume.
    ActualWeekError for the first week that is not one of the series' week endings (dates of
    the same weekday), is before its first week or more than MAX_HORIZON weeks after its last,
    or is given twice, and for a volume that is not a number >= 0."""
    start = history.start
    first = start.date() if start.value % DAY_NS == 0 else None
    last = len(history) - 1
    values: dict[int, float] = {}
    for i, (week, volume) in enumerate(actuals):
        if type(week) is date and first is not None:  # a server's: no timestamp needed
            day, days, midnight = week, (week - first).days, True
        else:
            when = pd.Timestamp(week)
            day, days, midnight = when.date(), (when - start).days, when.normalize() == when
        if not midnight:
            raise ActualWeekError(i, "week_ending", f"week_ending {week} is not a date")
        if days % 7:
            end = (start + pd.Timedelta(weeks=last)).date()
            raise ActualWeekError(
                i,
                "week_ending",
                f"week_ending {day} is a {day:%A}: this title's weeks end on a {end:%A} "
                f"(its last known week ends {end})",
            )
        n = days // 7
        if n < 0:
            reason = f"week_ending {day} is before this title's history ({start.date()})"
            raise ActualWeekError(i, "week_ending", reason)
        if n - last > MAX_HORIZON:
            end = (start + pd.Timedelta(weeks=last)).date()
            reason = (
                f"week_ending {day} is more than {MAX_HORIZON} weeks after this title's last"
                f" week ({end})"
            )
            raise ActualWeekError(i, "week_ending", reason)
        if n in values:
            raise ActualWeekError(i, "week_ending", f"week_ending {day} is given more than once")
        value = float(volume)
        if not math.isfinite(value) or value < 0:
            reason = f"volume for {day} must be a number >= 0, got {volume}"
            raise ActualWeekError(i, "volume", reason)
        values[n] = value
    return values


def extended(history: TitleSeries, actuals: Iterable[tuple[object, float]]) -> TitleSeries:
    """`history` with newer (or corrected) weeks, checked by `checked_weeks`; gaps are zero
    weeks."""
    values = checked_weeks(history, actuals)
    if not values:
        return history
    out = np.zeros(max(len(history), max(values) + 1))
    out[: len(history)] = history.values
    out[list(values)] = list(values.values())
    return history.with_values(out)


@dataclass(frozen=True)
class Bundle:
    """A title's model spec, the history it was fitted on, and what is known about it."""

    model: Spec
    history: TitleSeries
    evaluation: dict = field(default_factory=dict)
    calibration: AnyCalibration | None = None  # None: the model's own normal bounds
    library_versions: dict[str, str] = field(default_factory=library_versions)
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def key(self) -> str:
        return self.history.key

    @property
    def family(self) -> str:
        return self.model.family

    @property
    def segment(self) -> Segment:
        """The title's demand segment as fitting recorded it (`evaluation.segment`); for a
        bundle written before segments were recorded, the segment of the history it keeps."""
        recorded = self.evaluation.get("segment")
        if recorded is None:
            return segment_of(self.history.values)
        try:
            return Segment.from_dict(recorded)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BundleError(f"{self.key}: evaluation.segment is malformed ({exc!r})") from None

    def forecast(
        self,
        horizon: int,
        levels: Sequence[int] = (),
        actuals: Iterable[tuple[object, float]] | None = None,
        quantiles: Sequence[float] = (),
    ) -> pd.DataFrame:
        """Weekly forecasts after the last known week: week_ending, mean, lo_L and hi_L per
        level, and a column per quantile (`p10` for 0.1). Calibrated where the bundle has a
        calibration (intervals then hold the mean: lo_L <= mean <= hi_L); never negative,
        monotone across quantiles and levels."""
        check_request(horizon, levels, quantiles)
        bundle = self.updated(actuals) if actuals is not None else self
        history = bundle.history
        own_levels = sorted(set(levels) | {SPREAD_LEVEL})  # where calibrations read the spread
        out = families.forecast(bundle.model, history, horizon, own_levels)
        whole = is_whole(history.values)
        mean, columns = calibrated(self.calibration, out, levels, quantiles, whole)
        return pd.DataFrame(
            {"week_ending": weekly_dates(history.end, horizon + 1)[1:], "mean": mean, **columns}
        )

    def updated(self, actuals: Iterable[tuple[object, float]]) -> Bundle:
        """The same model with newer (or corrected) weeks in its history; gaps are zero weeks.
        The spec is its family's update for the new history (parameters unchanged)."""
        newer = extended(self.history, actuals)
        return replace(self, model=families.update(self.model, newer), history=newer)

    def info(self) -> dict:
        """The contents of bundle.json."""
        h = self.history
        return {
            "format_version": FORMAT_VERSION,
            "key": h.key,
            "title": h.title,
            "author": h.author,
            "source": h.source,
            "model": self.model.to_dict(),
            "training_window": {
                "start": h.start.date().isoformat(),
                "end": h.end.date().isoformat(),
                "weeks": len(h),
                "freq": h.freq,
            },
            "evaluation": self.evaluation,
            "calibration": self.calibration.to_dict() if self.calibration else None,
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
    def from_files(cls, files: Mapping[str, bytes], source: str | None = None) -> Bundle:
        """The bundle in `files` (bundle.json, history.csv); errors name `source`, its folder,
        the file and the field. The files are untrusted input: see `from_info`."""
        folder = f"{source}/" if source else ""
        missing = [name for name in (BUNDLE_FILE, HISTORY_FILE) if name not in files]
        if missing:
            named = f"{source} " if source else ""
            raise BundleError(f"bundle {named}is missing {', '.join(missing)}")
        where, history_where = f"{folder}{BUNDLE_FILE}", f"{folder}{HISTORY_FILE}"
        info = _info(files[BUNDLE_FILE], where)
        dates, values = _history(files[HISTORY_FILE], history_where)
        bundle = cls.from_info(info, values, where=where)
        if not dates.equals(bundle.history.dates):
            raise BundleError(
                f"{history_where}: week_ending is not the regular {bundle.history.freq} series "
                f"from {where}'s training_window.start"
            )
        return bundle

    @classmethod
    def from_info(
        cls,
        info: Mapping[str, Any],
        values: np.ndarray,
        meta: Mapping[str, str] | None = None,
        where: str = BUNDLE_FILE,
    ) -> Bundle:
        """A bundle from the contents of its bundle.json (`info()`) and its weekly values,
        from the training window's start. `meta` is the title's catalogue metadata, which
        bundle files do not keep. Every field is checked for its type (and the weekly values
        for being finite, non-negative and at most `MAX_WEEKS`): a BundleError names `where`
        and the field."""
        _check_version(info, where)
        try:
            doc = Fields(info)
            window = doc.object("training_window")
            series = TitleSeries(
                key=_key(doc),
                start=_start(window),
                values=_weeks(values, window),
                freq=_freq(window),
                title=doc.text("title", optional=True),
                author=doc.text("author", optional=True),
                source=doc.text("source", optional=True),
                meta=dict(meta or {}),
            )
            evaluation = doc.object("evaluation").value if "evaluation" in info else {}
            versions = doc.object("library_versions") if "library_versions" in info else None
            library = {k: str(versions.text(k)) for k in versions.value} if versions else {}
            created_at = doc.text("created_at", optional=True) or ""
        except FieldError as exc:
            raise BundleError(f"{where}: {exc}") from None
        return cls(
            model=_model(info, where),
            history=series,
            evaluation=dict(evaluation),
            calibration=_calibration(info, where),
            library_versions=library,
            created_at=created_at,
        )


def _info(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{where}: {len(data):,} bytes, more than {MAX_FILE_BYTES:,}")
    info = artifact_json.parse(data, where, BundleError)
    if not isinstance(info, dict):
        raise BundleError(f"{where} is not a JSON object")
    return info


def _key(doc: Fields) -> str:
    key = str(doc.text("key", limit=200))
    if not key.strip():
        raise FieldError("key", "is empty")
    return key


def _start(window: Fields) -> pd.Timestamp:
    text = str(window.text("start", limit=40))
    try:
        return pd.Timestamp(date.fromisoformat(text))
    except ValueError:
        raise FieldError(window.name("start"), f"{text!r} is not a date (YYYY-MM-DD)") from None


def _freq(window: Fields) -> str:
    freq = str(window.text("freq", limit=40))
    if not WEEKLY.match(freq):
        raise FieldError(window.name("freq"), f"{freq!r} is not a weekly frequency (W-SAT, ...)")
    return freq


def _weeks(values: np.ndarray, window: Fields) -> np.ndarray:
    """The weekly values, checked: 1 to MAX_WEEKS of them, each finite and >= 0, as many as
    the window's `weeks` says (when it does)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 1 or not 1 <= len(values) <= MAX_WEEKS:
        raise FieldError("values", f"must be 1 to {MAX_WEEKS:,} weeks, got {values.size:,}")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        raise FieldError("values", f"week {bad[0] + 1} is {values[bad[0]]}, not a number >= 0")
    if "weeks" in window.value and window.integer("weeks", 1, MAX_WEEKS) != len(values):
        raise FieldError(window.name("weeks"), f"says {window.value['weeks']}, not {len(values)}")
    return values


def _history(data: bytes, where: str) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The week endings and volumes of a history.csv."""
    if len(data) > MAX_FILE_BYTES:
        raise BundleError(f"{where}: {len(data):,} bytes, more than {MAX_FILE_BYTES:,}")
    try:
        frame = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False)
    except (ValueError, pd.errors.ParserError) as exc:
        raise BundleError(f"{where}: not a readable CSV ({exc})") from None
    missing = [c for c in ("week_ending", "volume") if c not in frame.columns]
    if missing:
        raise BundleError(f"{where}: no column {', '.join(missing)}")
    if len(frame) > MAX_WEEKS:
        raise BundleError(f"{where}: {len(frame):,} weeks, more than {MAX_WEEKS:,}")
    dates = pd.to_datetime(frame["week_ending"], format="%Y-%m-%d", errors="coerce")
    volumes = pd.to_numeric(frame["volume"], errors="coerce").to_numpy(dtype=np.float64)
    for column, bad in (("week_ending", dates.isna().to_numpy()), ("volume", np.isnan(volumes))):
        if bad.any():
            row = int(np.argmax(bad))
            value = frame[column].iloc[row]
            raise BundleError(f"{where}: row {row + 2}, column {column}: {value[:40]!r} is invalid")
    return pd.DatetimeIndex(dates), volumes


def _check_version(info: Mapping[str, Any], where: str) -> None:
    version = info.get("format_version")
    if isinstance(version, bool) or version not in READABLE_VERSIONS:
        raise BundleError(
            f"{where}: unsupported bundle format version {version!r} "
            f"(this Shelfcast reads {', '.join(map(str, READABLE_VERSIONS))})"
        )


def _model(info: Mapping[str, Any], where: str) -> Spec:
    try:
        return _bounded(families.spec_from_dict(info.get("model")), "model")
    except SpecError as exc:
        raise BundleError(f"{where}: {exc}") from None
    # a family's own checks of its fields may raise what its constructor does
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise BundleError(f"{where}: model: {exc!r}") from None


def _calibration(info: Mapping[str, Any], where: str) -> AnyCalibration | None:
    data = info.get("calibration")
    if data is None:
        return None
    if not isinstance(data, Mapping):
        raise BundleError(f"{where}: calibration must be an object, got {data!r}")
    try:
        return calibration_from_dict(data)
    except (ForecastError, TypeError, ValueError) as exc:
        raise BundleError(f"{where}: {exc}") from None


def _bounded(spec: Spec, where: str) -> Spec:
    """`spec`, its whole-number fields checked: orders, lags and lengths in weeks, between 0
    and MAX_WEEKS (and `LENGTHS`, which forecasts divide by, 1 or more). Member specs are
    checked the same; long arrays (a pooled forest's nodes) are data, not sizes."""
    for item in dataclasses.fields(spec):
        value, name = getattr(spec, item.name), f"{where}.{item.name}"
        items = value if isinstance(value, tuple) else (value,)
        if items and isinstance(items[0], Spec):
            for member in items:
                _bounded(member, f"{name}.{member.family}")
            continue
        if len(items) > 3:  # data, not a size
            continue
        low = 1 if item.name in LENGTHS else 0
        for v in items:
            if isinstance(v, int) and not isinstance(v, bool) and not low <= v <= MAX_WEEKS:
                raise SpecError(f"{name}: {v} is not between {low} and {MAX_WEEKS:,}")
    return spec


def read_model(data: bytes, where: str = BUNDLE_FILE) -> Spec:
    """Only the model spec of a bundle, from the bytes of its bundle.json."""
    info = _info(data, where)
    _check_version(info, where)
    return _model(info, where)


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
    return Bundle.from_files(files, source=str(folder))
