"""Catalogue releases: a catalogue model's champion table as one release of a few files.

`publish_catalogue` writes the Parquet files of a `BundleTable` (`forecasting.bundle_table`)
and `versions.parquet` (each title's catalogue version, in the table's key order) under
`catalogues/<digest[:20]>/` of the artifact store, each verified, then the release manifest
(`releases`, format 2, `kind: "catalogue"`). A catalogue served from an object store is
fetched once into a local cache folder (`catalogue_folder`), each file verified, so that
`read_catalogue` can memory-map it.
"""

from __future__ import annotations

import json
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shelfcast.errors import BundleError
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.releases import (
    VERSIONS_FILE,
    CatalogueFiles,
    Progress,
    PublishResult,
    Release,
    ReleaseError,
    SampleTitle,
    catalogue_digest,
    finish_release,
)
from shelfcast.storage import ArtifactStore, replace_file, sha256

CATALOGUES = "catalogues"
CATALOGUE_DIGITS = 20  # digest characters in a catalogue's folder name
SAMPLE_TITLES = 20  # titles a catalogue manifest names for smoke tests


@dataclass(frozen=True)
class CatalogueSource:
    """Where a catalogue table comes from: the registered catalogue model and version, and
    each title's catalogue version (the version holding its row; default `version`)."""

    model_name: str
    version: str
    run_id: str | None = None
    versions: Mapping[str, str] = field(default_factory=dict)


def publish_catalogue(
    store: ArtifactStore,
    table: BundleTable,
    source: CatalogueSource,
    progress: Progress | None = None,
) -> PublishResult:
    """Write the table's files (each verified, never overwritten), then the release manifest.

    The release of the same files, when it exists, is returned instead of a new one.
    `progress` hears of the files written so far.
    """
    if not len(table):
        raise ReleaseError("nothing to release: the catalogue table has no titles")
    versions = [str(source.versions.get(k, source.version)) for k in table.keys]
    written: list[str] = []
    unchanged: list[str] = []
    with tempfile.TemporaryDirectory(prefix="shelfcast-catalogue-") as tmp:
        files = table.write(tmp)
        files[VERSIONS_FILE] = _write_versions(Path(tmp, VERSIONS_FILE), table.keys, versions)
        key = json.dumps(sorted(files.items()), separators=(",", ":")).encode()
        folder = f"{CATALOGUES}/{sha256(key)[:CATALOGUE_DIGITS]}"
        for name in sorted(files):
            result = store.write({f"{folder}/{name}": Path(tmp, name).read_bytes()})
            (written if result.written else unchanged).append(name)
            if progress is not None:
                progress(len(written) + len(unchanged))
    families = Counter(str(f) for f in table.column("family"))
    step = max(1, len(table) // SAMPLE_TITLES)
    catalogue = CatalogueFiles(
        model_name=source.model_name,
        version=str(source.version),
        run_id=source.run_id,
        titles=len(table),
        path=folder,
        files=files,
        families=dict(families.most_common()),
        sample=tuple(
            SampleTitle(table.keys[i], source.model_name, versions[i])
            for i in range(0, len(table), step)
        )[:SAMPLE_TITLES],
    )
    done = (tuple(written), tuple(unchanged))
    return finish_release(store, catalogue_digest(catalogue), (), catalogue, done)


def catalogue_files(titles: int) -> int:
    """How many files a catalogue release of `titles` titles has."""
    return -(-titles // bundle_table.PART_ROWS) + 2  # the parts, shared, versions


def _write_versions(path: Path, keys: Sequence[str], versions: Sequence[str]) -> str:
    table = pa.table({"key": list(keys), "version": list(versions)})
    pq.write_table(table, path, compression=bundle_table.COMPRESSION)
    return bundle_table.file_sha256(path)


@dataclass(frozen=True)
class CatalogueRows:
    """A catalogue release's table, verified and memory-mapped, and each row's version."""

    release: Release
    table: BundleTable
    versions: list[str]  # in the table's key order

    @property
    def model_name(self) -> str:
        return self.release.catalogue.model_name if self.release.catalogue else ""


def catalogue_folder(release: Release, cache: str | Path | None) -> Path:
    """The local folder of a catalogue release's files: the store's own on a local store,
    else `<cache>/catalogues/<digest>`, where each file is downloaded once, verified, and
    renamed into place (a file already there with the right sha256 is kept)."""
    catalogue = _catalogue(release)
    store = ArtifactStore(release.store)
    if store.local:
        return Path(store.uri(catalogue.path))
    if cache is None:
        raise ReleaseError(f"{release.uri}: a catalogue in {store.root} needs a local cache folder")
    folder = Path(cache, catalogue.path)
    for name, sha in sorted(catalogue.files.items()):
        target = folder / name
        if target.is_file() and bundle_table.file_sha256(target) == sha:
            continue
        replace_file(target, store.read(f"{catalogue.path}/{name}", sha))
    return folder


def read_catalogue(
    release: Release,
    cache: str | Path | None = None,
    columns: Sequence[str] | None = bundle_table.SERVING_COLUMNS,
) -> CatalogueRows:
    """A catalogue release's table, every file checked against the manifest's sha256 (a
    damaged file is a ReleaseError naming it), memory-mapped; by default without the
    evaluations, which forecasts do not read."""
    catalogue = _catalogue(release)
    folder = catalogue_folder(release, cache)
    try:
        table = bundle_table.read(folder, catalogue.files, columns)
    except BundleError as exc:
        raise ReleaseError(f"release {release.release_id}: {exc}") from None
    try:
        stored = pq.read_table(folder / VERSIONS_FILE)
        stored.validate(full=True)
        _ = stored.column_names
    except (pa.ArrowException, OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"{folder / VERSIONS_FILE}: not a readable file ({exc})") from None
    if len(table) != catalogue.titles:
        raise ReleaseError(
            f"{folder}: the table holds {len(table):,} titles, the manifest's "
            f"catalogue.titles says {catalogue.titles:,}"
        )
    return CatalogueRows(release, table, _versions(stored, folder / VERSIONS_FILE, table.keys))


def _versions(stored: pa.Table, path: Path, keys: list[str]) -> list[str]:
    """Each title's catalogue version from versions.parquet, checked against the table."""
    for name in ("key", "version"):
        if name not in stored.column_names or stored.schema.field(name).type != pa.string():
            raise ReleaseError(f"{path}: column {name} is missing or not text")
        if stored.column(name).null_count:
            raise ReleaseError(f"{path}: column {name}: a row has none")
    if stored.column("key").to_pylist() != keys:
        raise ReleaseError(f"{path}: its titles are not those of the catalogue table")
    return stored.column("version").to_pylist()


def _catalogue(release: Release) -> CatalogueFiles:
    if release.catalogue is None:
        raise ReleaseError(f"release {release.release_id} is not a catalogue release")
    return release.catalogue


def release_cache(home: Path) -> Path:
    """Where catalogue releases read from an object store are kept locally."""
    return home / "cache" / "releases"
