"""Releases: immutable sets of title models in the artifact store, pinned by a manifest.

Layout under a store root:

    models/<name>/<version>/bundle.json, history.csv    the registered bundle files, unchanged
    releases/<release-id>/manifest.json                 the release
    catalogues/<digest>/titles-*.parquet, shared.parquet, versions.parquet
                                                        a catalogue release's table

The manifest records its format version, the release id, when it was created, the store's
absolute root URI and, per title: model name, version, ISBN, title, model family, path of
the model folder (relative to the store root), sha256 of each file, the MLflow run id, the
backtest MASE and the title's demand segment (`young/lumpy`, ...: `Bundle.segment`;
manifests written before it was recorded have none, and are read as they are). Model paths
resolve against the recorded store root, so a copy of the release folder alone (Vertex AI
copies a Model's artifact URI and serves from the copy) still finds its bundles.

A catalogue release (manifest format 2, `kind: "catalogue"`) holds no folder per title but
the few Parquet files of a `BundleTable` (`forecasting.bundle_table`) and `versions.parquet`
(each title's catalogue version, in the table's key order) under
`catalogues/<digest[:20]>/`; its manifest records their sha256, the catalogue model name and
version, the number of titles, the count per family and a few titles for smoke tests, so
that listing or describing it reads nothing of the 100,000 rows. Per-title manifests stay
format 1.

The release id is `r-<yyyymmdd>-<digest[:10]>`, where the digest is the sha256 of the sorted
(name, version, checksums) of its models (of a catalogue: all the manifest says of it):
publishing the same model versions, or the same table, again finds the existing release
instead of making a new one. The manifest is written last, after every model file is
written and verified; a release folder without one is not a release. Publishing and reading
a catalogue release is `catalogue_releases`.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from shelfcast.errors import BundleError, ShelfcastError
from shelfcast.forecasting import artifact_json, bundle_table
from shelfcast.forecasting.artifact_json import FieldError, Fields
from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle
from shelfcast.storage import (
    ArtifactNotFound,
    ArtifactStore,
    WriteConflict,
    sha256,
)

FORMAT_VERSION = 1  # manifests of per-title releases
CATALOGUE_FORMAT_VERSION = 2  # manifests with a `kind`: a catalogue release
CATALOGUE = "catalogue"
MANIFEST = "manifest.json"
MODELS = "models"
RELEASES = "releases"
VERSIONS_FILE = "versions.parquet"
BUNDLE_FILES = (BUNDLE_FILE, HISTORY_FILE)
ID_DIGITS = 10  # digest characters in a release id
CHUNK = 100  # models read or written per batched store call
# What a manifest may hold at most: anything larger is refused as hostile or corrupt.
MAX_MANIFEST_BYTES = 256 * 2**20
MAX_TITLES = 10_000_000
MAX_MODEL_FILES = 16
MAX_CATALOGUE_FILES = 10_000
MAX_SAMPLE = 1_000
INVALID = "not a valid release manifest"
RELEASE_ID = re.compile(r"^r-\d{8}-[0-9a-f]{10}$")

Progress = Callable[[int], None]  # called with the number of models done so far


class ReleaseError(ShelfcastError):
    """A release is missing, malformed or inconsistent."""


class ReleaseNotFound(ReleaseError):
    """No release manifest at the given location."""


class ModelNotInRelease(ReleaseError, LookupError):
    """The release has no model for that name or ISBN."""


@dataclass(frozen=True)
class ReleaseModel:
    """One title's model version in a release."""

    name: str  # arima_book_<ISBN>
    version: str
    isbn: str
    title: str
    model_family: str
    path: str  # relative to the store root: models/<name>/<version>
    files: dict[str, str]  # file name -> sha256 (bundle.json, history.csv)
    run_id: str | None
    backtest_mase: float | None
    segment: str | None = None  # the segment's name; None in manifests written before

    def file_paths(self) -> dict[str, str]:
        """Each file's path relative to the store root -> its sha256."""
        return {f"{self.path}/{name}": sha for name, sha in self.files.items()}


