"""One title inside the catalogue model: look it up (`catalogue_lookup`), its history, extract
its bundle, move its champion.

Moving one title's
champion by hand (`rollback_title`, `promote_title`) makes a version of its own (run kind
`champion-change`): no rows, and a champion map equal to the one in force but for that title,
so that the change has its place in the catalogue's history and rolling the version back
undoes it. It keeps its base version's pools, so a retrain after it may still reuse them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlflow import MlflowClient

from shelfcast.errors import ShelfcastError
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle import write_bundle
from shelfcast.registry import catalogue_files as files
from shelfcast.registry.catalogue_lookup import (
    CatalogueVersion,
    TitleNotInCatalogue,
    decision,
    find,
    holder,
)
from shelfcast.registry.catalogue_metrics import metrics_frame
from shelfcast.registry.catalogue_pools import kept_pools, read_pools
from shelfcast.registry.catalogue_versions import champion_map, locate, new_version
from shelfcast.registry.connection import client_for
from shelfcast.registry.errors import NoPreviousChampion
from shelfcast.registry.models import CHAMPION, all_versions
from shelfcast.settings import Settings


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
    at = find(settings, version or CHAMPION)
    table = files.read_table(holder(settings, at, decision(at, isbn)).folder, [isbn])
    return write_bundle(table.bundle(isbn), out)


def rollback_title(settings: Settings, isbn: str) -> tuple[str, str]:
    """Make the title's previous champion row its champion again; (before, after) versions."""
    client = client_for(settings)
    at = locate(client, settings, CHAMPION)
    current = decision(at, isbn)
    previous = current["previous_version"]
    if not previous:
        raise NoPreviousChampion(
            f"{isbn} has no previous champion in {at.model_name} "
            f"(champion row: v{current['champion_version']})"
        )
    before = decision(locate(client, settings, str(previous)), isbn)
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
    current = decision(at, isbn)
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
    if change["champion_version"] == str(decision(at, isbn)["champion_version"]):
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
        pools = None
        kept = kept_pools(settings, at.version)
        if kept is not None:  # the base's, so that the next retrain may reuse them
            pools = read_pools(settings, at.version, kept.file_sha256)
            about = files.read_manifest(at.folder)["pools"]
            info["pools"] = {**about, "reused_from": at.version}
        empty = bundle_table.from_bundles([])
        made.publish(empty, metrics_frame([]), decisions, info, {}, why, pools)
    return made.version
