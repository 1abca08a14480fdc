"""`shelfcast data`: the sample catalogue, validation and title selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shelfcast.cli.common import (
    App,
    DataOption,
    MaxTitlesOption,
    ProgressDisplay,
    StartOption,
    console,
    make_table,
    print_problems,
    reports_errors,
)
from shelfcast.errors import ShelfcastError
from shelfcast.views.common import Col

app = App(help="Sales data: the sample catalogue, validation, title selection.")


@app.command("sample")
@reports_errors
def data_sample(
    out: Annotated[Path, typer.Option(metavar="DIR", help="Folder to write the catalogue to.")],
    seed: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Random seed; the same seed gives the same data (default: data.sample_seed).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", metavar="FORMAT", help="csv, parquet or xlsx.")
    ] = "csv",
    titles: Annotated[
        int | None,
        typer.Option(
            metavar="N",
            help="Number of titles, in the default catalogue's mix (default: 597; at most "
            "200,000).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write the built-in sample catalogue in BookScan layout, and its title list.

    Example: `shelfcast data sample --out data/ --format parquet --titles 10000`
    """
    from shelfcast.catalog.sample import scaled_mix, write_sample
    from shelfcast.lifecycle.progress import count
    from shelfcast.settings import load_settings

    if seed is None:
        seed = load_settings().data.sample_seed
    if fmt not in ("csv", "parquet", "xlsx"):
        raise ShelfcastError(f"--format must be csv, parquet or xlsx, got {fmt!r}")
    n_titles = scaled_mix(titles).titles
    label = f"Generating the sample catalogue (seed {seed})"
    with ProgressDisplay() as progress:
        paths = write_sample(
            out,
            fmt=fmt,  # type: ignore[arg-type]
            seed=seed,
            titles=titles,
            progress=lambda done, total: count(progress, "sample", label, done, total),
        )
    rows = [(str(path), f"{path.stat().st_size / 1e6:.1f} MB") for path in paths]
    columns = [Col("file", wrap=True), Col("size", justify="right")]
    console.print(make_table(columns, rows, title=f"Sample catalogue: {n_titles:,} titles"))


@app.command("validate")
@reports_errors
def data_validate(
    paths: Annotated[
        list[str], typer.Argument(metavar="PATH", help="Sales files (local paths or URIs).")
    ],
    isbn_list: Annotated[
        str | None, typer.Option(metavar="PATH", help="ISBN list that fills Author.")
    ] = None,
    strict: Annotated[bool, typer.Option(help="Treat duplicate ISBN-weeks as errors.")] = False,
) -> None:
    """Validate sales files; print every problem; exit 1 when there are errors.

    Example: `shelfcast data validate exports/bookscan_2024.xlsx --strict`
    """
    from shelfcast.catalog.reader import validate_sales

    report = validate_sales(paths, isbn_list=isbn_list, strict=strict)
    print_problems(report.problems)
    columns = [
        Col("file", wrap=True),
        Col("sheets", wrap=True, drop=1),
        Col("rows", justify="right"),
        Col("titles", justify="right"),
        Col("first week", justify="right", drop=2),
        Col("last week", justify="right", drop=2),
        Col("errors", justify="right"),
        Col("warns", justify="right"),
    ]
    rows = [
        (
            f.path,
            ", ".join(f.sheets),
            f"{f.rows:,}",
            f"{f.titles:,}",
            "" if f.first_week is None else str(f.first_week.date()),
            "" if f.last_week is None else str(f.last_week.date()),
            f"[red]{f.errors}[/red]" if f.errors else "0",
            str(f.warnings),
        )
        for f in report.files
    ]
    console.print(make_table(columns, rows, title="Validation"))
    if not report.ok:
        raise typer.Exit(1)


@app.command("titles")
@reports_errors
def data_titles(
    data: DataOption = None,
    max_titles: MaxTitlesOption = None,
    start: StartOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every title, not only the selected.")
    ] = False,
) -> None:
    """The titles selected for a seasonal model, with the statistics behind the choice.

    Example: `shelfcast data titles --data exports/bookscan.xlsx --max-titles 20`
    """
    from shelfcast.catalog.selection import select_titles
    from shelfcast.catalog.series import weekly_series
    from shelfcast.lifecycle.data import load_sales
    from shelfcast.settings import load_settings
    from shelfcast.training.sources import history_start, selection_criteria

    settings = load_settings()
    with ProgressDisplay() as progress:
        sales = load_sales(settings, tuple(data or ()), progress=progress)
    series = weekly_series(sales, start=history_start(settings, start))
    selection = select_titles(series, selection_criteria(settings, max_titles))
    shown = selection.table if show_all else selection.table[selection.table["selected"]]
    columns = [
        Col("ISBN"),
        Col("title", wrap=True, drop=1, max_width=40),
        Col("weeks", justify="right", drop=2),
        Col("mean/wk (2y)", justify="right"),
        Col("zero weeks", justify="right", drop=3),
        Col("seasonal strength", justify="right"),
        Col("ACF lag 52", justify="right"),
        Col("why", wrap=True),
    ]
    rows = [
        (
            str(row["key"]),
            str(row["title"] or ""),
            f"{row['weeks']:,}",
            f"{row['mean_volume_recent']:,.0f}",
            f"{row['zero_share']:.0%}",
            f"{row['seasonal_strength']:.2f}",
            f"{row['acf52']:.2f}",
            str(row["reason"]),
        )
        for _, row in shown.iterrows()
    ]
    title = f"{len(selection.selected)} of {len(series)} titles selected"
    console.print(make_table(columns, rows, title=title))
