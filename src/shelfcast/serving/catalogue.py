"""A catalogue release served lazily: the table is memory-mapped, and a title's bundle is
built from its row on first use and kept in a bounded LRU cache.

Loading checks the files against the manifest and the table's columns as a whole (types,
keys, finite non-negative weeks); a row's model is checked when its bundle is built. A row
that fails then is that title's error (`UnknownTitle`, the reason logged once), not the
request's: the other titles are answered."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from pathlib import Path

from shelfcast.catalog.isbn import normalize_isbn
from shelfcast.catalogue_releases import CatalogueRows, read_catalogue
from shelfcast.errors import BundleError
from shelfcast.releases import Release
from shelfcast.serving.pool import ModelPool, ServedModel, UnknownTitle

log = logging.getLogger("shelfcast.serving")

BUNDLE_CACHE = 4096  # bundles built from rows and kept (a 1000-title request fits 4 times)


class CatalogueTitles:
    """The titles of a catalogue table, each one's model built from its row when asked for.
    Safe to use from several threads."""

    def __init__(self, rows: CatalogueRows, cache_size: int = BUNDLE_CACHE):
        self.rows = rows
        self._kept: OrderedDict[str, ServedModel] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._broken: set[str] = set()  # titles whose row could not be read (logged once)

    def __len__(self) -> int:
        return len(self.rows.table)

    def find(self, name_or_isbn: str) -> ServedModel | None:
        """The title's model by its ISBN (hyphens allowed): the catalogue's titles share one
        model name, so a name alone names no title."""
        isbn = normalize_isbn(name_or_isbn)
        with self._lock:
            model = self._kept.get(isbn)
            if model is not None:
                self._kept.move_to_end(isbn)
                return model
        if isbn not in self.rows.table:
            return None
        try:
            bundle = self.rows.table.bundle(isbn)
        except BundleError as exc:
            with self._lock:
                if isbn not in self._broken:
                    self._broken.add(isbn)
                    log.error("release %s: %s", self.rows.release.release_id, exc)
            raise UnknownTitle(
                "isbn", f"the model of {isbn} in this release cannot be read (see the server log)"
            ) from None
        model = ServedModel(
            name=self.rows.model_name,
            version=self.rows.versions[self.rows.table.row(isbn)],
            isbn=isbn,
            family=bundle.family,
            bundle=bundle,
        )
        with self._lock:
            self._kept[isbn] = model
            if len(self._kept) > self._cache_size:
                self._kept.popitem(last=False)
        return model


def catalogue_pool(release: Release, cache: str | Path | None = None) -> ModelPool:
    """A pool serving a catalogue release: its files fetched into `cache` when the store is
    not local, each verified against the manifest, the table memory-mapped."""
    return ModelPool(CatalogueTitles(read_catalogue(release, cache)), release.release_id)