@dataclass(frozen=True)
class SampleTitle:
    """A title of a catalogue release and the model version that must answer for it."""

    isbn: str
    name: str
    version: str


@dataclass(frozen=True)
class CatalogueFiles:
    """What a catalogue release pins: the table's files and what they hold, in brief."""

    model_name: str  # the catalogue's registered model
    version: str  # the catalogue version whose champion map this is
    run_id: str | None
    titles: int
    path: str  # relative to the store root: catalogues/<digest>
    files: dict[str, str]  # file name -> sha256 (titles-*.parquet, shared.parquet, versions)
    families: dict[str, int]  # model family -> titles
    sample: tuple[SampleTitle, ...]  # a few titles, spread over the key order

    def file_paths(self) -> dict[str, str]:
        """Each file's path relative to the store root -> its sha256."""
        return {f"{self.path}/{name}": sha for name, sha in self.files.items()}


@dataclass(frozen=True)
class Release:
    """A published release: where it is, where its models are, and which they are.
    A catalogue release has no `models` but its `catalogue`."""

    release_id: str
    created: str  # ISO UTC
    store: str  # root URI of the artifact store holding models/
    uri: str  # URI of the release folder <store>/releases/<release_id>
    models: tuple[ReleaseModel, ...]
    catalogue: CatalogueFiles | None = None

    @property
    def kind(self) -> str:
        return CATALOGUE if self.catalogue is not None else "titles"

    @property
    def titles(self) -> int:
        """How many titles the release serves (without reading a catalogue's table)."""
        return self.catalogue.titles if self.catalogue is not None else len(self.models)

    @property
    def families(self) -> Counter[str]:
        """Titles per model family."""
        if self.catalogue is not None:
            return Counter(self.catalogue.families)
        return Counter(m.model_family for m in self.models)

    @property
    def smoke_titles(self) -> tuple[ReleaseModel | SampleTitle, ...]:
        """The titles a smoke test asks for: every title, or a catalogue's sample."""
        return self.catalogue.sample if self.catalogue is not None else self.models

    @functools.cached_property
    def _index(self) -> dict[str, ReleaseModel]:
        index = {m.isbn: m for m in self.models}
        index.update({m.name: m for m in self.models})
        return index

    def model(self, name_or_isbn: str) -> ReleaseModel:
        """The release's model for a model name or an ISBN."""
        key = name_or_isbn.strip()
        found = self._index.get(key)
        if found is None:
            raise ModelNotInRelease(
                f"release {self.release_id} has no model for {key!r} ({len(self.models)} "
                f"titles; see `shelfcast releases show {self.release_id}`)"
            )
        return found

    @property
    def digest(self) -> str:
        if self.catalogue is not None:
            return catalogue_digest(self.catalogue)
        return content_digest(self.models)

    def manifest(self) -> dict:
        """The contents of manifest.json."""
        head = {"release_id": self.release_id, "digest": self.digest, "created": self.created}
        if self.catalogue is None:
            return {
                "format_version": FORMAT_VERSION,
                **head,
                "store": self.store,
                "models": [asdict(m) for m in self.models],
            }
        return {
            "format_version": CATALOGUE_FORMAT_VERSION,
            "kind": CATALOGUE,
            **head,
            "store": self.store,
            "catalogue": asdict(self.catalogue),
        }


def content_digest(models: Sequence[ReleaseModel]) -> str:
    """sha256 of the sorted (name, version, checksums) of a release's models."""
    key = sorted([m.name, m.version, sorted(m.files.items())] for m in models)
    return sha256(json.dumps(key, separators=(",", ":")).encode())


def catalogue_digest(catalogue: CatalogueFiles) -> str:
    """sha256 of everything a catalogue release's manifest says of its catalogue: the model
    name and version, the file checksums, the counts and the sample."""
    key = [CATALOGUE, asdict(catalogue)]
    return sha256(json.dumps(key, separators=(",", ":"), sort_keys=True).encode())


# ------------------------------------------------------------------------------------ reading


