"""The monitoring report: the released champions' forecasts against what sold, per title and
overall, with the alerts they raise.

The stored actuals (zero-filled weekly, `actuals.weekly_actuals`), from `since` on, are
compared week by week with the forecast of the newest release trained before each week
(`comparison`); figures come from `accuracy` and alerts from `alerts`, whose docstrings give
the definitions and rules. `release` restricts the comparison to one release.

The report is JSON (`format_version` 1): `created`, `since`, `releases` (id, created, uri,
titles), `actuals` (title-weeks, titles, first and last week, title-weeks no release had
forecast, titles in no release), `overall` and `titles[]` (figures per title beside its
backtest MASE, the judging release and model, its family and segment, the rules that fired),
`segments[]` (figures per demand segment, then over all titles: `segment_accuracy`),
`alerts[]` (title, rule, action, message, figures) and `weeks[]` (every compared week:
actual, forecast, interval bounds, horizon, segment, scaled error). Reports written before
segments were recorded have no `segments` and no title `segment`. It is written atomically
to `--out` or to `<home>/monitoring/reports/<timestamp>.json`, and always copied to
`reports/latest.json`, which `shelfcast monitor retrain-if-needed` reads; a Plotly page
(`charts`: accuracy per segment, realised against expected error) goes beside a local JSON
file when Plotly is installed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from shelfcast.atomic import write_atomic
from shelfcast.catalogue_releases import read_catalogue, release_cache
from shelfcast.forecasting.segment_accuracy import segment_accuracy
from shelfcast.monitoring.accuracy import accuracy, scaled_errors
from shelfcast.monitoring.actuals import read_actuals, weekly_actuals
from shelfcast.monitoring.alerts import Alert, AlertRules, title_alerts
from shelfcast.monitoring.comparison import Judge, compare, load_judges, previous_forecasts
from shelfcast.monitoring.paths import actuals_path, reports_dir
from shelfcast.monitoring.report_types import FORMAT_VERSION, MonitoringReport, ReportError
from shelfcast.releases import Release, list_releases, open_release
from shelfcast.settings import Settings

LATEST = "latest.json"
EXIT_ALERTS = 3  # `shelfcast monitor report` exit status when alerts were raised

Progress = Callable[[int, int], None]


def build_report(
    settings: Settings,
    *,
    since: str | None = None,
    release: str | None = None,
    rules: AlertRules | None = None,
    progress: Progress | None = None,
) -> MonitoringReport:
    """Compare the stored actuals with the releases' forecasts (see the module docstring);
    `rules` default to the settings' `monitoring.alerts`."""
    rules = settings.monitoring.alerts if rules is None else rules
    stored = read_actuals(actuals_path(settings))
    if stored.empty:
        raise ReportError(
            f"no actual sales in {actuals_path(settings)}: ingest some with "
            "`shelfcast monitor actuals PATH`"
        )
    weekly = weekly_actuals(stored)
    if since is not None:
        weekly = weekly[weekly["week_ending"] >= _date(since)]
    releases = _releases(settings, release)
    isbns = sorted(weekly["isbn"].unique())
    season = settings.training.season_length
    catalogue = partial(read_catalogue, cache=release_cache(settings.home), columns=None)
    judges = load_judges(releases, isbns, season, progress, catalogue)
    weeks = compare(weekly, judges)
    weeks["scaled_error"] = scaled_errors(weeks) if len(weeks) else []
    previous = previous_forecasts(weeks, judges)
    names = _names(stored, judges)
    titles, alerts = [], []
    for isbn, rows in weeks.groupby("isbn", sort=True):
        found = title_alerts(rows, previous[previous["isbn"] == isbn], rules)
        alerts.extend(found)
        titles.append(_title_entry(str(isbn), names.get(str(isbn)), rows, found))
    known = weekly["isbn"].isin(judges)
    return MonitoringReport(
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        since=None if since is None else f"{_date(since):%Y-%m-%d}",
        releases=[
            {
                "release_id": r.release_id,
                "created": r.created,
                "uri": r.uri,
                "titles": r.titles,
            }
            for r in releases
        ],
        actuals={
            "title_weeks": len(weekly),
            "titles": int(weekly["isbn"].nunique()),
            "first_week": _day(weekly["week_ending"].min()),
            "last_week": _day(weekly["week_ending"].max()),
            "compared": len(weeks),
            "not_forecast": int(known.sum()) - len(weeks),
            "titles_in_no_release": sorted(weekly.loc[~known, "isbn"].unique().tolist()),
        },
        overall={"titles": len(titles), **accuracy(weeks), "alerts": len(alerts)},
        titles=titles,
        segments=segment_accuracy(titles),
        alerts=alerts,
        weeks=weeks,
    )


