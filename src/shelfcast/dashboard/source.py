"""What the dashboard shows, read where it lives: the endpoint (its state and its forecasts),
the release its serving deployed model runs (titles, histories, backtests), and monitoring
(the actuals store judged by `monitoring.comparison`, the latest report). Nothing is made
up: what cannot be read is reported with the reason.

Releases are immutable, so a release read once (and a bundle loaded once) is kept. A
catalogue release's titles come from its table, memory-mapped.
"""

from __future__ import annotations

import json
import math
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog.isbn import is_valid_isbn13, normalize_isbn
from shelfcast.catalog.segments import is_segment_name
from shelfcast.catalog.series import weekly_dates
from shelfcast.catalogue_releases import CatalogueRows, read_catalogue, release_cache
from shelfcast.endpoints.base import (
    HEALTHY,
    DeployedModel,
    Endpoint,
    EndpointBackend,
    EndpointNotFound,
)
from shelfcast.errors import ShelfcastError
from shelfcast.forecasting.bundle import Bundle, selected_family
from shelfcast.forecasting.segment_accuracy import segment_order
from shelfcast.monitoring.accuracy import accuracy
from shelfcast.monitoring.actuals import read_actuals, weekly_actuals
from shelfcast.monitoring.comparison import compare, load_judges
from shelfcast.monitoring.paths import actuals_path
from shelfcast.monitoring.report import ReportError, latest_report_path, read_report
from shelfcast.releases import Release, ReleaseModel, list_releases, load_bundles, read_release
from shelfcast.settings import Settings

BUNDLE_CACHE = 256
TITLES_SHOWN = 1000  # titles listed at most; a search narrows the rest
METRICS = ("mase", "wape", "mae", "bias", "coverage_80", "coverage_95")
ACCURACY_COLUMNS = [
    "week_ending", "actual", "mean", "lo_80", "hi_80", "lo_95", "hi_95",
    "horizon", "release_id", "model_version",
]  # fmt: skip


class DashboardError(ShelfcastError):
    """A request the dashboard cannot answer: `status`, the `field` at fault, the reason."""

    def __init__(self, status: int, field: str, reason: str):
        super().__init__(reason)
        self.status, self.field, self.reason = status, field, reason


class NoEndpointYet(DashboardError):
    """The endpoint has not been created yet (nothing deployed): an empty state."""

    def __init__(self, reason: str):
        super().__init__(503, "endpoint", reason)


class NoReportYet(DashboardError):
    """No monitoring report has been written yet: an empty state, not a failure."""

    def __init__(self, path: object):
        super().__init__(
            404, "report", f"no monitoring report yet ({path}): run `shelfcast monitor report`"
        )
        self.path = path