def _folder(uri: str) -> str:
    text = str(uri).rstrip("/")
    return text.removesuffix(f"/{MANIFEST}")


def read_release(uri: str) -> Release:
    """The release whose folder (or manifest.json) is at `uri`, checked against its digest."""
    store = ArtifactStore(_folder(uri))
    try:
        data = store.read(MANIFEST)
    except ArtifactNotFound:
        raise ReleaseNotFound(
            f"{store.uri(MANIFEST)} does not exist: {store.root} is not a release "
            "(a publish that did not finish leaves no manifest)"
        ) from None
    return parse_manifest(data, store.uri(MANIFEST))


def parse_manifest(data: bytes, source: str) -> Release:
    """A release from manifest bytes; `source` names the file in errors.

    Manifests are untrusted input: strict JSON (`forecasting.artifact_json`), every field of
    its type, paths relative to the store and without `..`, file names plain, checksums
    sha256, sizes bounded; any problem is a ReleaseError naming the file and the field.
    """
    if len(data) > MAX_MANIFEST_BYTES:
        raise ReleaseError(
            f"{source}: {len(data):,} bytes, more than a manifest may hold ({MAX_MANIFEST_BYTES:,})"
        )
    try:
        doc = Fields(artifact_json.parse(data, f"{source}: {INVALID}", ReleaseError))
        version = doc.raw("format_version")
        if isinstance(version, bool) or version not in (FORMAT_VERSION, CATALOGUE_FORMAT_VERSION):
            raise ReleaseError(
                f"{source}: unsupported manifest format version {version!r} "
                f"(this Shelfcast reads {FORMAT_VERSION} and {CATALOGUE_FORMAT_VERSION})"
            )
        catalogue = None
        if version == CATALOGUE_FORMAT_VERSION:
            if doc.raw("kind", optional=True) != CATALOGUE:
                raise ReleaseError(f"{source}: unknown release kind {doc.raw('kind', True)!r}")
            catalogue, models = _catalogue_from(doc.object(CATALOGUE)), ()
        else:
            entries = doc.array("models", MAX_TITLES)
            models = tuple(_model_from(Fields(e, f"models[{i}]")) for i, e in enumerate(entries))
        release_id = _release_id(doc)
        digest = doc.text("digest")
        store, created = str(doc.text("store")), str(doc.text("created"))
    except FieldError as exc:
        raise ReleaseError(f"{source}: {INVALID}: {exc}") from None
    uri = f"{store.rstrip('/')}/{RELEASES}/{release_id}"
    release = Release(release_id, created, store, uri, models, catalogue)
    if release.digest != digest or not release_id.endswith(str(digest)[:ID_DIGITS]):
        what = "catalogue files" if catalogue is not None else "models"
        raise ReleaseError(
            f"{source}: its {what} do not match its digest and release id {release_id} "
            "(the manifest was edited or is corrupt)"
        )
    return release


def _release_id(doc: Fields) -> str:
    release_id = str(doc.text("release_id", limit=200))
    if not RELEASE_ID.match(release_id):
        raise FieldError("release_id", f"{release_id!r} is not a release id (r-<date>-<hex>)")
    return release_id


def _catalogue_from(entry: Fields) -> CatalogueFiles:
    files = entry.checksums("files", MAX_CATALOGUE_FILES)
    needed = [bundle_table.SHARED_FILE, VERSIONS_FILE]
    missing = [name for name in needed if name not in files]
    if missing or not any(n.startswith(bundle_table.PART_PREFIX) for n in files):
        what = ", ".join(missing) or f"{bundle_table.PART_PREFIX}* part"
        raise FieldError(entry.name("files"), f"lists no {what}")
    families = entry.object("families")
    sample = entry.array("sample", MAX_SAMPLE)
    return CatalogueFiles(
        model_name=str(entry.text("model_name")),
        version=entry.version("version"),
        run_id=entry.text("run_id", optional=True),
        titles=entry.integer("titles", 0, MAX_TITLES),
        path=entry.path("path"),
        files=files,
        families={name: families.integer(name, 0, MAX_TITLES) for name in families.value},
        sample=tuple(
            _sample_from(Fields(t, entry.name(f"sample[{i}]"))) for i, t in enumerate(sample)
        ),
    )


