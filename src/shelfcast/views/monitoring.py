"""The monitoring report: accuracy per title and per demand segment, the alerts, a summary."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.console import Console

from shelfcast.views.common import Col, console, make_table, print_facts

if TYPE_CHECKING:
    from shelfcast.monitoring.report_types import MonitoringReport

MAX_TITLES_SHOWN = 30


def figure(value: Any, digits: int = 2, suffix: str = "") -> str:
    """A figure rounded to `digits`, or `-` for none (NaN, infinite or missing)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}{suffix}"


def print_report(report: MonitoringReport, out: Console | None = None) -> None:
    """The titles (alerting first, then by realised over backtest MASE), the segments and
    the alerts."""
    out = out or console
    print_titles(report.titles, out)
    print_segments(report.segments, out)
    print_alerts(report, out)


def print_titles(titles: Sequence[dict[str, Any]], out: Console | None = None) -> None:
    out = out or console

    def worst_first(t: dict[str, Any]) -> tuple[bool, float]:
        ratio = t.get("mase_ratio")
        return not t["alerts"], -ratio if ratio is not None and math.isfinite(ratio) else 0.0

    ranked = sorted(titles, key=worst_first)
    columns = [
        Col("ISBN"),
        Col("title", wrap=True, drop=3, max_width=24),
        Col("segment"),
        Col("model", wrap=True, drop=1),
        Col("weeks", justify="right", drop=2),
        Col("WAPE", justify="right"),
        Col("MASE", justify="right"),
        Col("backtest", justify="right"),
        Col("bias", justify="right", drop=4),
        Col("cov 80", justify="right", drop=5),
        Col("cov 95", justify="right"),
        Col("alerts", wrap=True),
    ]
    rows = [
        (
            t["isbn"],
            t["title"],
            t["segment"],
            f"v{t['model_version']} {t['model_family']}",
            str(t["weeks"]),
            figure(t.get("wape"), 1, "%"),
            figure(t.get("mase")),
            figure(t.get("expected_mase")),
            figure(t.get("bias")),
            figure(t.get("coverage_80"), 0, "%"),
            figure(t.get("coverage_95"), 0, "%"),
            f"[red]{', '.join(t['alerts'])}[/red]" if t["alerts"] else "",
        )
        for t in ranked[:MAX_TITLES_SHOWN]
    ]
    title = f"Accuracy of {len(titles)} title(s) against what sold"
    out.print(make_table(columns, rows, title=title, out=out))
    if len(ranked) > MAX_TITLES_SHOWN:
        out.print(f"... and {len(ranked) - MAX_TITLES_SHOWN} more titles in the report")
    out.print(
        "WAPE: sum |error| / sum sold; MASE: mean |error| scaled by the title's in-sample "
        "seasonal-naive error, beside its backtest MASE; bias: mean (forecast - sold) / mean "
        "sold; cov: share of weeks inside the 80% and 95% intervals; model: version and family."
    )


def print_segments(segments: Sequence[dict[str, Any]], out: Console | None = None) -> None:
    """Accuracy per demand segment, then over all titles (`forecasting.segment_accuracy`)."""
    out = out or console
    columns = [
        Col("segment"),
        Col("titles", justify="right"),
        Col("weeks", justify="right"),
        Col("WAPE", justify="right"),
        Col("MASE", justify="right"),
        Col("cov 80", justify="right"),
        Col("cov 95", justify="right"),
    ]
    rows = [
        (
            s["segment"],
            str(s["titles"]),
            str(s["weeks"]),
            figure(s.get("wape"), 1, "%"),
            figure(s.get("mase")),
            figure(s.get("coverage_80"), 0, "%"),
            figure(s.get("coverage_95"), 0, "%"),
        )
        for s in segments
    ]
    out.print(make_table(columns, rows, title="Accuracy per segment", out=out))
    out.print(
        "Per segment: WAPE over all its titles' weeks; MASE: mean of its titles' MASE; cov: "
        "share of all its weeks inside the intervals."
    )


def print_alerts(report: MonitoringReport, out: Console | None = None) -> None:
    out = out or console
    if not report.alerts:
        out.print("[green]No alerts.[/green]")
        return
    names = {t["isbn"]: t["title"] for t in report.titles}
    columns = [
        Col("ISBN"),
        Col("title", wrap=True, drop=1, max_width=20),
        Col("rule"),
        Col("action"),
        Col("what was seen", wrap=True),
    ]
    rows = [
        (
            alert.isbn,
            names.get(alert.isbn, ""),
            alert.rule,
            f"[bold]{alert.action}[/bold]",
            f"{alert.model_name} v{alert.model_version}: {alert.message}",
        )
        for alert in report.alerts
    ]
    out.print(make_table(columns, rows, title=f"{len(report.alerts)} alert(s)", out=out))


def print_report_summary(
    report: MonitoringReport, written: Sequence[str], out: Console | None = None
) -> None:
    """What was compared, the overall figures, the alerts and the files written."""
    overall, actual = report.overall, report.actuals
    weeks = f"{actual['first_week']} to {actual['last_week']}" if actual["first_week"] else "-"
    print_facts(
        [
            ("releases", ", ".join(r["release_id"] for r in report.releases)),
            (
                "actuals",
                f"{actual['title_weeks']:,} title-weeks, {actual['titles']:,} titles, {weeks}",
            ),
            ("compared", f"{actual['compared']:,} title-weeks, {overall['titles']:,} titles"),
            ("not forecast", _not_forecast(actual)),
            ("WAPE", figure(overall.get("wape"), 1, "%")),
            (
                "MASE",
                f"{figure(overall.get('mase'))} (backtest {figure(overall.get('expected_mase'))})",
            ),
            ("bias", figure(overall.get("bias"), 3)),
            (
                "coverage",
                f"80%: {figure(overall.get('coverage_80'), 0, '%')}   "
                f"95%: {figure(overall.get('coverage_95'), 0, '%')}",
            ),
            ("alerts", f"{len(report.alerts)}"),
            ("report", "   ".join(written)),
        ],
        out,
    )


def _not_forecast(actual: dict[str, Any]) -> str:
    unknown = actual["titles_in_no_release"]
    text = f"{actual['not_forecast']:,} title-weeks of released titles"
    if unknown:
        shown = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        text += f"; {len(unknown):,} titles in no release ({shown})"
    return text