@dataclass
class DashboardSource:
    """The dashboard's view of one endpoint, its backend and the project's monitoring."""

    backend: EndpointBackend
    endpoint: str
    settings: Settings
    _releases: dict[str, Release] = field(default_factory=dict, repr=False)
    _titles: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict, repr=False)
    _catalogues: dict[str, CatalogueRows] = field(default_factory=dict, repr=False)
    _bundles: OrderedDict[tuple[str, str], Bundle] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def horizon(self) -> int:
        """Weeks a title's forecast covers unless asked otherwise (`serving.horizon`)."""
        return self.settings.serving.horizon

    @property
    def levels(self) -> tuple[int, ...]:
        """The forecast's interval levels (`serving.levels`)."""
        return self.settings.serving.levels

    @property
    def quantiles(self) -> tuple[float, ...]:
        """The forecast's quantiles (`serving.quantiles`)."""
        return self.settings.serving.quantiles

    # ------------------------------------------------------------------ release and titles

    def release(self) -> Release:
        """The release of the endpoint's serving deployed model (most traffic)."""
        try:
            endpoint = self.backend.describe(self.endpoint)
        except EndpointNotFound as exc:
            reason = f"{exc}: deploy a release to it with `shelfcast deploy`"
            raise NoEndpointYet(reason) from None
        except (ShelfcastError, OSError) as exc:
            raise DashboardError(503, "endpoint", str(exc)) from None
        serving = endpoint.serving()
        if serving is None:
            raise DashboardError(
                503, "endpoint", f"endpoint {self.endpoint} has no deployed model taking traffic"
            )
        return self._read_release(serving.release_uri)

    def titles(self, query: str = "", segment: str = "") -> dict[str, Any]:
        """The serving release's titles, filtered by ISBN or title text (case-insensitive) and
        by segment (a stage, a demand class or a `stage/demand` name), with the number of the
        release's titles in each segment and family."""
        wanted = segment.strip()
        if wanted and not is_segment_name(wanted):
            raise DashboardError(
                422, "segment", f"{segment!r} is not a stage, demand class or stage/demand name"
            )
        release = self.release()
        needle = query.strip().casefold()
        digits = normalize_isbn(needle) if any(c.isdigit() for c in needle) else ""
        entries = self._entries(release).values()
        titles = [
            entry
            for entry in sorted(entries, key=lambda e: (e["title"].casefold(), e["isbn"]))
            if (
                not needle
                or needle in entry["title"].casefold()
                or (digits and digits in entry["isbn"])
            )
            and (not wanted or _in_segment(entry["segment"], wanted))
        ]
        return {
            "endpoint": self.endpoint,
            "release_id": release.release_id,
            "matched": len(titles),
            "titles": titles[:TITLES_SHOWN],
            "segments": segment_counts(entries),
        }

    def title(self, isbn: str, horizon: int) -> dict[str, Any]:
        """A title's history, backtest, the endpoint's forecast and its monitored accuracy."""
        key = normalize_isbn(isbn)
        if not is_valid_isbn13(key):
            raise DashboardError(422, "isbn", f"{isbn!r} is not a valid ISBN-13")
        release = self.release()
        entry = self._entries(release).get(key)
        if entry is None:
            raise DashboardError(
                404, "isbn", f"release {release.release_id} has no title with ISBN {key}"
            )
        bundle = self._bundle(release, key)
        history = bundle.history
        segment = bundle.segment
        return {
            **entry,
            "segment": segment.name,  # also for releases whose manifest does not record it
            "segment_detail": segment.as_dict(),
            "author": history.author,
            "endpoint": self.endpoint,
            "release_id": release.release_id,
            "history": {
                "week_ending": [d.date().isoformat() for d in history.dates],
                "volume": history.values.tolist(),
            },
            "backtest": backtest_summary(bundle.evaluation),
            "forecast": self.forecast(key, horizon),
            "accuracy": self.accuracy(key),
        }

    def forecast(self, isbn: str, horizon: int) -> dict[str, Any]:
        """The endpoint's answer for one title, or why there is none."""
        instance = {
            "isbn": isbn,
            "horizon": horizon,
            "level": list(self.levels),
            "quantiles": list(self.quantiles),
        }
        try:
            answer = self.backend.predict(self.endpoint, [instance])
            prediction = answer.predictions[0]
        except (ShelfcastError, OSError, IndexError) as exc:
            reason = str(exc).removeprefix(f"endpoint {self.endpoint}: ") or type(exc).__name__
            return {
                "available": False,
                "reason": f"endpoint {self.endpoint} is not answering: {reason}",
            }
        if "error" in prediction:
            error = prediction["error"]
            return {
                "available": False,
                "reason": f"endpoint {self.endpoint} did not forecast {isbn}: "
                f"{error.get('field')}: {error.get('reason')}",
            }
        return {"available": True, "deployed_model_id": answer.deployed_model_id, **prediction}

    # ------------------------------------------------------------------ endpoints

    def endpoints(self) -> dict[str, Any]:
        """Every endpoint of the backend: deployed models, their health, the traffic split."""
        try:
            listed = self.backend.list_endpoints()
        except (ShelfcastError, OSError) as exc:
            return {
                "backend": self.backend.kind,
                "selected": self.endpoint,
                "error": str(exc),
                "endpoints": [],
            }
        return {
            "backend": self.backend.kind,
            "selected": self.endpoint,
            "endpoints": [self._endpoint_entry(e) for e in listed],
        }

    def _endpoint_entry(self, endpoint: Endpoint) -> dict[str, Any]:
        serving = endpoint.serving()
        models = [self._deployed_entry(endpoint, m) for m in endpoint.deployed_models]
        detail = _plain(endpoint.detail)
        return {
            "name": endpoint.name,
            "backend": endpoint.backend,
            "url": endpoint.url,
            "status": detail.get("status") or _status(models),
            "traffic": dict(endpoint.traffic),
            "serving": serving.id if serving else None,
            "deployed_models": models,
            "detail": detail,
        }

    def _deployed_entry(self, endpoint: Endpoint, model: DeployedModel) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": model.id,
            "release_id": model.release_id,
            "release_uri": model.release_uri,
            "created": model.created,
            "state": model.state,
            "reason": _plain(model.detail).get("reason"),
            "traffic": endpoint.traffic.get(model.id, 0),
            "url": model.url,
        }
        try:
            release = self._read_release(model.release_uri)
        except DashboardError as exc:
            return {**entry, "models": None, "release_error": exc.reason}
        versions = [
            {
                "name": m.name,
                "version": m.version,
                "model_family": m.model_family,
                "segment": m.segment,
            }
            for m in release.models
        ]
        return {**entry, "models": versions}

    # ------------------------------------------------------------------ monitoring

    def report(self) -> dict[str, Any]:
        """The latest monitoring report as written by `shelfcast monitor report`."""
        path = latest_report_path(self.settings)
        if not path.exists():
            raise NoReportYet(path)
        try:
            return read_report(path)
        except ReportError as exc:
            raise DashboardError(503, "report", str(exc)) from None

    def accuracy(self, isbn: str) -> dict[str, Any]:
        """The title's stored actual weeks beside what the releases had forecast for them
        (judged as the monitoring report does), and its entry in the latest report."""
        try:
            weekly = weekly_actuals(read_actuals(actuals_path(self.settings)))
            weekly = weekly[weekly["isbn"] == isbn]
            compared = pd.DataFrame()
            if not weekly.empty:
                releases = list_releases(self.settings.artifact_root)
                season = self.settings.training.season_length
                compared = compare(
                    weekly, load_judges(releases, [isbn], season, catalogue=self._catalogue)
                )
        except (ShelfcastError, OSError) as exc:
            return {"actual_weeks": None, "weeks": [], "reason": f"cannot compare: {exc}"}
        weeks: list[dict[str, Any]] = []
        if not compared.empty:
            days = pd.to_datetime(compared["week_ending"]).dt.strftime("%Y-%m-%d")
            weeks = compared.assign(week_ending=days)[ACCURACY_COLUMNS].to_dict("records")
        return _finite(
            {
                "actual_weeks": len(weekly),
                "weeks": weeks,
                "figures": accuracy(compared) if weeks else None,
                "report": self._report_entry(isbn),
            }
        )

    def _report_entry(self, isbn: str) -> dict[str, Any] | None:
        try:
            report = self.report()
        except DashboardError:
            return None
        entry = next((t for t in report.get("titles", []) if t.get("isbn") == isbn), None)
        alerts = [a for a in report.get("alerts", []) if a.get("isbn") == isbn]
        if entry is None and not alerts:
            return None
        return {"created": report.get("created"), "title": entry, "alerts": alerts}

    # ------------------------------------------------------------------ caches

    def _read_release(self, uri: str) -> Release:
        with self._lock:
            cached = self._releases.get(uri)
        if cached is not None:
            return cached
        try:
            release = read_release(uri)
        except (ShelfcastError, OSError) as exc:
            raise DashboardError(503, "release", f"cannot read release {uri}: {exc}") from None
        with self._lock:
            self._releases[uri] = release
        return release

    def _entries(self, release: Release) -> dict[str, dict[str, Any]]:
        """The release's titles by ISBN, as the title list shows them (read once a release)."""
        with self._lock:
            entries = self._titles.get(release.uri)
        if entries is not None:
            return entries
        if release.catalogue is None:
            listed = [_title_entry(m) for m in release.models]
        else:
            listed = _catalogue_entries(self._catalogue(release))
        entries = {e["isbn"]: e for e in listed}
        with self._lock:
            self._titles[release.uri] = entries
        return entries

    def _catalogue(self, release: Release) -> CatalogueRows:
        """A catalogue release's table (evaluations included), verified and memory-mapped."""
        with self._lock:
            rows = self._catalogues.get(release.uri)
        if rows is None:
            try:
                rows = read_catalogue(release, release_cache(self.settings.home), columns=None)
            except (ShelfcastError, OSError) as exc:
                raise DashboardError(
                    503, "release", f"cannot read release {release.uri}: {exc}"
                ) from None
            with self._lock:
                self._catalogues[release.uri] = rows
        return rows

    def _bundle(self, release: Release, isbn: str) -> Bundle:
        key = (release.uri, isbn)
        with self._lock:
            if key in self._bundles:
                self._bundles.move_to_end(key)
                return self._bundles[key]
        try:
            if release.catalogue is not None:
                bundle = self._catalogue(release).table.bundle(isbn)
            else:
                model = release.model(isbn)
                bundle = load_bundles(replace(release, models=(model,)))[model.name]
        except (ShelfcastError, OSError) as exc:
            raise DashboardError(503, "release", f"cannot load {isbn}: {exc}") from None
        with self._lock:
            self._bundles[key] = bundle
            while len(self._bundles) > BUNDLE_CACHE:
                self._bundles.popitem(last=False)
        return bundle


