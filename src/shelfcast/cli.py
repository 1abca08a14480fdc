"""The `shelfcast` command."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any, TypeVar

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shelfcast import settings
from shelfcast.errors import DataValidationError, Problem, ShelfcastError

app = typer.Typer(
    help="Shelfcast: weekly unit-sales forecasts per book, and their model lifecycle.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
)
data_app = typer.Typer(help="Sales data: the sample catalogue, validation, title selection.")
app.add_typer(data_app, name="data")

# Tables stay readable when output goes to a file or a CI log (rich assumes 80 columns there).
console = Console(width=None if sys.stdout.isatty() else 132)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 132)
F = TypeVar("F", bound=Callable[..., Any])


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


def parse_levels(values: Sequence[str] | None) -> tuple[int, ...]:
    levels = split_values(values) or ["80", "95"]
    try:
        parsed = tuple(sorted({int(v) for v in levels}))
    except ValueError:
        raise ShelfcastError(f"--level takes whole percentages such as 80, got {levels}") from None
    if any(not 0 < lv < 100 for lv in parsed):
        raise ShelfcastError(f"--level must be between 1 and 99, got {list(parsed)}")
    return parsed


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


def load_sales(data: Sequence[str] | None, isbn_list: str | None = None, strict: bool = False):
    """Read the given files, or the built-in sample catalogue (written on first use)."""
    from shelfcast.catalog.reader import read_sales

    if data:
        return read_sales(list(data), isbn_list=isbn_list, strict=strict)
    path = settings.sample_path()
    if not path.exists():
        from shelfcast.catalog.sample import write_sample

        err.print(f"Writing the sample catalogue to {path.parent} (first use)")
        write_sample(path.parent, fmt="parquet", seed=settings.SAMPLE_SEED)
    return read_sales([str(path)], isbn_list=str(path.parent / "isbn_list.csv"))


DataOption = Annotated[
    list[str] | None,
    typer.Option("--data", "-d", help="Sales file(s): xlsx, csv or parquet, local or gs://."),
]
StartOption = Annotated[
    str, typer.Option(help="Ignore weeks before this date ('' keeps all history).")
]


@data_app.command("sample")
@reports_errors
def data_sample(
    out: Annotated[Path, typer.Option(help="Folder to write the catalogue to.")],
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same data.")] = 42,
    fmt: Annotated[str, typer.Option("--format", help="csv, parquet or xlsx.")] = "csv",
) -> None:
    """Write the built-in sample catalogue in BookScan layout.

    Example: `shelfcast data sample --out data/ --format xlsx`
    """
    from shelfcast.catalog.sample import write_sample

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


@data_app.command("validate")
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


@data_app.command("titles")
@reports_errors
def data_titles(
    data: DataOption = None,
    max_titles: Annotated[int, typer.Option(help="At most this many titles.")] = 15,
    start: StartOption = "2012-01-01",
    show_all: Annotated[
        bool, typer.Option("--all", help="List every title, not only the selected.")
    ] = False,
) -> None:
    """The titles selected for a seasonal model, with the statistics behind the choice.

    Example: `shelfcast data titles --data exports/bookscan.xlsx --max-titles 20`
    """
    from shelfcast.catalog.selection import SelectionCriteria, select_titles
    from shelfcast.catalog.series import weekly_series

    sales = load_sales(data)
    series = weekly_series(sales, start=start or None)
    selection = select_titles(series, SelectionCriteria(max_titles=max_titles))
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


@app.command("forecast")
@reports_errors
def forecast(
    out: Annotated[str, typer.Option(help="Output file: .csv or .parquet.")],
    data: DataOption = None,
    isbn: Annotated[
        list[str] | None,
        typer.Option("--isbn", help="Titles to forecast (repeat or comma-separate)."),
    ] = None,
    all_titles: Annotated[
        bool, typer.Option("--all", help="Every title, not only the selected ones.")
    ] = False,
    horizon: Annotated[int, typer.Option(min=1, max=260, help="Weeks ahead.")] = 32,
    level: Annotated[
        list[str] | None, typer.Option(help="Interval levels in percent (default 80 and 95).")
    ] = None,
    start: StartOption = "2012-01-01",
    max_titles: Annotated[int, typer.Option(help="Selected titles at most.")] = 15,
    workers: Annotated[int | None, typer.Option(help="Processes (default: every core).")] = None,
    bundles: Annotated[
        Path | None, typer.Option(help="Also write each title's model bundle under this folder.")
    ] = None,
) -> None:
    """Fit, backtest and forecast titles without the pipeline.

    With no `--data`, forecasts the selected titles of the built-in sample catalogue. With
    long-format input (`unique_id, ds, y`) every series in the file is forecast.
    Interactive plots go to a folder beside the output file.

    Example: `shelfcast forecast --isbn 9780722532935 --horizon 52 --out forecasts.csv`
    """
    from shelfcast.catalog.selection import SelectionCriteria, select_titles
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import FitConfig, TitleFit, fit_titles, write_bundle
    from shelfcast.plots import title_figure, write_html

    if Path(out).suffix not in (".csv", ".parquet"):
        raise ShelfcastError(f"--out must end in .csv or .parquet, got {out!r}")
    levels = parse_levels(level)
    sales = load_sales(data)
    keys = split_values(isbn)
    series = weekly_series(sales, start=start or None, keys=keys or None)
    if not keys and sales.kind == "bookscan" and not all_titles:
        chosen = select_titles(series, SelectionCriteria(max_titles=max_titles)).selected
        series = [s for s in series if s.key in set(chosen)]
    if not series:
        raise ShelfcastError("no series to forecast")
    config = FitConfig(horizon=horizon, levels=levels)
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


def main() -> None:
    app(prog_name="shelfcast")


if __name__ == "__main__":
    sys.exit(main())
