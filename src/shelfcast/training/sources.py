"""The pipeline's input files, the fingerprint that decides what is cached, and the weeks and
titles the settings choose from them.

The fingerprint is a sha256 of the input files' bytes (read through fsspec, so `gs://` and
other URIs work; folders and globs stand for the sales files they hold, as the reader reads
them), in the order given, each prefixed by its role and length: not of their names,
paths or modification times. The same bytes under another name give the same fingerprint, so
a rerun on unchanged data is served from ZenML's cache; one changed byte retrains.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import fsspec

from shelfcast.atomic import write_atomic
from shelfcast.errors import DataValidationError
from shelfcast.settings import Settings

if TYPE_CHECKING:
    from shelfcast.catalog.selection import SelectionCriteria

CHUNK = 1 << 20
# Beside a cached sample catalogue: the generator version that wrote it. Written last, so a
# sample cached by another version (or half written) is written again.
SAMPLE_MARKER = "generator-version"


@dataclass(frozen=True)
class DataSources:
    """Sales files (local paths or URIs) and an optional ISBN list that fills in names."""

    sales: tuple[str, ...]
    isbn_list: str | None = None
    sample_seed: int | None = None  # set when the files are the built-in sample catalogue

    def __post_init__(self) -> None:
        object.__setattr__(self, "sales", tuple(self.sales))

    def describe(self) -> str:
        if self.sample_seed is not None:
            return f"sample catalogue (seed {self.sample_seed}): {self.sales[0]}"
        return ", ".join(self.sales)


def resolve_sources(settings: Settings, *, on_write_sample=None) -> DataSources:
    """`settings.data.paths`, or the sample catalogue of seed `data.sample_seed` under the
    project folder (written on first use, and again once the generator has changed).

    `on_write_sample(path)` is called before the sample catalogue is generated.
    """
    if settings.data.paths:
        return DataSources(
            sales=tuple(settings.data.paths), isbn_list=settings.data.isbn_list or None
        )
    from shelfcast.catalog.sample import GENERATOR_VERSION, ISBN_LIST_FILE, write_sample

    seed = settings.data.sample_seed
    path = settings.sample_path(seed)
    isbn_list = path.parent / ISBN_LIST_FILE
    marker = path.parent / SAMPLE_MARKER
    version = f"{GENERATOR_VERSION}\n"
    current = marker.is_file() and marker.read_text() == version
    if not (current and path.exists() and isbn_list.exists()):
        if on_write_sample is not None:
            on_write_sample(path)
        write_sample(path.parent, fmt="parquet", seed=seed)
        write_atomic(marker, version.encode())
    return DataSources(sales=(str(path),), isbn_list=str(isbn_list), sample_seed=seed)


def data_fingerprint(sources: DataSources) -> str:
    """`sha256:<hex>` of the sales files' and ISBN list's bytes (names and paths left out).

    Raises `DataValidationError` for a folder or glob that holds no sales file.
    """
    from shelfcast.catalog.paths import expand_paths

    files, unmatched = expand_paths(sources.sales, isbn_list=sources.isbn_list)
    if unmatched:
        raise DataValidationError(unmatched)
    digest = hashlib.sha256()
    roles = [("sales", path) for path in files]
    if sources.isbn_list:
        roles.append(("isbn_list", sources.isbn_list))
    for role, path in roles:
        file_digest = hashlib.sha256()
        size = 0
        with fsspec.open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                file_digest.update(chunk)
                size += len(chunk)
        digest.update(f"{role}:{size}:{file_digest.hexdigest()}\n".encode())
    return f"sha256:{digest.hexdigest()}"


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
