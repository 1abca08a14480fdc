"""`shelfcast monitor`: actual sales in, accuracy and alerts out, retraining where needed."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
    from shelfcast.settings import Settings

app = App(
    help="Monitoring: ingest actual sales, compare them with the released forecasts, raise "
    "alerts, retrain the alerting titles.\n\n"
    "Example: `shelfcast monitor actuals new_weeks.xlsx && shelfcast monitor report`",
    no_args_is_help=True,
)

MAX_CONFLICTS_SHOWN = 20


def _settings() -> Settings:
    from shelfcast.settings import load_settings

    return load_settings()


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
    coverage per title (with its demand segment and model family) and overall, each title's
    realised MASE beside its backtest MASE, WAPE, MASE and coverage per segment, and alerts
    with the recommended action.

    Each week is judged against the newest release trained on data ending before it. The
    report is written as JSON (and a chart page) and copied to `reports/latest.json`.
    Exit status: 0 without alerts, 3 when alerts were raised, 1 on errors.

    Example: `shelfcast monitor report --since 2024-08-01 --out report.json`
    """
    from shelfcast.lifecycle.progress import count
    from shelfcast.monitoring.report import EXIT_ALERTS, build_report, write_report
    from shelfcast.views.monitoring import print_report, print_report_summary

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
    print_report(built)
    written = write_report(built, settings, out)
    print_report_summary(built, written)
    if not built.actuals["compared"]:
        err.print(
            "[yellow]warning:[/yellow] no actual week was forecast by a release "
            "(the actuals end before, or start long after, every release's training data)"
        )
    if built.alerts:
        raise typer.Exit(EXIT_ALERTS)


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
