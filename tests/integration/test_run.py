"""`shelfcast run` end to end in a fresh project folder: train, register, promote, package,
deploy to a local endpoint, smoke test; then again, which must change nothing."""

import json
from pathlib import Path

import pytest
from support.cli import shelfcast

from shelfcast.endpoints.base import Endpoint
from shelfcast.endpoints.local import LocalBackend
from shelfcast.serving.client import predict
from shelfcast.settings import load_settings

pytestmark = pytest.mark.integration

ISBNS = ("9780722532935", "9780241003008")


@pytest.fixture
def project(tmp_path: Path):
    yield tmp_path
    shelfcast(tmp_path, "endpoints", "stop", "book-sales")


def endpoint(project: Path) -> Endpoint:
    return LocalBackend(load_settings(home=project / ".shelfcast")).describe("book-sales")


def test_run_deploys_a_serving_release_and_a_rerun_changes_nothing(project: Path):
    args = ["run", *(f"--isbn={isbn}" for isbn in ISBNS)]
    first = shelfcast(project, *args)
    assert first.returncode == 0, first.stderr[-3000:]
    releases = list((project / ".shelfcast/artifacts/releases").iterdir())
    assert len(releases) == 1
    release_id = releases[0].name
    manifest = json.loads((releases[0] / "manifest.json").read_text())
    assert sorted(m["isbn"] for m in manifest["models"]) == sorted(ISBNS)
    assert f"{release_id} (new)" in first.stdout
    state = endpoint(project)
    url = state.url
    assert state.serving().release_id == release_id
    assert url.startswith("http://127.0.0.1:") and url in first.stdout

    answer = predict(url, [{"isbn": ISBNS[1], "horizon": 4, "level": [80, 95]}])
    weeks = answer["predictions"][0]["weeks"]
    assert len(weeks) == 4
    assert all(w["lo_95"] <= w["lo_80"] <= w["mean"] <= w["hi_80"] <= w["hi_95"] for w in weeks)
    # The sample forecast printed by run is the endpoint's answer for the first seed title.
    shown = predict(url, [{"isbn": ISBNS[0], "horizon": 8}])["predictions"][0]["weeks"][0]
    assert shown["week_ending"] in first.stdout
    assert f"{shown['mean']:,.0f}" in first.stdout

    second = shelfcast(project, *args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{release_id} (unchanged)" in second.stdout
    assert "from ZenML's cache" in second.stdout
    assert len(list((project / ".shelfcast/artifacts/releases").iterdir())) == 1
    again = endpoint(project)
    assert again.url == url
    assert [m.id for m in again.deployed_models] == [m.id for m in state.deployed_models]
    assert again.traffic == state.traffic
