"""`shelfcast monitor`: actual sales in, accuracy and alerts out, retraining where needed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from shelfcast.cli.common import (
    console,
    err,
    print_facts,
    print_problems,
    progress_bar,
    reports_errors,
)

if TYPE_CHECKING:
    from shelfcast.monitoring.report import MonitoringReport
    from shelfcast.settings import Settings

app = typer.Typer(
    help="Monitoring: ingest actual sales, compare them with the released forecasts, raise "
    "alerts, retrain the alerting titles.\n\n"
    "Example: `shelfcast monitor actuals new_weeks.xlsx && shelfcast monitor report`",
    no_args_is_help=True,
    rich_markup_mode="markdown",
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
    paths: Annotated[list[str], typer.Argument(help="Sales files: xlsx, csv or parquet, or URIs.")],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="Take the new volume for weeks already stored with another one."
        ),
    ] = False,
    isbn_list: Annotated[
        str | None, typer.Option(help="An ISBN list (csv or xlsx) filling blank titles.")
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
        table = Table(title=f"{len(exc.conflicts)} conflicting week(s)")
        for column in ("ISBN", "week ending", "stored", "new"):
            table.add_column(column, justify="right" if column in ("stored", "new") else "left")
        for row in exc.conflicts.head(MAX_CONFLICTS_SHOWN).itertuples():
            table.add_row(
                row.isbn, f"{row.week_ending:%Y-%m-%d}", f"{row.stored:g}", f"{row.volume:g}"
            )
        console.print(table)
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
        str | None, typer.Option(help="Only weeks ending on or after this date (YYYY-MM-DD).")
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(help="Judge against this release only (id or URI; default: every one)."),
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(help="Write the JSON report here (default: the project's reports folder)."),
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
    from shelfcast.monitoring.report import EXIT_ALERTS, build_report, write_report

    settings = _settings()
    with progress_bar() as bar:
        task = bar.add_task("Loading release models", total=None, current="")
        built = build_report(
            settings,
            since=since,
            release=release,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
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
    table = Table(title=f"Accuracy of {len(titles)} title(s) against what sold")
    table.add_column("ISBN", no_wrap=True)
    table.add_column("title", max_width=24, no_wrap=True, overflow="ellipsis")
    table.add_column("model", no_wrap=True)
    for column in ("weeks", "WAPE", "MASE", "backtest", "bias", "cov 80", "cov 95"):
        table.add_column(column, justify="right", no_wrap=True)
    table.add_column("alerts", overflow="fold")
    for t in ranked[:MAX_TITLES_SHOWN]:
        table.add_row(
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
    console.print(table)
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
    table = Table(title=f"{len(built.alerts)} alert(s)")
    table.add_column("ISBN", no_wrap=True)
    table.add_column("title", max_width=20, no_wrap=True, overflow="ellipsis")
    table.add_column("rule", no_wrap=True)
    table.add_column("action", no_wrap=True)
    table.add_column("what was seen", overflow="fold")
    for alert in built.alerts:
        table.add_row(
            alert.isbn,
            names.get(alert.isbn, ""),
            alert.rule,
            f"[bold]{alert.action}[/bold]",
            f"{alert.model_name} v{alert.model_version}: {alert.message}",
        )
    console.print(table)


@app.command("retrain-if-needed")
@reports_errors
def retrain_if_needed(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be retrained, train nothing.")
    ] = False,
    report_file: Annotated[
        Path | None,
        typer.Option("--report", help="The report to act on (default: the latest)."),
    ] = None,
) -> None:
    """Retrain the titles whose alerts in the latest report recommend it, on the training
    data extended by the ingested actuals, through the training pipeline; the promotion
    gate decides whether each new version becomes the champion.

    Titles whose alerts recommend something else (roll back, investigate) are listed, not
    retrained. Serving the new champions takes `shelfcast package` and a deploy.

    Example: `shelfcast monitor retrain-if-needed --dry-run`
    """
    from shelfcast.cli.train import print_summary, train_with_progress
    from shelfcast.monitoring.report import latest_report_path, read_report
    from shelfcast.monitoring.retrain import plan_retraining, retraining_settings

    settings = _settings()
    path = report_file or latest_report_path(settings)
    document = read_report(path)
    plan = plan_retraining(document)
    table = Table(
        title=f"Report {path} ({document['created']}): {len(document['alerts'])} alert(s)"
    )
    table.add_column("ISBN", no_wrap=True)
    table.add_column("decision", no_wrap=True)
    table.add_column("alerts", overflow="fold")
    for isbn, rules in plan.retrain.items():
        table.add_row(isbn, "[bold]retrain[/bold]", ", ".join(rules))
    for isbn, reasons in plan.other.items():
        table.add_row(isbn, "not retrained", ", ".join(reasons))
    console.print(table)
    if not plan.retrain:
        console.print("Nothing to retrain.")
        return
    if dry_run:
        console.print(f"Dry run: {len(plan.retrain)} title(s) would be retrained.")
        return
    extended = retraining_settings(settings)
    console.print(f"Training data extended by the actuals: {extended.data.paths[0]}")
    summary = train_with_progress(extended, isbns=list(plan.retrain))
    print_summary(summary)
    console.print(
        "Serve the new champions: `shelfcast package`, then deploy the release it prints."
    )
    if summary.failed or any(t.reason.startswith("not registered") for t in summary.trained):
        raise typer.Exit(1)
