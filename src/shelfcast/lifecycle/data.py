"""Sales data for the commands that read it themselves (outside the training pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shelfcast.lifecycle.progress import Progress, step
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.catalog.reader import SalesData
    from shelfcast.catalog.selection import SelectionCriteria


def load_sales(
    settings: Settings,
    data: Sequence[str] = (),
    *,
    isbn_list: str | None = None,
    strict: bool = False,
    progress: Progress | None = None,
) -> SalesData:
    """Read `data` (files or URIs), else the settings' data, else the built-in sample
    catalogue (written under the project folder on first use)."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.training.sources import resolve_sources

    if data:
        return read_sales(list(data), isbn_list=isbn_list, strict=strict)
    sources = resolve_sources(
        settings,
        on_write_sample=lambda path: step(
            progress, "sample", f"Writing the sample catalogue to {path.parent} (first use)"
        ),
    )
    return read_sales(list(sources.sales), isbn_list=sources.isbn_list or isbn_list, strict=strict)


def history_start(settings: Settings, start: str | None = None) -> str | None:
    """`start` if given, else the settings' `data.start_date`; '' keeps all history (None)."""
    return (settings.data.start_date if start is None else start) or None


def selection_criteria(settings: Settings, max_titles: int | None = None) -> SelectionCriteria:
    """The settings' seasonal selection: at most `max_titles` (default
    `selection.max_seasonal_books`), the seed's test titles always in."""
    from shelfcast.catalog.selection import SelectionCriteria

    return SelectionCriteria(
        max_titles=max_titles or settings.selection.max_seasonal_books,
        always_include=settings.selection.default_test_isbns,
    )
