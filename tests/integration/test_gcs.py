"""Releases on Google Cloud Storage, emulated on 127.0.0.1 by `gcp-storage-emulator`.

Written through gcsfs (as Shelfcast writes), checked through the google-cloud-storage client
against hashes computed here (the emulator's own checksums follow its byte handling, see the
trailing-carriage-return test).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.catalogue_release import MODEL, catalogue_table, publish_table
from support.servers import call, health_until, running, stop_group

from shelfcast import registry
from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.releases import (
    ModelFiles,
    ReleaseNotFound,
    list_releases,
    load_bundles,
    publish,
    read_release,
)
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore, ChecksumMismatch, WriteConflict, sha256
from shelfcast.training.run import fit_config

pytestmark = [
    pytest.mark.integration,
    pytest.mark.filterwarnings("ignore:You are using a Python version:FutureWarning"),
]

REPO = Path(__file__).resolve().parents[2]
SNAIVE = SnaiveSpec(season_length=52, sigma2=90.0)


EMULATORS: dict[str, subprocess.Popen] = {}  # host -> process, for tests that pause it


@pytest.fixture(scope="session")
def gcs_emulator(tmp_path_factory) -> Iterator[str]:
    """`gcp-storage-emulator` in memory on a free port; STORAGE_EMULATOR_HOST points at it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"http://127.0.0.1:{port}"
    log_path = tmp_path_factory.mktemp("gcs") / "emulator.log"
    command = [sys.executable, "-m", "gcp_storage_emulator", "start"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--in-memory"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = host
    try:
        deadline = time.monotonic() + 30
        while not _answers(f"{host}/storage/v1/b?project=test"):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the GCS emulator did not start:\n{log_path.read_text()}")
            time.sleep(0.1)
        EMULATORS[host] = process
        yield host
    finally:
        if previous is None:
            os.environ.pop("STORAGE_EMULATOR_HOST", None)
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
        stop_group(process, timeout=10)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def gcs(gcs_emulator):
    """The real google-cloud-storage client, on the emulator."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(project="test", credentials=AnonymousCredentials())


@pytest.fixture
def bucket(gcs):
    return gcs.create_bucket(f"shelfcast-{uuid.uuid4().hex[:12]}")


def title(index: int) -> ModelFiles:
    isbn = f"97822{index:08d}"
    volumes = np.random.default_rng(index).poisson(50, 260).astype(float)
    series = TitleSeries(isbn, pd.Timestamp("2019-01-05"), volumes, title=f"Title {index}")
    bundle = Bundle(model=SNAIVE, history=series)
    return ModelFiles(f"arima_book_{isbn}", "1", bundle.to_files(), run_id=f"run{index}")


def objects(bucket, prefix: str = "") -> dict[str, bytes]:
    return {b.name: b.download_as_bytes() for b in bucket.list_blobs(prefix=prefix)}


def test_a_release_published_through_gcsfs_is_verified_by_the_gcs_client(bucket):
    titles = [title(i) for i in range(3)]
    uri = f"gs://{bucket.name}/shelfcast"
    result = publish(ArtifactStore(uri), titles)
    release = result.release
    assert result.created and release.store == uri
    assert release.uri == f"{uri}/releases/{release.release_id}"

    stored = objects(bucket, "shelfcast/")
    expected = {f"shelfcast/models/{t.name}/1/{n}": d for t in titles for n, d in t.files.items()}
    manifest_key = f"shelfcast/releases/{release.release_id}/manifest.json"
    assert set(stored) == {*expected, manifest_key}
    for key, data in expected.items():
        assert sha256(stored[key]) == sha256(data), key
    manifest = json.loads(stored[manifest_key])
    assert manifest["store"] == uri
    for entry in manifest["models"]:
        for name, digest in entry["files"].items():
            assert sha256(stored[f"shelfcast/{entry['path']}/{name}"]) == digest

    read = read_release(release.uri)
    assert read == release and [r.release_id for r in list_releases(uri)] == [read.release_id]
    bundles = load_bundles(read)
    original = Bundle.from_files(titles[1].files)
    pd.testing.assert_frame_equal(bundles[titles[1].name].forecast(6), original.forecast(6))


def test_publishing_again_overwrites_nothing(bucket):
    uri = f"gs://{bucket.name}"
    titles = [title(i) for i in range(2)]
    first = publish(ArtifactStore(uri), titles)
    generations = {b.name: b.generation for b in bucket.list_blobs()}
    again = publish(ArtifactStore(uri), titles)
    assert not again.created and again.release == first.release
    assert sorted(again.unchanged) == sorted(t.name for t in titles)
    assert {b.name: b.generation for b in bucket.list_blobs()} == generations
    other = ModelFiles(titles[0].name, "1", title(5).files)
    with pytest.raises(WriteConflict, match=f"gs://{bucket.name}/models/{titles[0].name}/1/"):
        publish(ArtifactStore(uri), [other])
    assert {b.name: b.generation for b in bucket.list_blobs()} == generations


def test_a_corrupted_object_is_a_checksum_mismatch(bucket):
    uri = f"gs://{bucket.name}"
    t = title(3)
    release = publish(ArtifactStore(uri), [t]).release
    key = f"models/{t.name}/1/history.csv"
    corrupt = bytearray(t.files["history.csv"])
    corrupt[-2] = ord("8") if corrupt[-2] == ord("9") else ord("9")  # the last week's volume
    bucket.blob(key).upload_from_string(bytes(corrupt))
    with pytest.raises(ChecksumMismatch, match=f"gs://{bucket.name}/{key}: checksum mismatch"):
        load_bundles(read_release(release.uri))


def test_an_interrupted_publish_is_not_a_release(bucket):
    """Model files uploaded, the manifest never written: nothing is released, and the next
    publish completes it from the files already there."""
    uri = f"gs://{bucket.name}"
    store = ArtifactStore(uri)
    titles = [title(i) for i in range(2)]
    store.write({f"models/{t.name}/1/{n}": d for t in titles for n, d in t.files.items()})
    bucket.blob("releases/r-20260101-0123456789/upload.tmp").upload_from_string(b"partial")
    assert list_releases(uri) == []
    with pytest.raises(ReleaseNotFound, match="not a release"):
        read_release(f"{uri}/releases/r-20260101-0123456789")
    result = publish(store, titles)
    assert result.created and result.written == ()
    assert [r.release_id for r in list_releases(uri)] == [result.release.release_id]


def test_an_upload_that_reads_back_different_is_refused(bucket):
    """The emulator drops a trailing carriage return from gcsfs uploads; the read-back
    after every write turns that into an error instead of a silently different file."""
    store = ArtifactStore(f"gs://{bucket.name}")
    data = b"week_ending,volume\r\n2024-01-06,5\r"
    try:
        store.write({"probe/lines.csv": data})
    except ChecksumMismatch as exc:
        assert exc.expected == sha256(data)
        assert bucket.blob("probe/lines.csv").download_as_bytes() == data[:-1]
    else:
        pytest.skip("this emulator keeps trailing carriage returns")


def test_seed_script_uploads_to_the_bucket(bucket, gcs_emulator, tmp_path):
    home = tmp_path / "home"
    settings = Settings(home=home)
    config = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))
    fits = [fit_title(_series(i), config) for i in range(2)]
    frame = pd.concat([f.bundle.history.to_frame().assign(isbn=f.key) for f in fits])
    registry.log_training_run(
        settings, fits, fingerprint="g" * 64, dataset=frame, dataset_source="test", counts={}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHELFCAST_")}
    env.update(SHELFCAST_HOME=str(home), COLUMNS="200")
    env.pop("MLFLOW_TRACKING_URI", None)
    script = REPO / "deploy" / "02_upload_models_to_gcs.py"
    command = [sys.executable, str(script), "--upload-all", "--bucket-name", bucket.name]
    done = subprocess.run(
        [*command, "--project-id", "test"], env=env, capture_output=True, text=True, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    (release,) = list_releases(f"gs://{bucket.name}")
    assert release.release_id in done.stdout and "new release" in done.stdout
    assert {m.isbn for m in release.models} == {f.key for f in fits}
    assert len(load_bundles(release)) == 2
    assert "Writing model files to the artifact store" in done.stderr  # the progress bar


def _series(index: int) -> TitleSeries:
    return Bundle.from_files(title(index).files).history


def test_the_server_serves_every_title_of_a_gs_release_and_of_a_copy_of_it(bucket, tmp_path):
    """As on Vertex AI: AIP_STORAGE_URI names the release in the bucket, or Vertex's copy
    of the release folder elsewhere (the manifest's store still locates the bundles)."""
    titles = [title(i) for i in range(3)]
    release = publish(ArtifactStore(f"gs://{bucket.name}/shelfcast"), titles).release
    manifest = bucket.blob(f"shelfcast/releases/{release.release_id}/manifest.json")
    bucket.copy_blob(manifest, bucket, "vertex-copy/model-1/manifest.json")
    for uri in (release.uri, f"gs://{bucket.name}/vertex-copy/model-1"):
        with running(uri, tmp_path) as server:
            health_until(server, lambda status, body: status == 200)
            isbns = [t.name.removeprefix("arima_book_") for t in titles]
            body = json.dumps({"instances": [{"isbn": isbn} for isbn in isbns]}).encode()
            status, answer = call(f"{server.url}/predict", body)
            assert status == 200, answer
            for t, p in zip(titles, json.loads(answer)["predictions"], strict=True):
                expected = Bundle.from_files(t.files).forecast(32)
                assert p["model_name"] == t.name and len(p["weeks"]) == 32
                assert [w["mean"] for w in p["weeks"]] == pytest.approx(
                    expected["mean"].tolist(), abs=1e-3
                )


def test_a_gs_catalogue_release_is_fetched_once_verified_and_healthy_only_when_ready(
    bucket, gcs_emulator, tmp_path
):
    """The server answers health (503, loading) while the store does not answer, fetches
    the table into its cache folder, and is healthy once the files are verified."""
    table = catalogue_table(30)
    release = publish_table(f"gs://{bucket.name}/shelfcast", table).release
    stored = objects(bucket, f"shelfcast/{release.catalogue.path}/")
    assert {k.rsplit("/", 1)[1] for k in stored} == set(release.catalogue.files)
    emulator = EMULATORS[gcs_emulator]
    emulator.send_signal(signal.SIGSTOP)
    try:
        with running(release.uri, tmp_path) as server:
            status, body, _ = health_until(server, lambda status, body: True)
            assert status == 503 and body["status"] == "loading"
            emulator.send_signal(signal.SIGCONT)
            status, body, _ = health_until(server, lambda status, body: status == 200)
            assert body["total"] == 30 and body["release"] == release.release_id
            cached = tmp_path / "home" / "cache" / "releases" / release.catalogue.path
            assert sorted(p.name for p in cached.iterdir()) == sorted(release.catalogue.files)
            request = {"instances": [{"isbn": k} for k in table.keys]}
            status, answer = call(f"{server.url}/predict", json.dumps(request).encode())
            assert status == 200
            predictions = json.loads(answer)["predictions"]
            assert [p["isbn"] for p in predictions] == table.keys
            assert {p["model_name"] for p in predictions} == {MODEL}
    finally:
        emulator.send_signal(signal.SIGCONT)
