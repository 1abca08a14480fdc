"""`shelfcast data`: the sample catalogue, validation and title selection."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shelfcast.cli.common import (
    DataOption,
    StartOption,
    console,
    load_sales,
    print_problems,
    reports_errors,
    start_or_setting,
)
from shelfcast.errors import ShelfcastError

app = typer.Typer(help="Sales data: the sample catalogue, validation, title selection.")


@app.command("sample")
@reports_errors
def data_sample(
    out: Annotated[Path, typer.Option(help="Folder to write the catalogue to.")],
    seed: Annotated[
        int | None,
        typer.Option(
            help="Random seed; the same seed gives the same data (default: data.sample_seed).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")] = "csv",
) -> None:
    """Write the built-in sample catalogue in BookScan layout.

    Example: `shelfcast data sample --out data/ --format xlsx`
    """
    from shelfcast.catalog.sample import write_sample
    from shelfcast.settings import load_settings

    if seed is None:
        seed = load_settings().data.sample_seed
    if fmt not in ("csv", "parquet", "xlsx"):
        raise ShelfcastError(f"--format must be csv, parquet or xlsx, got {fmt!r}")
    with console.status(f"Generating the sample catalogue (seed {seed})"):
        paths = write_sample(out, fmt=fmt, seed=seed)  # type: ignore[arg-type]
    table = Table(title="Sample catalogue")
    table.add_column("file")
    table.add_column("size", justify="right")
    for path in paths:
        table.add_row(str(path), f"{path.stat().st_size / 1e6:.1f} MB")
    console.print(table)


@app.command("validate")
@reports_errors
def data_validate(
    paths: Annotated[list[str], typer.Argument(help="Sales files (local paths or URIs).")],
    isbn_list: Annotated[str | None, typer.Option(help="ISBN list that fills Author.")] = None,
    strict: Annotated[bool, typer.Option(help="Treat duplicate ISBN-weeks as errors.")] = False,
) -> None:
    """Validate sales files; print every problem; exit 1 when there are errors.

    Example: `shelfcast data validate exports/bookscan_2024.xlsx --strict`
    """
    from shelfcast.catalog.reader import validate_sales

    report = validate_sales(paths, isbn_list=isbn_list, strict=strict)
    print_problems(report.problems)
    table = Table(title="Validation")
    for column in (
        "file",
        "sheets",
        "rows",
        "titles",
        "first week",
        "last week",
        "errors",
        "warns",
    ):
        table.add_column(column, justify="left" if column in ("file", "sheets") else "right")
    for f in report.files:
        table.add_row(
            f.path,
            ", ".join(f.sheets),
            f"{f.rows:,}",
            f"{f.titles:,}",
            "" if f.first_week is None else str(f.first_week.date()),
            "" if f.last_week is None else str(f.last_week.date()),
            f"[red]{f.errors}[/red]" if f.errors else "0",
            str(f.warnings),
        )
    console.print(table)
    if not report.ok:
        raise typer.Exit(1)


@app.command("titles")
@reports_errors
def data_titles(
    data: DataOption = None,
    max_titles: Annotated[
        int | None,
        typer.Option(
            help="At most this many titles (default: selection.max_seasonal_books).",
            show_default=False,
        ),
    ] = None,
    start: StartOption = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every title, not only the selected.")
    ] = False,
) -> None:
    """The titles selected for a seasonal model, with the statistics behind the choice.

    Example: `shelfcast data titles --data exports/bookscan.xlsx --max-titles 20`
    """
    from shelfcast.catalog.selection import SelectionCriteria, select_titles
    from shelfcast.catalog.series import weekly_series
    from shelfcast.settings import load_settings

    settings = load_settings()
    sales = load_sales(data, settings)
    series = weekly_series(sales, start=start_or_setting(start, settings))
    criteria = SelectionCriteria(
        max_titles=max_titles or settings.selection.max_seasonal_books,
        always_include=settings.selection.default_test_isbns,
    )
    selection = select_titles(series, criteria)
    shown = selection.table if show_all else selection.table[selection.table["selected"]]
    table = Table(title=f"{len(selection.selected)} of {len(series)} titles selected")
    columns = {
        "key": "ISBN",
        "title": "title",
        "weeks": "weeks",
        "mean_volume_recent": "mean/wk (2y)",
        "zero_share": "zero weeks",
        "seasonal_strength": "seasonal strength",
        "acf52": "ACF lag 52",
        "reason": "why",
    }
    for name in columns.values():
        table.add_column(name, overflow="fold")
    for _, row in shown.iterrows():
        table.add_row(
            str(row["key"]),
            str(row["title"] or "")[:40],
            f"{row['weeks']:,}",
            f"{row['mean_volume_recent']:,.0f}",
            f"{row['zero_share']:.0%}",
            f"{row['seasonal_strength']:.2f}",
            f"{row['acf52']:.2f}",
            str(row["reason"]),
        )
    console.print(table)