def _status(models: list[dict[str, Any]]) -> str:
    """An endpoint's status from its deployed models' states, for backends that give none."""
    taking = [m for m in models if m["traffic"] > 0]
    if not taking:
        return "no traffic"
    healthy = [m["state"] == HEALTHY for m in taking]
    return "serving" if all(healthy) else "degraded" if any(healthy) else "down"


def _title_entry(model: ReleaseModel) -> dict[str, Any]:
    return {
        "isbn": model.isbn,
        "title": model.title,
        "model_name": model.name,
        "model_version": model.version,
        "model_family": model.model_family,
        "segment": model.segment,
        "backtest_mase": model.backtest_mase,
    }


def _in_segment(name: str | None, wanted: str) -> bool:
    """Whether the segment `name` is, or belongs to, the stage or demand class `wanted`."""
    return name is not None and wanted in (name, *name.split("/"))


def _catalogue_entries(rows: CatalogueRows) -> list[dict[str, Any]]:
    """A catalogue table's titles as the title list shows them (its metrics are in the
    evaluations, which the list does not parse: a title's page shows them)."""
    table = rows.table
    columns = zip(
        table.keys,
        table.column("title"),
        table.column("family"),
        table.column("segment"),
        rows.versions,
        strict=True,
    )
    return [
        {
            "isbn": isbn,
            "title": title or "",
            "model_name": rows.model_name,
            "model_version": version,
            "model_family": family,
            "segment": segment,
            "backtest_mase": None,
        }
        for isbn, title, family, segment, version in columns
    ]


