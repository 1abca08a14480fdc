"""Consoles, tables that fit the terminal, closing facts, problems and the progress display."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from shelfcast.errors import DataValidationError, Problem, ShelfcastError
from shelfcast.lifecycle.progress import ProgressEvent

PIPE_WIDTH = 132  # columns when output goes to a file or pipe and COLUMNS is not set
WRAP_MIN = 16  # a wrapping column is never made narrower than this (or its longest word)
WRAP_COMFORT = 40  # a wrapping column this wide (or as wide as its text) reads comfortably


def _width(stream: Any) -> int | None:
    """None (rich asks the terminal, or reads COLUMNS) for a terminal or when COLUMNS is
    set; else a width that keeps tables readable in a file or a CI log."""
    if stream.isatty() or os.environ.get("COLUMNS", "").isdigit():
        return None
    return PIPE_WIDTH


console = Console(width=_width(sys.stdout))
err = Console(stderr=True, width=_width(sys.stderr))


@dataclass(frozen=True)
class Col:
    """A column of `make_table`. Values of a column that does not `wrap` are kept on one
    line whole (ids, numbers, versions); a wrapping column's text wraps at spaces and long
    words fold. Columns with `drop` > 0 are left out when the table would not fit, the
    highest `drop` first."""

    header: str
    justify: str = "left"
    wrap: bool = False
    drop: int = 0
    max_width: int | None = None
    style: str | None = None


def _plain(cell: Any) -> str:
    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(str(cell)).plain


def make_table(
    columns: Sequence[Col],
    rows: Sequence[Sequence[Any]],
    *,
    title: str | None = None,
    width: int | None = None,
    out: Console | None = None,
) -> Table:
    """A table whose headers are never cut: each column is at least as wide as the longest
    word of its header, and of its values unless it wraps (then long words fold). When the
    columns do not fit `width` (default: the console's) comfortably, droppable columns go,
    and the caption says which."""
    width = width or (out or console).width
    minimum, comfortable, natural = [], [], []
    for i, column in enumerate(columns):
        cells = [_plain(row[i]) for row in rows]
        words = max((len(word) for word in column.header.split()), default=0)
        longest_line = max((len(line) for cell in cells for line in cell.splitlines()), default=0)
        if column.wrap:
            longest = max((len(word) for cell in cells for word in cell.split()), default=0)
            need, comfort = min(longest, WRAP_MIN), min(longest_line, WRAP_COMFORT)
        else:
            need = comfort = longest_line
        full = max(len(column.header), longest_line)
        if column.max_width is not None:
            need, comfort = min(need, column.max_width), min(comfort, column.max_width)
            full = min(full, column.max_width)
        minimum.append(max(words, need, 1))
        comfortable.append(max(words, comfort, 1))
        natural.append(max(minimum[-1], full))

    shown = list(range(len(columns)))

    def total(widths: list[int], indexes: list[int]) -> int:
        return sum(widths[i] for i in indexes) + 3 * len(indexes) + 1

    # Low-value columns go while the others would have to wrap their text (or, failing
    # that, could not fit at all).
    while total(comfortable, shown) > width:
        droppable = [i for i in shown if columns[i].drop > 0]
        if not droppable:
            break
        shown.remove(max(droppable, key=lambda i: (columns[i].drop, i)))
    widths = None
    if total(natural, shown) > width:
        # Too wide as it is: fix each column's width, from its minimum up, giving the space
        # left to the wrapping text, then to whole headers, then to the rest of the text.
        widths = {i: minimum[i] for i in shown}
        spare = width - total(minimum, shown)
        for target in (
            comfortable,
            [max(len(columns[i].header), minimum[i]) for i in range(len(columns))],
            natural,
        ):
            for i in shown:
                extra = max(0, min(target[i] - widths[i], spare))
                widths[i] += extra
                spare -= extra
    hidden = [columns[i].header for i in range(len(columns)) if i not in shown]
    caption = f"hidden at this width: {', '.join(hidden)}" if hidden else None
    table = Table(title=title, caption=caption)
    for i in shown:
        column = columns[i]
        table.add_column(
            column.header,
            justify=column.justify,  # type: ignore[arg-type]
            min_width=minimum[i],
            max_width=column.max_width,
            width=None if widths is None else widths[i],
            overflow="fold",
            style=column.style,
        )
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table


def facts_table(rows: Sequence[tuple[str, str]]) -> Table:
    """A closing summary: one bold name and its value per line (values fold)."""
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


def print_facts(rows: Sequence[tuple[str, str]], out: Console | None = None) -> None:
    (out or console).print(facts_table(rows))


def print_problems(problems: Sequence[Problem], out: Console | None = None) -> None:
    """One line per problem: severity, then file, sheet, row, column, message and value."""
    for p in problems:
        colour = "red" if p.severity == "error" else "yellow"
        (out or err).print(
            f"[{colour}]{p.severity}[/{colour}] {p}", soft_wrap=True, highlight=False
        )


class ProgressDisplay:
    """Draws `lifecycle` progress on stderr: a bar per key (what is being done, how many of
    how many, the time, the item at hand), and a line with the elapsed time per step."""

    def __init__(self, out: Console | None = None) -> None:
        self.out = out or err
        whole = Column(no_wrap=True)  # said in full; only the item at hand gives way
        self.bar = Progress(
            TextColumn("[bold]{task.description}", table_column=whole),
            BarColumn(bar_width=12, table_column=Column(no_wrap=True)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TimeElapsedColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[detail]}", table_column=Column(overflow="ellipsis")),
            console=self.out,
            transient=False,
        )
        self.tasks: dict[str, Any] = {}
        self.started = time.perf_counter()

    def __enter__(self) -> ProgressDisplay:
        self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.stop()

    def __call__(self, event: ProgressEvent) -> None:
        if event.is_step:
            seconds = time.perf_counter() - self.started
            self.bar.console.print(
                f"[dim]{seconds:6.1f}s[/dim] {escape(event.label)}", highlight=False
            )
            return
        detail = escape(event.detail)
        task = self.tasks.get(event.key)
        if task is None:
            task = self.bar.add_task(event.label, total=event.total, detail=detail)
            self.tasks[event.key] = task
        self.bar.update(
            task,
            description=escape(event.label),
            completed=event.done or 0,
            total=event.total,
            detail=detail,
        )


def exit_status(action: Callable[[], int | None]) -> int:
    """Run `action` (a script's body) and return its exit status: a `ShelfcastError` or
    `OSError` is printed as one message (data problems one per line) and gives 1."""
    try:
        return action() or 0
    except DataValidationError as exc:
        print_problems(exc.problems)
        err.print(f"[red]error:[/red] {len(exc.problems)} problem(s) in the input data")
    except (ShelfcastError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
    return 1