def _releases(settings: Settings, release: str | None) -> list[Release]:
    if release is not None:
        return [open_release(settings.artifact_root, release)]
    found = list_releases(settings.artifact_root)
    if not found:
        raise ReportError(
            f"no release in the artifact store {settings.artifact_root}: nothing was forecast "
            "(run `shelfcast package`)"
        )
    return found


def _date(text: str) -> pd.Timestamp:
    try:
        return pd.Timestamp(text).normalize()
    except ValueError:
        raise ReportError(f"--since must be a date such as 2024-08-31, got {text!r}") from None


def _day(value: Any) -> str | None:
    return None if pd.isna(value) else f"{pd.Timestamp(value):%Y-%m-%d}"


def _names(stored: pd.DataFrame, judges: dict[str, list[Judge]]) -> dict[str, str]:
    names = {isbn: found[0].model.title for isbn, found in judges.items() if found}
    titled = stored.dropna(subset=["title"]).drop_duplicates("isbn", keep="last")
    for isbn, title in zip(titled["isbn"], titled["title"], strict=True):
        names[str(isbn)] = names.get(str(isbn)) or str(title)
    return names


def _title_entry(
    isbn: str, title: str | None, rows: pd.DataFrame, alerts: list[Alert]
) -> dict[str, Any]:
    last = rows.iloc[-1]
    return {
        "isbn": isbn,
        "title": title or "",
        "release_id": str(last["release_id"]),
        "model_name": str(last["model_name"]),
        "model_version": str(last["model_version"]),
        "model_family": str(last["model_family"]),
        "segment": str(last["segment"]),
        "releases": list(dict.fromkeys(rows["release_id"].astype(str))),
        "first_week": _day(rows["week_ending"].min()),
        "last_week": _day(rows["week_ending"].max()),
        **accuracy(rows),
        "alerts": [a.rule for a in alerts],
        "actions": sorted({a.action for a in alerts}),
    }


# ------------------------------------------------------------------------------ writing


def report_name(created: str) -> str:
    return f"{datetime.fromisoformat(created).astimezone(UTC):%Y%m%dT%H%M%SZ}.json"


def write_report(report: MonitoringReport, settings: Settings, out: str | None = None) -> list[str]:
    """Write the JSON (and, for a local file, the Plotly page) and `latest.json`."""
    data = json.dumps(report.to_dict(), indent=1, allow_nan=False).encode()
    folder = reports_dir(settings)
    target = out or str(folder / report_name(report.created))
    written = [write_atomic(target, data)]
    latest = folder / LATEST
    if Path(written[0]).resolve() != latest.resolve():
        written.append(write_atomic(latest, data))
    if "://" not in target:
        from shelfcast.monitoring.charts import write_report_page

        page = write_report_page(report, Path(target).with_suffix(".html"))
        if page is not None:
            written.append(str(page))
    return written


def read_report(path: str | Path) -> dict[str, Any]:
    """A report written by `write_report`."""
    try:
        document = json.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise ReportError(f"no report at {path}: run `shelfcast monitor report` first") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"cannot read the report {path}: {exc}") from None
    if not isinstance(document, dict) or document.get("format_version") != FORMAT_VERSION:
        raise ReportError(f"{path} is not a monitoring report (format {FORMAT_VERSION})")
    return document


def latest_report_path(settings: Settings) -> Path:
    return reports_dir(settings) / LATEST