def _sample_from(entry: Fields) -> SampleTitle:
    return SampleTitle(str(entry.text("isbn")), str(entry.text("name")), entry.version("version"))


def _model_from(entry: Fields) -> ReleaseModel:
    files = entry.checksums("files", MAX_MODEL_FILES)
    missing = [name for name in BUNDLE_FILES if name not in files]
    if missing:
        raise FieldError(entry.name("files"), f"lists no {', '.join(missing)}")
    mase = entry.number("backtest_mase", optional=True)
    if mase is not None and not math.isfinite(mase):
        raise FieldError(entry.name("backtest_mase"), "must be a finite number")
    return ReleaseModel(
        name=str(entry.text("name")),
        version=entry.version("version"),
        isbn=str(entry.text("isbn")),
        title=entry.text("title", optional=True) or "",
        model_family=str(entry.text("model_family")),
        path=entry.path("path"),
        files=files,
        run_id=entry.text("run_id", optional=True),
        backtest_mase=mase,
        segment=entry.text("segment", optional=True),
    )


def load_bundles(release: Release, progress: Progress | None = None) -> dict[str, Bundle]:
    """Every model of the release as a Bundle (name -> Bundle), each file checksum-verified.

    Files are read from the store recorded in the manifest, CHUNK models per batched call.
    A missing or corrupt file raises ArtifactNotFound or ChecksumMismatch naming it; files
    that are not a bundle of the title the manifest says raise a ReleaseError naming them.
    """
    store = ArtifactStore(release.store)
    out: dict[str, Bundle] = {}
    for start in range(0, len(release.models), CHUNK):
        chunk = release.models[start : start + CHUNK]
        expected = {p: sha for m in chunk for p, sha in m.file_paths().items()}
        data = store.read_many(expected)
        for m in chunk:
            folder = store.uri(m.path)
            try:
                bundle = Bundle.from_files({name: data[f"{m.path}/{name}"] for name in m.files})
            except (BundleError, KeyError, ValueError, TypeError) as exc:
                raise ReleaseError(f"{folder}: not a readable bundle ({exc})") from None
            if bundle.key != m.isbn:
                raise ReleaseError(
                    f"{folder}/{BUNDLE_FILE}: the bundle is for {bundle.key}, "
                    f"the manifest says {m.isbn}"
                )
            out[m.name] = bundle
        if progress is not None:
            progress(len(out))
    return out


def list_releases(store_uri: str) -> list[Release]:
    """Every release in the store, newest first; folders without a manifest are skipped."""
    store = ArtifactStore(store_uri)
    paths = [f"{RELEASES}/{rid}/{MANIFEST}" for rid in store.list(RELEASES)]
    found = store.read_present(paths)
    releases = [parse_manifest(data, store.uri(path)) for path, data in found.items()]
    return sorted(releases, key=lambda r: (r.created, r.release_id), reverse=True)


def open_release(store_uri: str, id_or_uri: str) -> Release:
    """A release by its id in the store, or by the URI of its folder."""
    if "/" in id_or_uri:
        return read_release(id_or_uri)
    store = ArtifactStore(store_uri)
    try:
        return read_release(store.uri(f"{RELEASES}/{id_or_uri}"))
    except ReleaseNotFound:
        raise ReleaseNotFound(
            f"no release {id_or_uri!r} in {store.root} (see `shelfcast releases list`)"
        ) from None


# ------------------------------------------------------------------------------------ writing


