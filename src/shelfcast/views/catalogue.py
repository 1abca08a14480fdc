"""The catalogue's titles: segment, demand and seasonality statistics, and the selection."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console

from shelfcast.views.common import Col, console, make_table

if TYPE_CHECKING:
    from shelfcast.lifecycle.catalogue import TitlesResult


def print_titles(result: TitlesResult, out: Console | None = None) -> None:
    """A row per title listed, then the titles listed per segment. Low-value columns go
    first at narrow widths: title, zero weeks, ACF and CV², then weeks and seasonality."""
    out = out or console
    key = "ISBN" if result.kind == "bookscan" else "id"
    columns = [
        Col(key),
        Col("title", wrap=True, drop=5, max_width=32),
        Col("segment"),
        Col("weeks", justify="right", drop=2),
        Col("ADI", justify="right"),
        Col("CV²", justify="right", drop=3),
        Col("mean/wk (2y)", justify="right"),
        Col("zero weeks", justify="right", drop=4),
        Col("seasonal strength", justify="right", drop=1),
        Col("ACF lag 52", justify="right", drop=3),
        Col("selected"),
        Col("why", wrap=True),
    ]
    rows = [
        (
            str(row.key),
            str(row.title or ""),
            str(row.segment),
            f"{row.weeks:,}",
            _number(row.adi),
            _number(row.cv2),
            _number(row.mean_volume_recent, "{:,.0f}"),
            _number(row.zero_share, "{:.0%}"),
            _number(row.seasonal_strength),
            _number(row.acf52),
            "[green]yes[/green]" if row.selected else "",
            str(row.reason),
        )
        for row in result.table.itertuples(index=False)
    ]
    title = (
        f"{len(rows):,} of {result.catalogue_titles:,} titles listed; "
        f"{result.selected_titles} in the seasonal selection"
    )
    out.print(make_table(columns, rows, title=title, out=out))
    counts = ", ".join(f"{name} {n:,}" for name, n in result.by_segment.items())
    out.print(f"By segment: {counts or 'none'}", highlight=False)


def _number(value: object, fmt: str = "{:.2f}") -> str:
    """A statistic, or blank when there is none (a title without a series, no sale)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return fmt.format(value)
