"""`shelfcast data`: the sample catalogue, validation and title selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shelfcast.cli.common import (
    App,
    DataOption,
    IsbnListOption,
    IsbnOption,
    ProgressDisplay,
    SegmentOption,
    StartOption,
    console,
    make_table,
    print_problems,
    reports_errors,
    title_filter,
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
        list[str],
        typer.Argument(
            metavar="PATH",
            help="Sales files, folders or quoted globs (local paths or URIs).",
        ),
    ],
    isbn_list: IsbnListOption = None,
    strict: Annotated[
        bool,
        typer.Option(
            help="Treat warnings (repeated ISBN-weeks, volumes differing across files) as errors."
        ),
    ] = False,
) -> None:
    """Validate sales files; print every problem; exit 1 when there are errors.

    A folder stands for the sales files in it; an ISBN-week in several files is read once,
    from the file whose data ends latest.

    Example: `shelfcast data validate exports/ 'gs://bucket/bookscan/2024-*.csv' --strict`
    """
    from shelfcast.catalog.reader import validate_sales

    report = validate_sales(paths, isbn_list=isbn_list, strict=strict)
    print_problems(report.problems)
    columns = [
        Col("file", wrap=True),
        Col("sheets", wrap=True, drop=2),
        Col("rows", justify="right"),
        Col("titles", justify="right"),
        Col("weeks", justify="right"),
        Col("first week", justify="right", drop=3),
        Col("last week", justify="right", drop=3),
        Col("dropped", justify="right", drop=1),
        Col("errors", justify="right"),
        Col("warns", justify="right"),
    ]
    rows = [
        (
            f.path,
            ", ".join(f.sheets),
            f"{f.rows:,}",
            f"{f.titles:,}",
            f"{f.weeks:,}",
            "" if f.first_week is None else str(f.first_week.date()),
            "" if f.last_week is None else str(f.last_week.date()),
            f"{f.superseded:,}",
            f"[red]{f.errors}[/red]" if f.errors else "0",
            str(f.warnings),
        )
        for f in report.files
    ]
    if rows:
        console.print(make_table(columns, rows, title="Validation"))
    if report.superseded:
        console.print(
            f"Across files: {report.superseded:,} rows dropped for the same week in a later "
            f"file, {report.conflicting:,} of them with another volume (the later kept).",
            highlight=False,
        )
    if not report.ok:
        raise typer.Exit(1)


@app.command("titles")
@reports_errors
def data_titles(
    data: DataOption = None,
    isbn_list: IsbnListOption = None,
    isbn: IsbnOption = None,
    segment: SegmentOption = None,
    max_titles: Annotated[
        int | None,
        typer.Option(
            min=1,
            metavar="N",
            help="At most N titles: those that sold the most over the last 104 weeks; with "
            "--selected, the size of the selection (as `train --max-titles`).",
            show_default=False,
        ),
    ] = None,
    selected: Annotated[
        bool,
        typer.Option(
            "--selected", help="Only the seasonal selection, best first (what `train` fits)."
        ),
    ] = False,
    start: StartOption = None,
) -> None:
    """Every title with its segment (stage and demand class), ADI and CV² and mean weekly
    sales over the last 104 weeks, its seasonality statistics and whether the seasonal
    selection (`train`'s default) takes it, and why. Ends with the titles per segment.

    Example: `shelfcast data titles --segment young/lumpy`;
    `shelfcast data titles --data exports/bookscan.xlsx --selected --max-titles 20`
    """
    from shelfcast.lifecycle.catalogue import TitlesOptions, catalogue_titles
    from shelfcast.settings import load_settings
    from shelfcast.views.catalogue import print_titles

    options = TitlesOptions(
        data=tuple(data or ()),
        start=start,
        wanted=title_filter(isbn, segment, None if selected else max_titles),
        isbn_list=isbn_list,
        selected_only=selected,
        selection_size=max_titles if selected else None,
    )
    with ProgressDisplay() as progress:
        result = catalogue_titles(load_settings(), options, progress)
    print_titles(result)
