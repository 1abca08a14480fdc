"""The files of one catalogue version, under its run's artifacts in `catalogue/`.

    titles-00000.parquet ... shared.parquet   the BundleTable of the titles the version
                                               fitted or carried over (`bundle_table`)
    metrics.parquet                            per title of that table: segment, family,
                                               backtest and holdout scores
                                               (`catalogue_metrics.METRIC_COLUMNS`)
    decisions.parquet                          per title of the catalogue: the gate's
                                               decision and where its champion row is
                                               (`DECISION_SCHEMA`): the champion map
    pools.parquet                              what pooled families were trained across
                                               titles, a row per cut-off and family
                                               (`POOL_SCHEMA`), trained in this version or
                                               reused; the manifest's `pools` says which
    catalogue.json                             format version, kind, counts, each file's
                                               sha256, the settings digest, the pools' hashes

Every Parquet file is sorted by ISBN in row groups of `bundle_table.GROUP_ROWS`, so one
title's decision, metrics or row is read from its row group alone. A version's folder is read
in place when the artifact store is a local folder, else downloaded once into
`<home>/cache/catalogue/<run id>/` (a version's files never change) and verified there.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shelfcast.atomic import write_atomic
from shelfcast.errors import BundleError
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.registry.artifacts import local_folder
from shelfcast.settings import Settings

FOLDER = "catalogue"
MANIFEST = "catalogue.json"
METRICS = "metrics.parquet"
DECISIONS = "decisions.parquet"
POOLS = "pools.parquet"
FORMAT_VERSION = 1

# What the gate did to a title in a version.
PROMOTED = "promoted"  # refitted; its new row is the champion
KEPT = "kept"  # refitted; the champion stays the older row (or the new fit failed)
CARRIED = "carried"  # not refitted: the champion row copied into this version
ROLLED_BACK = "rolled back"  # champion moved back to the row before, by hand
SET_BY_HAND = "promoted by hand"  # champion moved to a version's row, by hand
UNCHANGED = "unchanged"  # a version that changed other titles' champions only

DECISION_SCHEMA = pa.schema(
    [
        ("isbn", pa.string()),
        ("decision", pa.string()),
        ("reason", pa.string()),
        ("metric", pa.string()),
        ("challenger_score", pa.float64()),
        ("incumbent_score", pa.float64()),
        ("champion_version", pa.string()),  # the version whose row is the champion
        ("previous_version", pa.string()),  # the champion row before it (rollback's target)
        ("content_hash", pa.string()),  # what the title was last fitted on
    ]
)


POOL_SCHEMA = pa.schema(
    [("cutoff", pa.date32()), ("family", pa.string()), ("pool", pa.string())]  # pool: JSON
)


def decisions_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    columns: dict[str, list[Any]] = {name: [] for name in DECISION_SCHEMA.names}
    for row in sorted(rows, key=lambda r: r["isbn"]):
        for name in DECISION_SCHEMA.names:
            columns[name].append(row.get(name))
    return pa.table(columns, schema=DECISION_SCHEMA)


def write_version(
    folder: Path,
    table: BundleTable,
    metrics: pd.DataFrame,
    decisions: pa.Table,
    info: Mapping[str, Any],
    pools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """Write a version's files into `folder` (`pools`: `POOL_SCHEMA` rows, or none kept);
    returns the manifest (written last)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = table.write(folder)
    ordered = pa.Table.from_pandas(metrics.sort_values("isbn"), preserve_index=False)
    files[METRICS] = bundle_table.write_file(ordered, folder / METRICS)
    files[DECISIONS] = bundle_table.write_file(decisions.sort_by("isbn"), folder / DECISIONS)
    if pools is not None:
        kept = pa.Table.from_pylist(list(pools), schema=POOL_SCHEMA)
        files[POOLS] = bundle_table.write_file(kept, folder / POOLS)
    manifest = {"format_version": FORMAT_VERSION, **info, "files": files}
    write_atomic(folder / MANIFEST, json.dumps(manifest, indent=1).encode())
    return manifest


def version_folder(settings: Settings, source: str, run_id: str) -> Path:
    """A version's files as a local folder: in place, or downloaded once into the cache."""
    local = local_folder(source)
    if local is not None:
        if not (local / MANIFEST).is_file():
            raise BundleError(f"{source} holds no catalogue ({MANIFEST} is missing)")
        return local
    cached = Path(settings.home) / "cache" / FOLDER / run_id
    if (cached / MANIFEST).is_file():
        return cached
    import mlflow.artifacts

    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{run_id}.", dir=cached.parent) as tmp:
        path = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=source, dst_path=tmp, tracking_uri=settings.tracking_uri
            )
        )
        manifest = read_manifest(path)
        bundle_table.read(path, manifest["files"])  # verified before it is cached
        shutil.move(str(path), cached)
    return cached


def read_manifest(folder: Path) -> dict[str, Any]:
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: not a readable catalogue manifest ({exc})") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path}: catalogue format {manifest.get('format_version')!r} is not one this "
            f"Shelfcast reads ({FORMAT_VERSION})"
        )
    return manifest


def table_files(manifest: Mapping[str, Any]) -> dict[str, str]:
    """The BundleTable's files of a manifest, name -> sha256."""
    return {
        name: digest
        for name, digest in manifest["files"].items()
        if name == bundle_table.SHARED_FILE or name.startswith(bundle_table.PART_PREFIX)
    }


def read_table(folder: Path, keys: Sequence[str] | None = None) -> BundleTable:
    """The version's table, verified against its manifest (`keys`: only those rows, read
    from the row groups that may hold them, and only their files verified)."""
    checksums = table_files(read_manifest(folder))
    if keys is None:
        return bundle_table.read(folder, checksums)
    return bundle_table.read_keys(folder, keys, checksums=checksums)


def read_parquet(
    folder: Path,
    name: str,
    isbns: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """`metrics.parquet` or `decisions.parquet` of a version, whole or for `isbns` (reading
    only the row groups that may hold them)."""
    path = folder / name
    filters = None if isbns is None else [("isbn", "in", list(isbns))]
    try:
        return pq.read_table(path, columns=columns, filters=filters, memory_map=True)
    except (pa.ArrowInvalid, OSError) as exc:
        raise BundleError(f"{path}: not a readable catalogue file ({exc})") from None
