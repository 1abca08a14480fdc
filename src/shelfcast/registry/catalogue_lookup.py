"""Finding a catalogue version and one title's row in it, as `shelfcast models show ISBN` does.

A lookup reads the title's row group of the version's `decisions.parquet`, then of the holding
version's table and metrics, never the whole catalogue. The versions are found in the local
SQLite store directly where `local_store` can read it, so that a lookup imports neither MLflow
nor a fitting library; anywhere else (a tracking server, another database) through MLflow's
client (`catalogue_versions.locate`). Either way the registry is read live.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shelfcast.forecasting import bundle_table
from shelfcast.registry import catalogue_files as files
from shelfcast.registry import local_store
from shelfcast.registry.errors import VersionNotFound, model_not_found, no_alias, no_version
from shelfcast.registry.names import CHAMPION
from shelfcast.settings import Settings


@dataclass(frozen=True)
class CatalogueVersion:
    """A registered catalogue version and the local folder of its files."""

    model_name: str
    version: str
    run_id: str
    folder: Path


class TitleNotInCatalogue(VersionNotFound):
    """The catalogue version has no row for the title."""


def find(settings: Settings, alias_or_version: str = CHAMPION) -> CatalogueVersion:
    """The catalogue version a number or an alias names, with its files (VersionNotFound,
    ModelNotFound)."""
    name = settings.registry.catalogue_model
    path = local_store.database(settings)
    if path is None:
        from shelfcast.registry.connection import client_for
        from shelfcast.registry.models import resolve_version

        found = resolve_version(client_for(settings), settings, name, alias_or_version)
        row = local_store.VersionRow(name, str(found.version), found.run_id, found.source)
    else:
        row = _local_version(settings, path, name, alias_or_version)
    folder = files.version_folder(settings, row.source, row.run_id)
    return CatalogueVersion(name, row.version, row.run_id, folder)


def _local_version(
    settings: Settings, path: Path, name: str, alias_or_version: str
) -> local_store.VersionRow:
    """`models.resolve_version`'s answer (and errors), from the local store's rows."""
    known = local_store.aliases(path, name)
    if known is None:
        raise model_not_found(settings, name)
    number = str(alias_or_version).strip().removeprefix("v")
    if not number.isdigit():
        if alias_or_version not in known:
            raise no_alias(name, alias_or_version, known)
        number = known[alias_or_version]
    row = local_store.version(path, name, number)
    if row is None:
        raise no_version(name, number)
    return row


def decision(at: CatalogueVersion, isbn: str) -> dict[str, Any]:
    """The title's row of the version's champion map (TitleNotInCatalogue)."""
    rows = files.read_parquet(at.folder, files.DECISIONS, [isbn]).to_pylist()
    if not rows:
        raise TitleNotInCatalogue(f"{at.model_name} v{at.version} holds no title {isbn}")
    return rows[0]


def holder(settings: Settings, at: CatalogueVersion, row: dict[str, Any]) -> CatalogueVersion:
    """The version holding the champion row that `row` (of `at`'s champion map) names."""
    held = str(row["champion_version"])
    return at if held == at.version else find(settings, held)


def title_record(settings: Settings, isbn: str, version: str | None = None) -> dict[str, Any]:
    """Where a title's champion is in catalogue version `version` (default `champion`): the
    decision, the holding version, its metrics and its row's family, segment and window."""
    at = find(settings, version or CHAMPION)
    chosen = decision(at, isbn)
    held = holder(settings, at, chosen)
    rows = bundle_table.read_keys(held.folder, [isbn], ["family", "segment", "start", "values"])
    metrics = files.read_parquet(held.folder, files.METRICS, [isbn]).to_pylist()
    row = rows.titles.slice(0, 1).to_pylist()[0] if len(rows) else {}
    return {
        "isbn": isbn,
        "model_name": at.model_name,
        "version": at.version,
        "decision": chosen,
        "metrics": metrics[0] if metrics else {},
        "family": row.get("family"),
        "segment": row.get("segment"),
        "start": str(row.get("start", "")),
        "weeks": len(row.get("values") or []),
    }