@dataclass(frozen=True)
class ModelFiles:
    """A registered model version to publish: its bundle files, byte-for-byte."""

    name: str
    version: str
    files: Mapping[str, bytes]  # bundle.json, history.csv
    run_id: str | None = None
    backtest_mase: float | None = None

    def entry(self) -> ReleaseModel:
        """The manifest entry, with title, family and segment read from the bundle itself."""
        missing = [name for name in BUNDLE_FILES if name not in self.files]
        if missing:
            raise ReleaseError(f"{self.name} v{self.version} has no {', '.join(missing)}")
        try:
            bundle = Bundle.from_files(self.files)
            segment = bundle.segment
        except (BundleError, KeyError, ValueError, TypeError) as exc:
            raise ReleaseError(f"{self.name} v{self.version}: unreadable bundle ({exc})") from None
        return ReleaseModel(
            name=self.name,
            version=self.version,
            isbn=bundle.key,
            title=bundle.history.title or "",
            model_family=bundle.family,
            path=f"{MODELS}/{self.name}/{self.version}",
            files={name: sha256(self.files[name]) for name in BUNDLE_FILES},
            run_id=self.run_id,
            backtest_mase=self.backtest_mase,
            segment=segment.name,
        )


@dataclass(frozen=True)
class PublishResult:
    """A published release; `created` is False when the same models were already released."""

    release: Release
    created: bool
    written: tuple[str, ...]  # models whose files were written now
    unchanged: tuple[str, ...]  # models already in the store with the same bytes


def publish(
    store: ArtifactStore, models: Sequence[ModelFiles], progress: Progress | None = None
) -> PublishResult:
    """Write each model's files (verified, never overwritten), then the release manifest.

    The release of the same model versions, when it exists, is returned instead of a new one.
    """
    if not models:
        raise ReleaseError("nothing to release: no model versions were given")
    names = [m.name for m in models]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ReleaseError(f"a release holds one version per model; twice: {duplicates}")
    pairs = [(m, m.entry()) for m in models]
    entries = [e for _, e in pairs]
    written: list[str] = []
    unchanged: list[str] = []
    for start in range(0, len(pairs), CHUNK):
        chunk = pairs[start : start + CHUNK]
        files = {f"{e.path}/{n}": m.files[n] for m, e in chunk for n in BUNDLE_FILES}
        result = store.write(files)
        for _, e in chunk:
            fresh = any(p in result.written for p in e.file_paths())
            (written if fresh else unchanged).append(e.name)
        if progress is not None:
            progress(len(written) + len(unchanged))
    done = (tuple(written), tuple(unchanged))
    return finish_release(store, content_digest(entries), tuple(entries), None, done)


def finish_release(
    store: ArtifactStore,
    digest: str,
    models: tuple[ReleaseModel, ...],
    catalogue: CatalogueFiles | None,
    done: tuple[tuple[str, ...], tuple[str, ...]],
) -> PublishResult:
    """Write the manifest, last, unless the release of the same content exists (`publish`
    and `catalogue_releases.publish_catalogue` end with it)."""
    existing = find_release(store, digest)
    if existing is not None:
        return PublishResult(existing, False, *done)
    now = datetime.now(UTC)
    release_id = f"r-{now:%Y%m%d}-{digest[:ID_DIGITS]}"
    release = Release(
        release_id=release_id,
        created=now.isoformat(timespec="seconds"),
        store=store.root,
        uri=store.uri(f"{RELEASES}/{release_id}"),
        models=models,
        catalogue=catalogue,
    )
    manifest = json.dumps(release.manifest(), indent=2).encode()
    try:
        store.write({f"{RELEASES}/{release_id}/{MANIFEST}": manifest})
    except WriteConflict:  # the same release, published meanwhile from elsewhere
        existing = find_release(store, digest)
        if existing is None:
            raise
        return PublishResult(existing, False, *done)
    return PublishResult(release, True, *done)


def find_release(store: ArtifactStore, digest: str) -> Release | None:
    """The store's release whose content has this digest (`Release.digest`), if any."""
    for release_id in store.list(RELEASES):
        if release_id.endswith(f"-{digest[:ID_DIGITS]}"):
            try:
                release = read_release(store.uri(f"{RELEASES}/{release_id}"))
            except ReleaseNotFound:  # an unfinished publish
                continue
            if release.digest == digest:
                return release
    return None
