"""The artifact store and releases on a local folder and on fsspec's in-memory store."""

from __future__ import annotations

import json
import re
import shutil
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.releases import (
    ModelFiles,
    ModelNotInRelease,
    ReleaseError,
    ReleaseNotFound,
    content_digest,
    list_releases,
    load_bundles,
    open_release,
    publish,
    read_release,
)
from shelfcast.storage import (
    ArtifactNotFound,
    ArtifactStore,
    ChecksumMismatch,
    StorageError,
    WriteConflict,
    sha256,
    storage_options,
)

SNAIVE = SnaiveSpec(season_length=52, sigma2=100.0)


def title_files(index: int, weeks: int = 300) -> ModelFiles:
    """A small bundle of a synthetic title, as a registered version's files."""
    isbn = f"97800000{index:05d}"
    volumes = np.random.default_rng(index).poisson(40 + index % 30, weeks).astype(float)
    series = TitleSeries(isbn, pd.Timestamp("2018-01-06"), volumes, title=f"Title {index}")
    bundle = Bundle(model=SNAIVE, history=series, created_at="2026-01-01T00:00:00+00:00")
    return ModelFiles(
        name=f"arima_book_{isbn}",
        version="1",
        files=bundle.to_files(),
        run_id=f"run{index}",
        backtest_mase=0.5 + index / 100,
    )


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path) -> ArtifactStore:
    if request.param == "local":
        return ArtifactStore(tmp_path / "store")
    return ArtifactStore(f"memory://shelfcast-{uuid.uuid4().hex}")


# ---------------------------------------------------------------------------- the store


def test_writes_are_verified_and_never_overwrite(store):
    files = {"models/a/1/bundle.json": b'{"a": 1}\n', "models/a/1/history.csv": b"x\r\n1\r"}
    first = store.write(files)
    assert sorted(first.written) == sorted(files) and first.unchanged == ()
    assert first.checksums == {p: sha256(d) for p, d in files.items()}
    assert store.read_many(first.checksums) == files

    again = store.write(files)  # identical bytes: a verified no-op
    assert again.written == () and sorted(again.unchanged) == sorted(files)

    with pytest.raises(WriteConflict, match=r"models/a/1/bundle\.json already exists"):
        store.write({"models/a/1/bundle.json": b'{"a": 2}\n'})
    assert store.read("models/a/1/bundle.json") == b'{"a": 1}\n'


def test_reads_verify_checksums_and_name_the_file(store):
    store.write({"models/a/1/history.csv": b"week,volume\n"})
    good = sha256(b"week,volume\n")
    wrong = sha256(b"something else")
    with pytest.raises(ChecksumMismatch) as caught:
        store.read_many({"models/a/1/history.csv": wrong})
    error = caught.value
    assert error.uri == store.uri("models/a/1/history.csv")
    assert (error.expected, error.actual) == (wrong, good)
    assert str(error).startswith(f"{store.uri('models/a/1/history.csv')}: checksum mismatch")
    with pytest.raises(ArtifactNotFound, match=r"models/b/1/bundle\.json does not exist"):
        store.read_many({"models/a/1/history.csv": good, "models/b/1/bundle.json": None})


def test_listing_and_existence(store):
    assert store.list("releases") == []
    store.write({"releases/r-1/manifest.json": b"{}", "releases/r-2/partial.txt": b"."})
    assert store.list("releases") == ["r-1", "r-2"]
    assert store.exists("releases/r-1/manifest.json")
    assert not store.exists("releases/r-3/manifest.json")


def test_local_writes_leave_no_temporary_files(tmp_path):
    store = ArtifactStore(tmp_path)
    store.write({f"models/m/1/f{i}": bytes([i]) for i in range(20)})
    names = sorted(p.name for p in (tmp_path / "models" / "m" / "1").iterdir())
    assert names == sorted(f"f{i}" for i in range(20))


