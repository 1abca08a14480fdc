"""What every command shares: consoles, error reporting, progress bars, option parsing."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shelfcast.errors import DataValidationError, Problem, ShelfcastError
from shelfcast.settings import Settings

# Tables stay readable when output goes to a file or a CI log (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 132)
F = TypeVar("F", bound=Callable[..., Any])

EnvOption = Annotated[
    str | None,
    typer.Option("--env", help="development, testing or production (default: DEPLOYMENT_ENV)."),
]


def reports_errors(func: F) -> F:
    """Turn Shelfcast's typed errors into one clear message and exit status 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except DataValidationError as exc:
            print_problems(exc.problems)
            err.print(f"[red]error:[/red] {len(exc.problems)} problem(s) in the input data")
            raise typer.Exit(1) from None
        except (ShelfcastError, OSError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from None

    return wrapper  # type: ignore[return-value]


def print_problems(problems: Sequence[Problem]) -> None:
    """One line per problem: severity, then file, sheet, row, column, message and value."""
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        err.print(f"[{colour}]{p.severity}[/{colour}] {p}", soft_wrap=True, highlight=False)


def split_values(values: Sequence[str] | None) -> list[str]:
    """Options given repeatedly or comma-separated: `--isbn A --isbn B` or `--isbn A,B`."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def parse_levels(values: Sequence[str] | None, default: Sequence[int]) -> tuple[int, ...]:
    """`--level` values, else `default` (the settings' `serving.levels`)."""
    levels = split_values(values) or [str(v) for v in default]
    try:
        parsed = tuple(sorted({int(v) for v in levels}))
    except ValueError:
        raise ShelfcastError(f"--level takes whole percentages such as 80, got {levels}") from None
    if any(not 0 < lv < 100 for lv in parsed):
        raise ShelfcastError(f"--level must be between 1 and 99, got {list(parsed)}")
    return parsed


def print_facts(rows: Sequence[tuple[str, str]]) -> None:
    """A command's closing summary: one bold name and its value per line."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column()
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[current]}"),
        console=err,
        transient=False,
    )


def load_sales(
    data: Sequence[str] | None,
    settings: Settings,
    isbn_list: str | None = None,
    strict: bool = False,
):
    """Read the given files, or the built-in sample catalogue of `settings` (written on first
    use); the settings' own `data.paths` are not read: `--data` names the files."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.training.sources import resolve_sources

    if data:
        return read_sales(list(data), isbn_list=isbn_list, strict=strict)
    sources = resolve_sources(
        settings.replace(data={"paths": ()}),
        on_write_sample=lambda path: err.print(
            f"Writing the sample catalogue to {path.parent} (first use)"
        ),
    )
    return read_sales(list(sources.sales), isbn_list=sources.isbn_list)


DataOption = Annotated[
    list[str] | None,
    typer.Option("--data", "-d", help="Sales file(s): xlsx, csv or parquet, local or gs://."),
]
StartOption = Annotated[
    str | None,
    typer.Option(
        help="Ignore weeks before this date ('' keeps all history; default: data.start_date).",
        show_default=False,
    ),
]
LevelOption = Annotated[
    list[str] | None,
    typer.Option(help="Interval levels in percent (default: serving.levels).", show_default=False),
]
HorizonOption = Annotated[
    int | None,
    typer.Option(
        min=1, max=260, help="Weeks ahead (default: serving.horizon).", show_default=False
    ),
]


def start_or_setting(start: str | None, settings: Settings) -> str | None:
    """`--start` if given, else the settings' `data.start_date`; '' means all history (None)."""
    return (settings.data.start_date if start is None else start) or None