def segment_counts(entries: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per segment (in `segment_order`; None, for manifests that record none, last): its
    number of titles and of titles per model family, the most frequent family first."""
    groups: dict[str | None, list[str]] = {}
    for entry in entries:
        groups.setdefault(entry["segment"], []).append(entry["model_family"])
    ordered = sorted(groups, key=lambda name: (name is None, segment_order(name or "")))
    return [
        {
            "segment": name,
            "titles": len(groups[name]),
            "families": dict(Counter(groups[name]).most_common()),
        }
        for name in ordered
    ]


def backtest_summary(evaluation: dict[str, Any]) -> dict[str, Any]:
    """The bundle's evaluation: backtest and holdout metrics per candidate, the selected family
    first, and its backtest and holdout forecasts (with their weeks) where the bundle has them."""
    backtest = evaluation.get("backtest") or {}
    selected = selected_family(evaluation)
    holdout = dict(evaluation.get("holdout") or {})
    weeks = holdout.pop("weeks", None)
    held = evaluation.get("holdout_forecast")
    return {
        "selected": selected,
        "baseline": evaluation.get("baseline"),
        "fallback": evaluation.get("fallback"),
        "horizon": backtest.get("horizon"),
        "origins": backtest.get("origins", []),
        "metrics": _ranked(backtest.get("mean") or {}, selected),
        "failures": backtest.get("failures") or {},
        "holdout_weeks": weeks,
        "holdout": _ranked(holdout, selected),
        "forecasts": [_dated(f) for f in backtest.get("forecasts") or []],
        "holdout_forecast": _dated(held) if held else None,
    }


def _dated(record: dict[str, Any]) -> dict[str, Any]:
    """A stored forecast with its week endings spelled out."""
    weeks = weekly_dates(pd.Timestamp(record["start"]), len(record["mean"]))
    return {**record, "week_ending": [d.date().isoformat() for d in weeks]}


def _ranked(table: dict[str, Any], selected: str | None) -> list[dict[str, Any]]:
    rows = [
        {"candidate": name, **{m: values.get(m) for m in METRICS}}
        for name, values in table.items()
        if isinstance(values, dict)
    ]
    return sorted(rows, key=lambda r: (r["candidate"] != selected, r["candidate"]))


def _plain(value: Any) -> Any:
    """A JSON-safe copy of backend-specific facts (anything else as text)."""
    return _finite(json.loads(json.dumps(dict(value or {}), default=str)))


def _finite(value: Any) -> Any:
    """JSON-ready: numpy scalars as Python numbers, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
