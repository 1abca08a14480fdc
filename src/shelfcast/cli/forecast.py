"""`shelfcast forecast`: fit and forecast titles without the pipeline, or forecast from a
release's models without an endpoint."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shelfcast.cli.common import (
    DataOption,
    HorizonOption,
    IsbnListOption,
    IsbnOption,
    LevelOption,
    MaxTitlesOption,
    ProgressDisplay,
    QuantilesOption,
    SegmentOption,
    StartOption,
    console,
    parse_levels,
    parse_quantiles,
    print_facts,
    reports_errors,
    split_values,
    title_filter,
)
from shelfcast.errors import ShelfcastError


@reports_errors
def forecast(
    out: Annotated[
        str,
        typer.Option(
            metavar="PATH",
            help="Output file: .csv or .parquet (with --release also .jsonl, or a URI).",
        ),
    ],
    data: DataOption = None,
    isbn_list: IsbnListOption = None,
    isbn: IsbnOption = None,
    segment: SegmentOption = None,
    all_titles: Annotated[
        bool,
        typer.Option(
            "--all",
            help="With --release: every title of the release. Fitting covers every title "
            "anyway (accepted for older scripts).",
        ),
    ] = False,
    horizon: HorizonOption = None,
    level: LevelOption = None,
    quantiles: QuantilesOption = None,
    start: StartOption = None,
    max_titles: MaxTitlesOption = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: every core).")] = None,
    bundles: Annotated[
        Path | None,
        typer.Option(metavar="DIR", help="Also write each title's model bundle under this folder."),
    ] = None,
    release: Annotated[
        str | None,
        typer.Option(
            metavar="RELEASE",
            help="Forecast from this release's models (id or URI) instead of fitting.",
        ),
    ] = None,
    input_file: Annotated[
        str | None,
        typer.Option(
            "--input", metavar="PATH", help="With --release: Vertex AI batch input (JSONL)."
        ),
    ] = None,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            metavar="FORMAT",
            help="With --release: parquet, csv or jsonl (default: --out's).",
        ),
    ] = None,
) -> None:
    """Fit, backtest and forecast titles without the pipeline, or (`--release`) forecast
    from a release's models without an endpoint.

    Fits every title of the data (BookScan, or long format `unique_id, ds, y`; with no
    `--data`, the built-in sample catalogue); `--isbn`, `--segment` and `--max-titles` (the
    best-selling over the last 104 weeks) narrow them. The output has the mean, the bounds of
    each `--level` interval, a column per `--quantiles` quantile (`p10` for 0.1), the model
    chosen and the title's segment. A table per segment closes the run. Every title not
    forecast (no sales from `--start` on, a failed fit) is listed with why, and written to
    `<out stem>_skipped.csv` beside the output. Interactive plots go to a folder beside it.

    With `--release` (`--all`, `--isbn` or `--input`), `--out` may be a local path or a URI
    (`gs://...`): parquet or csv in long format, or JSONL in Vertex AI's batch output format.

    Example: `shelfcast forecast --isbn 9780722532935 --horizon 52 --out forecasts.csv`;
    `shelfcast forecast --segment young/lumpy --segment new --out young.parquet`;
    `shelfcast forecast --release r-20240801-ab12cd34ef --all --out gs://b/forecasts.parquet`
    """
    from shelfcast.lifecycle.forecast import (
        FitOptions,
        ReleaseForecastOptions,
        forecast_release,
        forecast_titles,
    )
    from shelfcast.settings import load_settings
    from shelfcast.views.forecast import print_fits

    settings = load_settings()
    levels = parse_levels(level, settings.serving.levels)
    chosen_quantiles = parse_quantiles(quantiles, settings.serving.quantiles)
    isbns = tuple(split_values(isbn))
    if release is not None:
        if data or bundles or segment or isbn_list:
            raise ShelfcastError(
                "--release forecasts from released models: drop "
                "--data/--bundles/--segment/--isbn-list"
            )
        options = ReleaseForecastOptions(
            release=release,
            out=out,
            isbns=isbns,
            all_titles=all_titles,
            input_uri=input_file,
            fmt=fmt,
            horizon=horizon,
            levels=levels,
            quantiles=chosen_quantiles,
        )
        with ProgressDisplay() as progress:
            released = forecast_release(settings, options, progress)
        batch = released.batch
        unit = "lines" if batch.format == "jsonl" else "rows (title-weeks)"
        print_facts(
            [
                ("release", released.release_id),
                ("titles", f"{batch.titles:,}"),
                ("written", f"{batch.rows:,} {unit}, {batch.format}"),
                ("errors", f"{batch.errors:,}"),
                ("output", batch.out),
            ]
        )
        if batch.failed:
            shown = "; ".join(f"{isbn}: {why}" for isbn, why in batch.failed[:3])
            more = f" (and {len(batch.failed) - 3} more)" if len(batch.failed) > 3 else ""
            raise ShelfcastError(
                f"{len(batch.failed)} title(s) could not be forecast, the others are written: "
                f"{shown}{more}"
            )
        if batch.errors:
            raise ShelfcastError(
                f"{batch.errors} instance(s) answered with an error (see the output)"
            )
        return
    if input_file or fmt:
        raise ShelfcastError("--input and --format go with --release")
    fit_options = FitOptions(
        out=out,
        data=tuple(data or ()),
        wanted=title_filter(isbns, segment, max_titles),
        isbn_list=isbn_list,
        horizon=horizon,
        levels=levels,
        quantiles=chosen_quantiles,
        start=start,
        workers=workers,
        bundles=bundles,
    )
    with ProgressDisplay() as progress:
        result = forecast_titles(settings, fit_options, progress)
    print_fits(result)
    console.print(
        f"Forecasts: {result.out}   plots: {result.plots}/"
        + (f"   bundles: {result.bundles}/" if result.bundles else "")
        + (f"   not forecast: {result.skipped_file}" if result.skipped_file else ""),
        soft_wrap=True,
    )
