"""One title inside the catalogue model: look it up, extract its bundle, move its champion.

A lookup reads the title's row group of the champion version's `decisions.parquet` and of
the holding version's table and metrics, never the whole catalogue. Moving one title's
champion by hand (`rollback_title`, `promote_title`) makes a version of its own (run kind
`champion-change`): no rows, and a champion map equal to the one in force but for that title,
so that the change has its place in the catalogue's history and rolling the version back
undoes it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from shelfcast.errors import ShelfcastError
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle import write_bundle
from shelfcast.registry import catalogue_files as files
from shelfcast.registry.catalogue_metrics import metrics_frame
from shelfcast.registry.catalogue_versions import (
    CatalogueVersion,
    champion_map,
    locate,
    new_version,
)
from shelfcast.registry.connection import client_for
from shelfcast.registry.errors import NoPreviousChampion, VersionNotFound
from shelfcast.registry.models import CHAMPION, all_versions
from shelfcast.settings import Settings


class TitleNotInCatalogue(VersionNotFound):
    """The catalogue version has no row for the title."""


def _decision(at: CatalogueVersion, isbn: str) -> dict[str, Any]:
    rows = files.read_parquet(at.folder, files.DECISIONS, [isbn]).to_pylist()
    if not rows:
        raise TitleNotInCatalogue(f"{at.model_name} v{at.version} holds no title {isbn}")
    return rows[0]


def title_record(settings: Settings, isbn: str, version: str | None = None) -> dict[str, Any]:
    """Where a title's champion is in catalogue version `version` (default `champion`): the
    decision, the holding version, its metrics and its row's family, segment and window."""
    client = client_for(settings)
    at = locate(client, settings, version or CHAMPION)
    decision = _decision(at, isbn)
    holder = _holder(client, settings, at, decision)
    rows = bundle_table.read_keys(holder.folder, [isbn], ["family", "segment", "start", "values"])
    metrics = files.read_parquet(holder.folder, files.METRICS, [isbn]).to_pylist()
    row = rows.titles.slice(0, 1).to_pylist()[0] if len(rows) else {}
    return {
        "isbn": isbn,
        "model_name": at.model_name,
        "version": at.version,
        "decision": decision,
        "metrics": metrics[0] if metrics else {},
        "family": row.get("family"),
        "segment": row.get("segment"),
        "start": str(row.get("start", "")),
        "weeks": len(row.get("values") or []),
    }


def title_history(settings: Settings, isbn: str) -> list[dict[str, Any]]:
    """The title's decision in every catalogue version, newest first."""
    client = client_for(settings)
    name = settings.registry.catalogue_model
    out = []
    for v in sorted(all_versions(client, f"name = '{name}'"), key=lambda v: -int(v.version)):
        at = locate(client, settings, str(v.version))
        rows = files.read_parquet(at.folder, files.DECISIONS, [isbn]).to_pylist()
        if rows:
            out.append({"version": at.version, **rows[0]})
    return out


def extract_title(
    settings: Settings, isbn: str, out: str | Path, version: str | None = None
) -> Path:
    """Write the title's champion row (as catalogue version `version` maps it) as a bundle
    folder at `out`, from its verified table: the files a per-title model holds."""
    client = client_for(settings)
    at = locate(client, settings, version or CHAMPION)
    holder = _holder(client, settings, at, _decision(at, isbn))
    table = files.read_table(holder.folder, [isbn])
    return write_bundle(table.bundle(isbn), out)


def _holder(
    client: MlflowClient, settings: Settings, at: CatalogueVersion, decision: dict[str, Any]
) -> CatalogueVersion:
    held = str(decision["champion_version"])
    return at if held == at.version else locate(client, settings, held)


def rollback_title(settings: Settings, isbn: str) -> tuple[str, str]:
    """Make the title's previous champion row its champion again; (before, after) versions."""
    client = client_for(settings)
    at = locate(client, settings, CHAMPION)
    current = _decision(at, isbn)
    previous = current["previous_version"]
    if not previous:
        raise NoPreviousChampion(
            f"{isbn} has no previous champion in {at.model_name} "
            f"(champion row: v{current['champion_version']})"
        )
    before = _decision(locate(client, settings, str(previous)), isbn)
    change = {
        "decision": files.ROLLED_BACK,
        "reason": f"rolled back from the row of v{current['champion_version']}",
        "champion_version": str(previous),
        "previous_version": before["previous_version"],
    }
    _change(client, settings, at, isbn, change)
    return str(current["champion_version"]), str(previous)


def promote_title(settings: Settings, isbn: str, version: str, reason: str = "manual") -> str:
    """Make catalogue version `version`'s row of the title its champion; returns the version
    whose row it was before."""
    client = client_for(settings)
    at = locate(client, settings, CHAMPION)
    current = _decision(at, isbn)
    target = locate(client, settings, str(version).removeprefix("v"))
    if isbn not in bundle_table.read_keys(target.folder, [isbn], ["key"]):
        raise TitleNotInCatalogue(f"{target.model_name} v{target.version} holds no row of {isbn}")
    change = {
        "decision": files.SET_BY_HAND,
        "reason": f"manual: {reason}",
        "champion_version": target.version,
        "previous_version": str(current["champion_version"]),
    }
    _change(client, settings, at, isbn, change)
    return str(current["champion_version"])


def _change(
    client: MlflowClient,
    settings: Settings,
    at: CatalogueVersion,
    isbn: str,
    change: dict[str, Any],
) -> str:
    """A `champion-change` version: `at`'s map with `isbn`'s entry replaced by `change`."""
    if change["champion_version"] == str(_decision(at, isbn)["champion_version"]):
        raise ShelfcastError(f"{isbn}'s champion row is already v{change['champion_version']}")
    mapping = champion_map(at)
    rows = [
        {"isbn": k, "decision": files.UNCHANGED, "reason": "", **m}
        for k, m in mapping.items()
        if k != isbn
    ]
    rows.append({**mapping[isbn], "isbn": isbn, **change})
    decisions = files.decisions_table(rows)
    why = f"{isbn}: {change['reason']}"
    tags = {"changed_title": isbn, "base_version": at.version}
    with new_version(client, settings, "champion-change", why, tags) as made:
        counts = {"titles": len(rows), "changed": 1}
        info = {
            "kind": "champion-change",
            "model_name": at.model_name,
            "version": made.version,
            "run_id": made.run_id,
            "base_version": at.version,
            "counts": counts,
        }
        empty = bundle_table.from_bundles([])
        made.publish(empty, metrics_frame([]), decisions, info, {}, why)
    return made.version