def test_local_roots_are_absolute_and_uris_join(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert ArtifactStore("rel/store/").root == str(tmp_path / "rel" / "store")
    assert ArtifactStore(f"file://{tmp_path}/x").root == str(tmp_path / "x")
    assert ArtifactStore(tmp_path).uri("models/a") == f"{tmp_path}/models/a"


def test_gcs_options_follow_the_emulator_variable(monkeypatch):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    assert storage_options("gs", project="p1") == {"project": "p1"}
    assert storage_options("file", project="p1") == {}
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:1")
    assert storage_options("gs") == {"token": "anon", "batch_size": 4}


def test_an_unknown_protocol_is_a_storage_error():
    with pytest.raises(StorageError, match="cannot open the artifact store nosuch://x"):
        ArtifactStore("nosuch://x")


# ---------------------------------------------------------------------------- releases


def test_publish_read_and_load_a_release(store):
    titles = [title_files(i) for i in range(3)]
    result = publish(store, titles)
    release = result.release
    assert result.created and sorted(result.written) == sorted(t.name for t in titles)
    assert result.unchanged == ()
    assert release.store == store.root
    assert release.uri == store.uri(f"releases/{release.release_id}")
    digest = content_digest(release.models)
    assert release.release_id == f"r-{release.created[:10].replace('-', '')}-{digest[:10]}"

    manifest = json.loads(store.read(f"releases/{release.release_id}/manifest.json"))
    assert manifest["format_version"] == 1 and manifest["store"] == store.root
    entry = manifest["models"][1]
    assert entry["name"] == titles[1].name and entry["version"] == "1"
    assert entry["isbn"] == "9780000000001" and entry["title"] == "Title 1"
    assert entry["model_family"] == "snaive" and entry["path"] == f"models/{titles[1].name}/1"
    assert entry["run_id"] == "run1" and entry["backtest_mase"] == pytest.approx(0.51)
    assert entry["files"] == {n: sha256(titles[1].files[n]) for n in (BUNDLE_FILE, HISTORY_FILE)}
    for t in titles:  # byte-for-byte
        for name, data in t.files.items():
            assert store.read(f"models/{t.name}/1/{name}") == data

    read = read_release(release.uri)
    assert read == release
    assert read_release(f"{release.uri}/manifest.json") == release
    assert open_release(store.root, release.release_id) == release
    bundles = load_bundles(read)
    assert list(bundles) == [t.name for t in titles]
    original = Bundle.from_files(titles[2].files)
    pd.testing.assert_frame_equal(bundles[titles[2].name].forecast(8), original.forecast(8))


def test_the_same_versions_are_the_existing_release_and_new_ones_a_new_release(store):
    titles = [title_files(i) for i in range(3)]
    first = publish(store, titles)
    again = publish(store, list(reversed(titles)))
    assert not again.created and again.release == first.release
    assert again.written == () and sorted(again.unchanged) == sorted(t.name for t in titles)

    newer = ModelFiles(titles[0].name, "2", title_files(0, weeks=301).files, run_id="run7")
    second = publish(store, [newer, *titles[1:]])
    assert second.created and second.release.release_id != first.release.release_id
    assert second.written == (titles[0].name,)
    assert [r.release_id for r in list_releases(store.root)] == sorted(
        [first.release.release_id, second.release.release_id],
        # creation times are to the second: releases of the same second go by id
        key=lambda rid: (read_release(store.uri(f"releases/{rid}")).created, rid),
        reverse=True,
    )
    # a version is never rewritten with other bytes
    with pytest.raises(WriteConflict, match=re.escape(f"models/{titles[1].name}/1/")):
        publish(store, [ModelFiles(titles[1].name, "1", title_files(9).files)])


def test_a_release_folder_without_a_manifest_is_not_a_release(store):
    published = publish(store, [title_files(1)]).release
    store.write({"releases/r-20260101-0123456789/partial": b"interrupted"})
    with pytest.raises(ReleaseNotFound, match="not a release"):
        read_release(store.uri("releases/r-20260101-0123456789"))
    assert [r.release_id for r in list_releases(store.root)] == [published.release_id]
    with pytest.raises(ReleaseNotFound, match="no release 'r-nope'"):
        open_release(store.root, "r-nope")


def test_release_models_by_name_or_isbn():
    release = publish(ArtifactStore(f"memory://{uuid.uuid4().hex}"), [title_files(4)]).release
    model = release.model("arima_book_9780000000004")
    assert release.model("9780000000004") is model and model.version == "1"
    with pytest.raises(ModelNotInRelease, match="no model for '9789999999999'"):
        release.model("9789999999999")
    assert issubclass(ModelNotInRelease, LookupError)


def test_corruption_is_found_and_named(tmp_path):
    store = ArtifactStore(tmp_path)
    title = title_files(2)
    release = publish(store, [title]).release
    history = tmp_path / "models" / title.name / "1" / HISTORY_FILE
    data = bytearray(history.read_bytes())
    data[-2] = ord("8") if data[-2] == ord("9") else ord("9")  # the last week's volume
    history.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match=re.escape(f"{history}: checksum mismatch")):
        load_bundles(read_release(release.uri))

    manifest = Path(release.uri) / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["models"][0]["version"] = "9"
    manifest.write_text(json.dumps(doc))
    with pytest.raises(ReleaseError, match=re.escape(f"{manifest}: its models do not match")):
        read_release(release.uri)
    manifest.write_text("{not json")
    with pytest.raises(ReleaseError, match=re.escape(f"{manifest}: not a valid release manifest")):
        read_release(release.uri)


