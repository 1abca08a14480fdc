"""Packaging: registered model versions -> an immutable release in the artifact store.

By default every model's `champion` is released; `every` adds the latest version of models
without a champion; `names` picks models (their `version`, else champion, else latest). The
bundle files are copied byte-for-byte from MLflow to `models/<name>/<version>/`, verified,
and pinned by a release manifest (see `shelfcast.releases`). Packaging the same versions
again writes nothing and returns the existing release.

`package_catalogue` releases the catalogue model instead: the champion row of every title
(`registry.catalogue.champion_table`) as one table of a few files.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from shelfcast import registry
from shelfcast.catalogue_releases import CatalogueSource, catalogue_files, publish_catalogue
from shelfcast.errors import ShelfcastError
from shelfcast.releases import ModelFiles, PublishResult, Release, publish
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore

FETCH_THREADS = 8  # registry downloads at once (they wait on the tracking server)

Progress = Callable[[str, int, int], None]  # stage ("fetching", "writing"), done, total


class PackagingError(ShelfcastError):
    """Nothing could be packaged."""


@dataclass(frozen=True)
class PackageResult:
    """The release packaged, and what it took."""

    release: Release
    created: bool  # False: these versions were already released, and this is that release
    written: tuple[str, ...]  # models whose files were copied now
    unchanged: tuple[str, ...]  # models already in the store, verified identical
    seconds: float

    @classmethod
    def published(cls, result: PublishResult, started: float) -> PackageResult:
        """What `publish` or `publish_catalogue` did, timed from `started` (perf_counter)."""
        return cls(
            result.release,
            result.created,
            result.written,
            result.unchanged,
            time.perf_counter() - started,
        )


def package(
    settings: Settings,
    names: Sequence[str] | None = None,
    version: str | None = None,
    to: str | None = None,
    progress: Progress | None = None,
    every: bool = False,
) -> PackageResult:
    """Release registered versions into the store at `to` (default: the settings' store)."""
    started = time.perf_counter()
    versions = registry.select_versions(settings, names, version, every)
    if not versions:
        raise PackagingError(
            f"no registered model has a champion at {settings.tracking_uri} "
            "(train first, or package the latest versions with --all)"
        )
    store = ArtifactStore(to or settings.artifact_root, project=settings.gcp.project)
    total = len(versions)

    def fetch(v) -> ModelFiles:
        return ModelFiles(
            name=v.name,
            version=str(v.version),
            files=registry.bundle_files(settings, v),
            run_id=v.run_id,
            backtest_mase=_finite(v.tags.get("backtest_mase")),
        )

    models = []
    with ThreadPoolExecutor(max_workers=min(FETCH_THREADS, total)) as pool:
        for model in pool.map(fetch, versions):
            models.append(model)
            if progress is not None:
                progress("fetching", len(models), total)
    result = publish(
        store, models, None if progress is None else lambda done: progress("writing", done, total)
    )
    return PackageResult.published(result, started)


def package_catalogue(
    settings: Settings,
    to: str | None = None,
    version: str | None = None,
    progress: Progress | None = None,
) -> PackageResult:
    """Release the champion table of the catalogue model's `version` (default: `champion`)
    into the store at `to` (default: the settings' store): the table's files verified, then
    the manifest. The same table again gives the same release."""
    from shelfcast.registry.catalogue import champion_table

    started = time.perf_counter()
    if progress is not None:
        progress("fetching", 0, 1)
    champion = champion_table(settings, version)
    if progress is not None:
        progress("fetching", 1, 1)
    store = ArtifactStore(to or settings.artifact_root, project=settings.gcp.project)
    source = CatalogueSource(
        champion.model_name, champion.version, champion.run_id, champion.versions
    )
    files = catalogue_files(len(champion.table))
    result = publish_catalogue(
        store,
        champion.table,
        source,
        None if progress is None else lambda done: progress("writing", done, files),
    )
    return PackageResult.published(result, started)


def _finite(text: str | None) -> float | None:
    try:
        value = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None
