"""What every command shares: the app class (help in click's conventions), error reporting,
option parsing and the options several commands take. Output goes through `shelfcast.views`."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from shelfcast.errors import DataValidationError, ShelfcastError
from shelfcast.views.common import (
    ProgressDisplay,
    console,
    err,
    make_table,
    print_facts,
    print_problems,
)

if TYPE_CHECKING:
    from shelfcast.lifecycle.catalogue import TitleFilter

__all__ = [
    "App",
    "DataOption",
    "EnvOption",
    "ProgressDisplay",
    "StartOption",
    "console",
    "err",
    "make_table",
    "parse_levels",
    "parse_quantiles",
    "print_facts",
    "print_problems",
    "reports_errors",
    "split_values",
]

F = TypeVar("F", bound=Callable[..., Any])


# ------------------------------------------------------------------------ help in click's style


class _Argument(TyperArgument):
    """An argument shown by its metavar (`PATH...`, `[NAME]`), without a type tag."""

    def _label(self) -> str:
        return self.metavar or (self.name or "").upper()

    def display_type_rich(self, ctx: Any) -> str | None:
        return None

    def _rich_display_name(self) -> str:
        return self._label() + ("..." if self.nargs != 1 else "")

    def _usage_display_name(self) -> str:
        name = self._label() if self.required else f"[{self._label()}]"
        return name + ("..." if self.nargs != 1 else "")


class _Option(TyperOption):
    """An option shown with a metavar (`--isbn ISBN`, `--workers N`); a flag without one."""

    def display_type_rich(self, ctx: Any) -> str | None:
        if self.is_flag or self.count:
            return None
        if self.metavar:
            return self.metavar
        annotation = getattr(getattr(self, "type_descriptor", None), "annotation", None)
        named = {int: "N", float: "NUMBER", Path: "PATH"}
        return named.get(annotation) or (self.name or "value").upper().replace("_", "-")


def _in_click_style(params: list[Any]) -> list[Any]:
    for param in params:
        if type(param) is TyperArgument:
            param.__class__ = _Argument
        elif type(param) is TyperOption:
            param.__class__ = _Option
    return params


class HelpCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _in_click_style(super().get_params(ctx))


class HelpGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _in_click_style(super().get_params(ctx))


class App(typer.Typer):
    """`typer.Typer` whose help shows metavars (`ISBN`, `PATH...`), never type tags."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("cls", HelpGroup)
        kwargs.setdefault("rich_markup_mode", "markdown")
        super().__init__(*args, **kwargs)

    def command(self, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("cls", HelpCommand)
        return super().command(*args, **kwargs)


# ------------------------------------------------------------------------------------ errors


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


# ----------------------------------------------------------------------------------- options


def split_values(values: Sequence[str] | None) -> list[str]:
    """Options given repeatedly or comma-separated: `--isbn A --isbn B` or `--isbn A,B`."""
    return [v.strip() for value in values or [] for v in value.split(",") if v.strip()]


def title_filter(
    isbn: Sequence[str] | None, segment: Sequence[str] | None, max_titles: int | None
) -> TitleFilter:
    """`--isbn`, `--segment` and `--max-titles` as the titles of the catalogue they pick."""
    from shelfcast.lifecycle.catalogue import TitleFilter

    return TitleFilter(tuple(split_values(isbn)), tuple(split_values(segment)), max_titles)


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


def parse_quantiles(values: Sequence[str] | None, default: Sequence[float]) -> tuple[float, ...]:
    """`--quantiles` values, else `default` (the settings' `serving.quantiles`)."""
    from shelfcast.forecasting.calibration import TAUS

    quantiles = split_values(values)
    if not quantiles:
        return tuple(default)
    try:
        parsed = tuple(sorted({float(v) for v in quantiles}))
    except ValueError:
        raise ShelfcastError(
            f"--quantiles takes numbers such as 0.1,0.5,0.9, got {','.join(quantiles)}"
        ) from None
    if any(not TAUS[0] <= q <= TAUS[-1] for q in parsed):
        raise ShelfcastError(
            f"--quantiles must be between {TAUS[0]} and {TAUS[-1]}, got {','.join(quantiles)}"
        )
    return parsed


EnvOption = Annotated[
    str | None,
    typer.Option(
        "--env", metavar="ENV", help="development, testing or production (default: DEPLOYMENT_ENV)."
    ),
]
DataOption = Annotated[
    list[str] | None,
    typer.Option(
        "--data",
        "-d",
        metavar="PATH",
        help="Sales file(s), folder(s) or quoted glob(s): xlsx, csv or parquet, local or gs://.",
    ),
]
StartOption = Annotated[
    str | None,
    typer.Option(
        metavar="DATE",
        help="Ignore weeks before this date ('' keeps all history; default: data.start_date).",
        show_default=False,
    ),
]
HorizonOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        max=260,
        metavar="WEEKS",
        help="Weeks ahead (default: serving.horizon).",
        show_default=False,
    ),
]
MaxTitlesOption = Annotated[
    int | None,
    typer.Option(
        min=1,
        metavar="N",
        help="At most N titles: those that sold the most over the last 104 weeks.",
        show_default=False,
    ),
]
SegmentOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="SEGMENT",
        help="Titles of these segments (repeat or comma-separate): a stage (new, young, "
        "established, inactive, pre-publication), a demand class (smooth, erratic, "
        "intermittent, lumpy) or stage/demand, e.g. young/lumpy.",
    ),
]
IsbnListOption = Annotated[
    str | None,
    typer.Option(
        "--isbn-list",
        metavar="PATH",
        help="Title list (ISBN, Title, Author, Binding, Product Class, RRP, Publication Date): "
        "fills blank names and announces titles not yet on sale (default: data.isbn_list, or "
        "the sample catalogue's).",
        show_default=False,
    ),
]
IsbnOption = Annotated[
    list[str] | None,
    typer.Option("--isbn", metavar="ISBN", help="Titles (repeat or comma-separate)."),
]
LevelOption = Annotated[
    list[str] | None,
    typer.Option(metavar="PERCENT", help="Interval levels in percent (default: serving.levels)."),
]
QuantilesOption = Annotated[
    list[str] | None,
    typer.Option(
        metavar="Q",
        help="Quantiles, e.g. 0.1,0.5,0.9: columns p10, p50, p90 (default: serving.quantiles).",
    ),
]
