"""Damaged and hostile releases are refused with Shelfcast's own errors naming the file (and
the field), never another exception: Hypothesis mutates a valid per-title release (manifest,
bundle.json, history.csv) and a valid catalogue release (manifest, titles part, shared and
versions Parquet files) and re-signs them as an attacker would (`support.hostile`), or
leaves their checksums as they were. A
mutation that leaves a valid release (a changed title, say) must load into bundles that
forecast or refuse with a ForecastError, as the server answers them."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.catalogue_release import catalogue_table, publish_table
from support.hostile import (
    FILE_NAMES,
    TRAVERSAL,
    byte_mutations,
    cell_mutations,
    encode,
    hostile_store,
    json_mutations,
    resigned,
)
from support.releases import NAME_A, NAME_B, publish_release

from shelfcast.catalogue_releases import read_catalogue
from shelfcast.errors import ForecastError, ShelfcastError
from shelfcast.forecasting import bundle_table
from shelfcast.releases import ReleaseError, load_bundles, read_release

EXAMPLES = 30
HYPOTHESIS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


def loaded_or_refused(load: Callable[[], list], target: str) -> None:
    """`load` refuses with a ShelfcastError naming a file of the release, or gives bundles
    each of which forecasts or raises ForecastError."""
    try:
        bundles = load()
    except ShelfcastError as exc:
        message = str(exc)
        assert any(name in message for name in FILE_NAMES), message
        assert "Traceback" not in message
        return
    for bundle in bundles:
        try:
            forecast = bundle.forecast(4, (80,), quantiles=(0.5,))
        except ForecastError:
            continue
        assert forecast["mean"].notna().all() and (forecast["mean"] >= 0).all(), target


def load_titles(folder: Path) -> list:
    return list(load_bundles(read_release(str(folder))).values())


def load_catalogue(folder: Path) -> list:
    """What a server does with a catalogue release, every row built as on first use."""
    table = read_catalogue(read_release(str(folder))).table
    return [table.bundle(key) for key in table.keys]


@pytest.fixture(scope="module")
def title_store(tmp_path_factory, bundles) -> tuple[Path, Path]:
    """A per-title release: the store, and its manifest's store path."""
    root = tmp_path_factory.mktemp("titles")
    release = publish_release(root, bundles)
    return root, Path(release.uri).relative_to(root) / "manifest.json"


@pytest.fixture(scope="module")
def catalogue_store(tmp_path_factory) -> tuple[Path, Path, Path]:
    """A 30-title catalogue release: the store, its manifest and its table's folder."""
    root = tmp_path_factory.mktemp("catalogue")
    release = publish_table(root, catalogue_table(30)).release
    assert release.catalogue is not None
    return root, Path(release.uri).relative_to(root) / "manifest.json", Path(release.catalogue.path)


TITLE_FILES = {
    "manifest": None,
    "bundle.json": f"models/{NAME_B}/1/bundle.json",
    "history.csv": f"models/{NAME_A}/1/history.csv",
}


@pytest.mark.parametrize("target", list(TITLE_FILES))
def test_a_hostile_per_title_release_is_refused_naming_the_file(title_store, target):
    root, manifest = title_store
    path = TITLE_FILES[target] or manifest.as_posix()
    original = (root / path).read_bytes()
    mutations = [byte_mutations(original)]
    if path.endswith(".json"):
        doc = json.loads(original)
        signed = (lambda d: resigned(d, {})) if path == manifest.as_posix() else (lambda d: d)
        mutations.append(json_mutations(doc).map(lambda d: encode(signed(d))))

    @HYPOTHESIS
    @given(data=st.one_of(*mutations), sign=st.booleans())
    def check(data: bytes, sign: bool) -> None:
        with tempfile.TemporaryDirectory() as work:
            folder = hostile_store(root, Path(work, "store"), manifest, {path: data}, sign)
            loaded_or_refused(lambda: load_titles(folder), target)

    check()


CATALOGUE_FILES = (
    "manifest",
    f"{bundle_table.PART_PREFIX}00000.parquet",
    "shared.parquet",
    "versions.parquet",
)


@pytest.mark.parametrize("target", CATALOGUE_FILES)
def test_a_hostile_catalogue_release_is_refused_naming_the_file(catalogue_store, target):
    root, manifest, table = catalogue_store
    path = manifest.as_posix() if target == "manifest" else (table / target).as_posix()
    original = (root / path).read_bytes()
    mutations = [byte_mutations(original)]
    if target == "manifest":
        doc = json.loads(original)
        mutations.append(json_mutations(doc).map(lambda d: encode(resigned(d, {}))))
    elif target.startswith(bundle_table.PART_PREFIX):
        mutations.append(cell_mutations(root / path))

    @HYPOTHESIS
    @given(data=st.one_of(*mutations), sign=st.booleans())
    def check(data: bytes, sign: bool) -> None:
        with tempfile.TemporaryDirectory() as work:
            folder = hostile_store(root, Path(work, "store"), manifest, {path: data}, sign)
            loaded_or_refused(lambda: load_catalogue(folder), target)

    check()


@pytest.mark.parametrize("path", TRAVERSAL)
def test_paths_out_of_the_store_are_refused_before_anything_is_read(title_store, path):
    root, manifest = title_store
    doc = json.loads((root / manifest).read_bytes())
    doc["models"][0]["path"] = path
    with tempfile.TemporaryDirectory() as work:
        folder = hostile_store(
            root, Path(work, "store"), manifest, {manifest.as_posix(): encode(resigned(doc, {}))}
        )
        with pytest.raises(ReleaseError, match=r"manifest\.json: .*models\[0\]\.path: "):
            read_release(str(folder))


def test_catalogue_file_names_that_leave_its_folder_are_refused(catalogue_store):
    root, manifest, _ = catalogue_store
    doc = json.loads((root / manifest).read_bytes())
    files = doc["catalogue"]["files"]
    files["../../../escaped.parquet"] = files.pop("shared.parquet")
    with tempfile.TemporaryDirectory() as work:
        folder = hostile_store(
            root, Path(work, "store"), manifest, {manifest.as_posix(): encode(resigned(doc, {}))}
        )
        with pytest.raises(ReleaseError, match=r"catalogue\.files: '\.\./\.\./\.\./escaped"):
            read_release(str(folder))
