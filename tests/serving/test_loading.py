"""A server started from a release URI: health while loading, when ready, after a failure."""

import subprocess
import sys
import time

from fastapi.testclient import TestClient
from support.releases import ISBN_A, NAME_A, NAME_B, publish_release

from shelfcast.serving.app import create_app
from shelfcast.serving.config import ServerConfig


def wait_for_health(client: TestClient, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/health")
        if health.json()["status"] != "loading" or time.monotonic() > deadline:
            return health
        time.sleep(0.02)


def test_a_release_loads_in_the_background_and_serves(release):
    app = create_app(release.uri, ServerConfig(release_uri=release.uri))
    with TestClient(app) as client:
        health = wait_for_health(client)
        assert health.status_code == 200
        assert health.json() == {
            "status": "ready",
            "release": release.release_id,
            "loaded": 2,
            "total": 2,
        }
        response = client.post("/predict", json={"instances": [{"isbn": ISBN_A, "horizon": 2}]})
        prediction = response.json()["predictions"][0]
        assert (prediction["model_name"], prediction["model_version"]) == (NAME_A, "1")
        assert "shelfcast_ready 1.0" in client.get("/metrics").text


def test_health_and_predict_answer_503_until_the_release_is_loaded(release):
    app = create_app(release.uri, ServerConfig(release_uri=release.uri))
    before_startup = TestClient(app)  # outside `with`: the app has not started loading
    health = before_startup.get("/health")
    assert health.status_code == 503
    assert health.json() == {"status": "loading", "release": release.uri, "loaded": 0}
    refused = before_startup.post("/predict", json={"instances": [{"isbn": ISBN_A}]})
    assert refused.status_code == 503
    assert refused.json()["error"]["reason"] == "the release is still loading (0 of ? models)"
    with TestClient(app) as client:  # startup begins loading
        assert app.state.loader.wait(30)
        assert client.get("/health").status_code == 200


def test_a_corrupt_bundle_keeps_health_at_503_and_says_why(tmp_path, bundles):
    release = publish_release(tmp_path / "store", bundles)
    history = tmp_path / "store" / "models" / NAME_B / "1" / "history.csv"
    history.write_bytes(history.read_bytes().replace(b"\n2", b"\n3", 1))
    app = create_app(release.uri, ServerConfig(release_uri=release.uri))
    with TestClient(app) as client:
        health = wait_for_health(client)
        assert health.status_code == 503
        body = health.json()
        assert body["status"] == "failed"
        assert "ChecksumMismatch" in body["reason"] and str(history) in body["reason"]
        refused = client.post("/predict", json={"instances": [{"isbn": ISBN_A}]})
        assert refused.status_code == 503
        error = refused.json()["error"]
        assert error["field"] == "release"
        assert error["reason"].startswith("the release failed to load: ChecksumMismatch")
        assert "shelfcast_ready 0.0" in client.get("/metrics").text


def test_a_missing_release_fails_to_load(tmp_path):
    uri = str(tmp_path / "releases" / "r-nothing")
    with TestClient(create_app(uri, ServerConfig(release_uri=uri))) as client:
        health = wait_for_health(client)
        assert health.status_code == 503
        assert "ReleaseNotFound" in health.json()["reason"]


def test_what_forecasts_import_is_imported_and_the_release_frozen_before_ready(release):
    """Not on the first request's time: the forecasting core imports scipy where used, and
    the loaded release is kept out of the garbage collector's scans (its pauses)."""
    code = """
import gc, sys, time
from fastapi.testclient import TestClient
from shelfcast.serving.app import create_app
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.loading import FORECAST_LIBRARIES
uri = sys.argv[1]
print(sorted(m for m in FORECAST_LIBRARIES if m in sys.modules), gc.get_freeze_count() > 0)
with TestClient(create_app(uri, ServerConfig(release_uri=uri))) as client:
    while client.get("/health").json()["status"] == "loading":
        time.sleep(0.02)
    print(sorted(m for m in FORECAST_LIBRARIES if m in sys.modules), gc.get_freeze_count() > 0)
"""
    out = subprocess.run(
        [sys.executable, "-c", code, release.uri], capture_output=True, text=True, check=True
    )
    assert out.stdout.splitlines() == ["[] False", "['scipy.signal', 'scipy.stats'] True"]
