"""Sales data for the commands that read it themselves (outside the training pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shelfcast.lifecycle.progress import Progress, step
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.catalog.reader import SalesData


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
