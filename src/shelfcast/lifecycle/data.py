"""Sales data for the commands that read it themselves (outside the training pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from shelfcast.lifecycle.progress import Progress, step
from shelfcast.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

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
    return read_sales(list(sources.sales), isbn_list=isbn_list or sources.isbn_list, strict=strict)


def load_titles(
    settings: Settings, data: Sequence[str] = (), isbn_list: str | None = None
) -> pd.DataFrame | None:
    """The title list's metadata (`catalog.metadata`): `isbn_list`, else, when `data` is not
    given, the settings' (`data.isbn_list`) or the sample catalogue's; None without one."""
    from shelfcast.catalog.metadata import read_metadata
    from shelfcast.training.sources import resolve_sources

    path = isbn_list or (None if data else resolve_sources(settings).isbn_list)
    return None if path is None else read_metadata(path)
