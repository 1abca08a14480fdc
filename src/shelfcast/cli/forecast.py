"""`shelfcast forecast`: fit and forecast titles without the pipeline."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from shelfcast.cli.common import (
    DataOption,
    HorizonOption,
    LevelOption,
    StartOption,
    console,
    load_sales,
    parse_levels,
    progress_bar,
    reports_errors,
    split_values,
    start_or_setting,
)
from shelfcast.errors import ShelfcastError

if TYPE_CHECKING:
    from shelfcast.settings import Settings


def _write_table(frame: pd.DataFrame, out: str) -> None:
    """Write csv or parquet (by extension) atomically: a temporary sibling, then a rename."""
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.with_name(f".{target.name}.tmp")
    if target.suffix == ".parquet":
        frame.to_parquet(staging, index=False)
    else:
        frame.to_csv(staging, index=False, date_format="%Y-%m-%d", float_format="%.4f")
    staging.replace(target)


@reports_errors
def forecast(
    out: Annotated[
        str,
        typer.Option(help="Output file: .csv or .parquet (with --release also .jsonl, or a URI)."),
    ],
    data: DataOption = None,
    isbn: Annotated[
        list[str] | None,
        typer.Option("--isbn", help="Titles to forecast (repeat or comma-separate)."),
    ] = None,
    all_titles: Annotated[
        bool, typer.Option("--all", help="Every title, not only the selected ones.")
    ] = False,
    horizon: HorizonOption = None,
    level: LevelOption = None,
    start: StartOption = None,
    max_titles: Annotated[
        int | None,
        typer.Option(
            help="Selected titles at most (default: selection.max_seasonal_books).",
            show_default=False,
        ),
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: every core).")] = None,
    bundles: Annotated[
        Path | None, typer.Option(help="Also write each title's model bundle under this folder.")
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(help="Forecast from this release's models (id or URI) instead of fitting."),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option("--input", help="With --release: Vertex AI batch input (JSONL instances)."),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option("--format", help="With --release: parquet, csv or jsonl (default: --out's)."),
    ] = None,
) -> None:
    """Fit, backtest and forecast titles without the pipeline, or (`--release`) forecast
    from a release's models without an endpoint.

    With no `--data`, forecasts the selected titles of the built-in sample catalogue. With
    long-format input (`unique_id, ds, y`) every series in the file is forecast.
    Interactive plots go to a folder beside the output file.

    With `--release` (`--all`, `--isbn` or `--input`), `--out` may be a local path or a URI
    (`gs://...`): parquet or csv in long format, or JSONL in Vertex AI's batch output format.

    Example: `shelfcast forecast --isbn 9780722532935 --horizon 52 --out forecasts.csv`;
    `shelfcast forecast --release r-20240801-ab12cd34ef --all --out gs://b/forecasts.parquet`
    """
    from shelfcast.catalog.selection import SelectionCriteria, select_titles
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import TitleFit, fit_titles, write_bundle
    from shelfcast.plots import title_figure, write_html
    from shelfcast.settings import load_settings
    from shelfcast.training.run import fit_config

    settings = load_settings()
    horizon = horizon or settings.serving.horizon
    levels = parse_levels(level, settings.serving.levels)
    if release is not None:
        if data or bundles:
            raise ShelfcastError("--release forecasts from released models: drop --data/--bundles")
        _release_forecast(
            settings, release, out, split_values(isbn), all_titles, input_file, fmt, horizon, levels
        )
        return
    if input_file or fmt:
        raise ShelfcastError("--input and --format go with --release")
    if Path(out).suffix not in (".csv", ".parquet"):
        raise ShelfcastError(f"--out must end in .csv or .parquet, got {out!r}")
    sales = load_sales(data, settings)
    keys = split_values(isbn)
    series = weekly_series(sales, start=start_or_setting(start, settings), keys=keys or None)
    if not keys and sales.kind == "bookscan" and not all_titles:
        criteria = SelectionCriteria(
            max_titles=max_titles or settings.selection.max_seasonal_books,
            always_include=settings.selection.default_test_isbns,
        )
        chosen = select_titles(series, criteria).selected
        series = [s for s in series if s.key in set(chosen)]
    if not series:
        raise ShelfcastError("no series to forecast")
    config = fit_config(settings, horizon=horizon, levels=levels)
    with progress_bar() as bar:
        task = bar.add_task("Fitting titles", total=len(series), current="")

        def advance(s: Any, _fit: TitleFit | None) -> None:
            bar.update(task, advance=1, current=s.key)

        fits, errors = fit_titles(series, config, workers=workers, progress=advance)
    key_column = "isbn" if sales.kind == "bookscan" else "unique_id"
    plots = Path(out).with_name(Path(out).stem + "_plots")
    frames = []
    for fit in fits:
        frame = fit.bundle.forecast(horizon, levels)
        write_html(title_figure(fit, frame), plots / f"{fit.key}.html")
        if bundles:
            write_bundle(fit.bundle, bundles / fit.key)
        frames.append(frame.assign(**{key_column: fit.key, "model": fit.champion}))
    if not frames:
        raise ShelfcastError(f"every series failed: {errors}")
    result = pd.concat(frames, ignore_index=True)
    columns = [key_column, "week_ending", "mean"]
    columns += [f"{b}_{lv}" for lv in levels for b in ("lo", "hi")] + ["model"]
    _write_table(result[columns], out)
    _print_fit_summary(fits, errors, horizon)
    console.print(
        f"Forecasts: {out}   plots: {plots}/" + (f"   bundles: {bundles}/" if bundles else "")
    )
    if errors:
        raise typer.Exit(1)


def _release_forecast(
    settings: Settings,
    release_id: str,
    out: str,
    isbns: list[str],
    all_titles: bool,
    input_file: str | None,
    fmt: str | None,
    horizon: int,
    levels: tuple[int, ...],
) -> None:
    """Batch forecasts from a release (`shelfcast.batch`)."""
    from shelfcast.batch import batch_forecast, select_models
    from shelfcast.releases import open_release

    if not (all_titles or isbns or input_file):
        raise ShelfcastError("with --release, give --all, --isbn or --input")
    if input_file and (all_titles or isbns):
        raise ShelfcastError("--input names its own titles: drop --all/--isbn")
    chosen = select_models(open_release(settings.artifact_root, release_id), isbns)
    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                label = "Loading models" if stage == "loading" else "Forecasting"
                tasks[stage] = bar.add_task(label, total=total, current="")
            bar.update(tasks[stage], completed=done, total=total)

        result = batch_forecast(
            chosen,
            out,
            fmt=fmt,
            horizon=horizon,
            levels=levels,
            input_uri=input_file,
            progress=progress,
        )
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    unit = "lines" if result.format == "jsonl" else "rows (title-weeks)"
    for name, value in (
        ("release", chosen.release_id),
        ("titles", f"{result.titles:,}"),
        ("written", f"{result.rows:,} {unit}, {result.format}"),
        ("errors", f"{result.errors:,}"),
        ("output", result.out),
    ):
        table.add_row(name, value)
    console.print(table)
    if result.errors:
        raise ShelfcastError(f"{result.errors} instance(s) answered with an error (see the output)")


def _print_fit_summary(fits: Sequence[Any], errors: dict[str, str], horizon: int) -> None:
    table = Table(title=f"{len(fits)} title(s) forecast {horizon} weeks ahead")
    table.add_column("ISBN / id", no_wrap=True)
    table.add_column("title", max_width=24, no_wrap=True, overflow="ellipsis")
    table.add_column("champion", no_wrap=True)
    for name in ("MASE", "naive", "holdout", f"next {horizon}w"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("note", overflow="fold")
    for fit in fits:
        holdout = fit.holdout.get(fit.champion, {}).get("mase", float("nan"))
        history = fit.bundle.history
        table.add_row(
            fit.key,
            history.title or "",
            fit.champion,
            f"{fit.champion_mase:.2f}",
            f"{fit.baseline_mase:.2f}",
            f"{holdout:.2f}",
            f"{fit.bundle.forecast(horizon)['mean'].sum():,.0f}",
            fit.fallback or "",
        )
    for key, reason in errors.items():
        table.add_row(key, "", "[red]failed[/red]", "", "", "", "", reason)
    console.print(table)
    console.print(
        "MASE: mean backtest MASE of the champion; naive: the seasonal-naive baseline's; "
        "holdout: the champion's MASE on the held-out weeks."
    )