def test_a_bundle_of_another_title_is_refused(tmp_path):
    store = ArtifactStore(tmp_path)
    title = title_files(3)
    release = publish(store, [title]).release
    manifest = Path(release.uri) / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["models"][0]["isbn"] = "9781111111113"  # a manifest claiming another title
    manifest.write_text(json.dumps(doc))
    with pytest.raises(ReleaseError, match="the bundle is for 9780000000003, the manifest says"):
        load_bundles(read_release(release.uri))
    with pytest.raises(ReleaseError, match=r"has no history\.csv"):
        publish(store, [ModelFiles("arima_book_x", "1", {BUNDLE_FILE: title.files[BUNDLE_FILE]})])
    with pytest.raises(ReleaseError, match="nothing to release"):
        publish(store, [])


def test_a_copy_of_the_release_folder_finds_the_models_in_the_store(tmp_path):
    """As on Vertex AI, which serves a Model from its own copy of the artifact URI."""
    store = ArtifactStore(tmp_path / "store")
    release = publish(store, [title_files(i) for i in range(2)]).release
    copy = tmp_path / "vertex-copy" / "model"
    shutil.copytree(release.uri, copy)
    from_copy = read_release(str(copy))
    assert from_copy == release and from_copy.store == store.root
    assert len(load_bundles(from_copy)) == 2


def many_titles(count: int, weeks: int) -> list[ModelFiles]:
    """`count` titles of `weeks` weeks each, written as files directly (quicker than Bundles)."""
    template = json.loads(title_files(0, weeks).files[BUNDLE_FILE])
    dates = pd.date_range("2012-01-07", periods=weeks, freq="W-SAT").strftime("%Y-%m-%d")
    template["training_window"].update(start=dates[0], end=dates[-1], weeks=weeks)
    rng = np.random.default_rng(0)
    out = []
    for i in range(count):
        isbn = f"97811{i:08d}"
        info = {**template, "key": isbn, "title": f"Title {i}"}
        rows = "".join(f"{d},{v}\n" for d, v in zip(dates, rng.poisson(30, weeks), strict=True))
        files = {
            BUNDLE_FILE: json.dumps(info, indent=2).encode(),
            HISTORY_FILE: f"week_ending,volume\n{rows}".encode(),
        }
        out.append(ModelFiles(f"arima_book_{isbn}", "3", files, run_id=f"run{i}"))
    return out


def test_a_500_title_release_loads_in_well_under_5_seconds(tmp_path):
    store = ArtifactStore(tmp_path)
    release = publish(store, many_titles(500, weeks=600)).release
    done: list[int] = []
    started = time.perf_counter()
    bundles = load_bundles(read_release(release.uri), progress=done.append)
    seconds = time.perf_counter() - started
    assert len(bundles) == 500 and done[-1] == 500 and done == sorted(done)
    assert seconds < 4.0, f"loading 500 bundles took {seconds:.2f} s"
