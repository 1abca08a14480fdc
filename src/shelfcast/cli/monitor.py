"""`shelfcast monitor`: actual sales in, accuracy and alerts out, retraining where needed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shelfcast.cli.common import (
    App,
    ProgressDisplay,
    console,
    err,
    make_table,
    print_facts,
    print_problems,
    reports_errors,
)
from shelfcast.views.common import Col

if TYPE_CHECKING:
    from shelfcast.monitoring.report import MonitoringReport
    from shelfcast.settings import Settings

app = App(
    help="Monitoring: ingest actual sales, compare them with the released forecasts, raise "
    "alerts, retrain the alerting titles.\n\n"
    "Example: `shelfcast monitor actuals new_weeks.xlsx && shelfcast monitor report`",
    no_args_is_help=True,
)

MAX_CONFLICTS_SHOWN = 20
MAX_TITLES_SHOWN = 30


def _settings() -> Settings:
    from shelfcast.settings import load_settings

    return load_settings()


def _num(value: Any, digits: int = 2, suffix: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}f}{suffix}"


@app.command("actuals")
@reports_errors
def actuals(
    paths: Annotated[
        list[str],
        typer.Argument(metavar="PATH", help="Sales files: xlsx, csv or parquet, or URIs."),
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Take the new volume for weeks already stored with another one."
        ),
    ] = False,
    isbn_list: Annotated[
        str | None,
        typer.Option(metavar="PATH", help="An ISBN list (csv or xlsx) filling blank titles."),
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat warnings as errors.")] = False,
) -> None:
    """Ingest newer weeks of actual sales into the actuals store.

    Files are validated as training data is; any error refuses the whole ingest (exit 1,
    every problem listed with file, row and column). Weeks already stored with the same
    volume are counted as known, so ingesting a file twice changes nothing. A stored week
    with another volume is a conflict: refused (exit 1, nothing written) unless `--replace`.

    Example: `shelfcast monitor actuals data/bookscan_2024-08.xlsx`
    """
    from shelfcast.monitoring.actuals import ActualsConflict, ingest_actuals
    from shelfcast.monitoring.paths import actuals_path

    store = actuals_path(_settings())
    try:
        result = ingest_actuals(paths, store, replace=replace, isbn_list=isbn_list, strict=strict)
    except ActualsConflict as exc:
        columns = [
            Col("ISBN"),
            Col("week ending"),
            Col("stored", justify="right"),
            Col("new", justify="right"),
        ]
        rows = [
            (row.isbn, f"{row.week_ending:%Y-%m-%d}", f"{row.stored:g}", f"{row.volume:g}")
            for row in exc.conflicts.head(MAX_CONFLICTS_SHOWN).itertuples()
        ]
        title = f"{len(exc.conflicts)} conflicting week(s)"
        console.print(make_table(columns, rows, title=title))
        raise
    print_problems(result.warnings)
    weeks = (
        f"{result.first_week:%Y-%m-%d} to {result.last_week:%Y-%m-%d}" if result.first_week else "-"
    )
    changed = f"{result.changed:,}" + (" (replaced)" if result.replaced else "")
    console.print(f"[bold]Ingested {len(result.files)} file(s) into {store}[/bold]")
    print_facts(
        [
            ("rows read", f"{result.rows:,} ({result.titles:,} titles, weeks {weeks})"),
            ("new", f"{result.new:,}"),
            ("already known", f"{result.known:,}"),
            ("changed", changed),
            ("stored now", f"{result.stored:,} title-weeks"),
        ]
    )


@app.command("report")
@reports_errors
def report(
    since: Annotated[
        str | None,
        typer.Option(metavar="DATE", help="Only weeks ending on or after this date (YYYY-MM-DD)."),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(
            metavar="RELEASE",
            help="Judge against this release only (id or URI; default: every one).",
        ),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            metavar="PATH",
            help="Write the JSON report here (default: the project's reports folder).",
        ),
    ] = None,
) -> None:
    """Compare the released forecasts with the actual sales: WAPE, MASE, bias and interval
    coverage per title and overall, each title's realised MASE beside its backtest MASE, and
    alerts with the recommended action.

    Each week is judged against the newest release trained on data ending before it. The
    report is written as JSON (and a chart page) and copied to `reports/latest.json`.
    Exit status: 0 without alerts, 3 when alerts were raised, 1 on errors.

    Example: `shelfcast monitor report --since 2024-08-01 --out report.json`
    """
    from shelfcast.lifecycle.progress import count
    from shelfcast.monitoring.report import EXIT_ALERTS, build_report, write_report

    settings = _settings()
    with ProgressDisplay() as progress:
        built = build_report(
            settings,
            since=since,
            release=release,
            progress=lambda done, total: count(
                progress, "report.load", "Loading the releases' models", done, total
            ),
        )
    _print_titles(built.titles)
    _print_alerts(built)
    written = write_report(built, settings, out)
    overall, actual = built.overall, built.actuals
    weeks = f"{actual['first_week']} to {actual['last_week']}" if actual["first_week"] else "-"
    print_facts(
        [
            ("releases", ", ".join(r["release_id"] for r in built.releases)),
            (
                "actuals",
                f"{actual['title_weeks']:,} title-weeks, {actual['titles']:,} titles, {weeks}",
            ),
            ("compared", f"{actual['compared']:,} title-weeks, {overall['titles']:,} titles"),
            ("not forecast", _not_forecast(actual)),
            ("WAPE", _num(overall.get("wape"), 1, "%")),
            (
                "MASE",
                f"{_num(overall.get('mase'))} (backtest {_num(overall.get('expected_mase'))})",
            ),
            ("bias", _num(overall.get("bias"), 3)),
            (
                "coverage",
                f"80%: {_num(overall.get('coverage_80'), 0, '%')}   "
                f"95%: {_num(overall.get('coverage_95'), 0, '%')}",
            ),
            ("alerts", f"{len(built.alerts)}"),
            ("report", "   ".join(written)),
        ]
    )
    if not actual["compared"]:
        err.print(
            "[yellow]warning:[/yellow] no actual week was forecast by a release "
            "(the actuals end before, or start long after, every release's training data)"
        )
    if built.alerts:
        raise typer.Exit(EXIT_ALERTS)


def _not_forecast(actual: dict[str, Any]) -> str:
    unknown = actual["titles_in_no_release"]
    text = f"{actual['not_forecast']:,} title-weeks of released titles"
    if unknown:
        shown = ", ".join(unknown[:3]) + (" ..." if len(unknown) > 3 else "")
        text += f"; {len(unknown):,} titles in no release ({shown})"
    return text


def _print_titles(titles: list[dict[str, Any]]) -> None:
    def worst_first(t: dict[str, Any]) -> tuple[bool, float]:
        ratio = t.get("mase_ratio")
        return not t["alerts"], -ratio if ratio is not None and math.isfinite(ratio) else 0.0

    ranked = sorted(titles, key=worst_first)
    columns = [
        Col("ISBN"),
        Col("title", wrap=True, drop=3, max_width=24),
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
            f"v{t['model_version']} {t['model_family']}",
            str(t["weeks"]),
            _num(t.get("wape"), 1, "%"),
            _num(t.get("mase")),
            _num(t.get("expected_mase")),
            _num(t.get("bias")),
            _num(t.get("coverage_80"), 0, "%"),
            _num(t.get("coverage_95"), 0, "%"),
            f"[red]{', '.join(t['alerts'])}[/red]" if t["alerts"] else "",
        )
        for t in ranked[:MAX_TITLES_SHOWN]
    ]
    title = f"Accuracy of {len(titles)} title(s) against what sold"
    console.print(make_table(columns, rows, title=title))
    if len(ranked) > MAX_TITLES_SHOWN:
        console.print(f"... and {len(ranked) - MAX_TITLES_SHOWN} more titles in the report")
    console.print(
        "WAPE: sum |error| / sum sold; MASE: mean |error| scaled by the title's in-sample "
        "seasonal-naive error, beside its backtest MASE; bias: mean (forecast - sold) / mean "
        "sold; cov: share of weeks inside the 80% and 95% intervals."
    )


def _print_alerts(built: MonitoringReport) -> None:
    if not built.alerts:
        console.print("[green]No alerts.[/green]")
        return
    names = {t["isbn"]: t["title"] for t in built.titles}
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
        for alert in built.alerts
    ]
    console.print(make_table(columns, rows, title=f"{len(built.alerts)} alert(s)"))


@app.command("retrain-if-needed")
@reports_errors
def retrain_if_needed(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be retrained, train nothing.")
    ] = False,
    report_file: Annotated[
        Path | None,
        typer.Option(
            "--report", metavar="PATH", help="The report to act on (default: the latest)."
        ),
    ] = None,
) -> None:
    """Retrain the titles whose alerts in the latest report recommend it, on the training
    data extended by the ingested actuals, through the training pipeline; the promotion
    gate decides whether each new version becomes the champion.

    Titles whose alerts recommend something else (roll back, investigate) are listed, not
    retrained. Serving the new champions takes `shelfcast package` and a deploy.

    Example: `shelfcast monitor retrain-if-needed --dry-run`
    """
    from shelfcast.lifecycle.retrain import retrain_if_needed
    from shelfcast.views.training import print_training

    with ProgressDisplay() as progress:
        result = retrain_if_needed(_settings(), report_file, dry_run=dry_run, progress=progress)
    plan = result.plan
    rows = [
        (isbn, "[bold]retrain[/bold]", ", ".join(rules)) for isbn, rules in plan.retrain.items()
    ]
    rows += [(isbn, "not retrained", ", ".join(why)) for isbn, why in plan.other.items()]
    columns = [Col("ISBN"), Col("decision"), Col("alerts", wrap=True)]
    title = f"Report {result.report} ({result.report_created}): {result.alerts} alert(s)"
    console.print(make_table(columns, rows, title=title))
    if not plan.retrain:
        console.print("Nothing to retrain.")
        return
    if result.training is None:
        console.print(f"Dry run: {len(plan.retrain)} title(s) would be retrained.")
        return
    console.print(f"Training data extended by the actuals: {result.training_data}", soft_wrap=True)
    print_training(result.training)
    console.print(
        "Serve the new champions: `shelfcast package`, then deploy the release it prints."
    )
    if not result.training.ok:
        raise typer.Exit(1)
