"""The pools a catalogue version keeps: what its pooled families were trained on, and reading
them back for a retrain that reuses them.

A catalogue training version writes `pools.parquet` (`catalogue_files.POOL_SCHEMA`: a row per
cut-off and family, the pool as JSON) and, in its manifest, `pools`: the hash of the pools'
settings and of the data they were trained on (`forecasting.pool_state`), the version that
trained them (`trained_in`) and, when they were reused, the version they were reused from
(`reused_from`). A version that reused its base's pools keeps a copy of them, so every version
holds the pools its refitted titles were fitted against.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shelfcast.errors import BundleError
from shelfcast.forecasting.bundle_table import verify_file
from shelfcast.registry import catalogue_files as files
from shelfcast.registry.catalogue_versions import locate
from shelfcast.registry.connection import client_for
from shelfcast.settings import Settings


@dataclass(frozen=True)
class KeptPools:
    """A version's kept pools, as its manifest describes them."""

    version: str  # the version holding the file
    settings_hash: str
    data_hash: str
    trained_in: str
    reused_from: str | None
    file_sha256: str


def kept_pools(settings: Settings, version: str) -> KeptPools | None:
    """The pools catalogue version `version` keeps; None when it keeps none (a version
    written before pools were kept, or a champion change on top of one)."""
    at = locate(client_for(settings), settings, version)
    manifest = files.read_manifest(at.folder)
    about = manifest.get("pools")
    digest = manifest["files"].get(files.POOLS)
    if not about or not digest:
        return None
    return KeptPools(
        at.version,
        str(about["settings_hash"]),
        str(about["data_hash"]),
        str(about["trained_in"]),
        about.get("reused_from"),
        str(digest),
    )


def read_pools(settings: Settings, version: str, sha256: str) -> list[dict[str, Any]]:
    """The rows of version `version`'s `pools.parquet`, verified against `sha256`."""
    at = locate(client_for(settings), settings, version)
    path = at.folder / files.POOLS
    if not path.is_file():
        raise BundleError(f"{path} is missing: catalogue version {version} keeps no pools")
    verify_file(path, sha256)
    return files.read_parquet(at.folder, files.POOLS).to_pylist()
