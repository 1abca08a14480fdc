"""The local endpoint backend with real processes on 127.0.0.1: a router in front of server
processes, state that outlives the backend object, traffic splits, rollback, and faults (a
stopped endpoint, a corrupt release, a deploy killed half-way). Faults of the replicas and
the router are in test_replica_faults.py."""

import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from support.catalogue_release import catalogue_table, publish_table
from support.processes import processes_naming
from support.releases import ISBN_A, ISBN_B

from shelfcast.endpoints import processes
from shelfcast.endpoints.base import HEALTHY, STOPPED, DeploymentFailed
from shelfcast.endpoints.local import LocalBackend
from shelfcast.endpoints.rollout import deploy_release, rollback

pytestmark = pytest.mark.integration

INSTANCES = [{"isbn": ISBN_A, "horizon": 4}, {"isbn": ISBN_B, "horizon": 4}]
INTERRUPTED_DEPLOY = """
import sys, time
from pathlib import Path
from shelfcast.endpoints.local import LocalBackend
from shelfcast.endpoints.rollout import deploy_release
from shelfcast.releases import read_release
from shelfcast.settings import Settings

def stall(message):  # the new server is started: wait here to be killed
    if message.startswith("Waiting for"):
        time.sleep(600)

home, name, release = sys.argv[1:]
deploy_release(LocalBackend(Settings(home=Path(home))), name, read_release(release), progress=stall)
"""


@dataclass(frozen=True)
class Serving:
    """An endpoint that served release 1 (`first`), then release 2 (`second`)."""

    name: str
    url: str
    first: str
    second: str


def answered_by(client: httpx.Client, url: str) -> str:
    response = client.post(f"{url}/predict", json={"instances": INSTANCES})
    assert response.status_code == 200, response.text
    assert response.json()["deployedModelId"] == response.headers["X-Deployed-Model-Id"]
    return response.headers["X-Deployed-Model-Id"]


@pytest.fixture(scope="module")
def serving(backend, releases) -> Serving:
    name = "book-sales"
    first = deploy_release(backend, name, releases["1"]).deployed_model
    second = deploy_release(backend, name, releases["2"])
    assert second.previous is not None and second.previous.id == first.id
    return Serving(name, second.endpoint.url, first.id, second.deployed_model.id)


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def test_the_router_serves_the_deployed_release_and_state_outlives_the_backend(
    backend, serving, client
):
    endpoint = LocalBackend(backend.settings).describe(serving.name)  # a fresh object

    assert endpoint.url == serving.url
    assert endpoint.traffic == {serving.second: 100}
    assert {m.id: m.state for m in endpoint.deployed_models} == {
        serving.first: HEALTHY,  # kept for rollback
        serving.second: HEALTHY,
    }
    assert endpoint.detail["status"] == "serving"
    assert (backend.settings.home / "endpoints" / serving.name / "state.json").is_file()
    assert serving.name in [e.name for e in backend.list_endpoints()]

    assert answered_by(client, serving.url) == serving.second
    assert client.get(f"{serving.url}/health").status_code == 200
    answer = backend.predict(serving.name, INSTANCES)
    assert answer.deployed_model_id == serving.second
    assert [p["model_version"] for p in answer.predictions] == ["2", "2"]
    direct = backend.predict(serving.name, INSTANCES, deployed_model_id=serving.first)
    assert direct.deployed_model_id == serving.first
    assert [p["model_version"] for p in direct.predictions] == ["1", "1"]


def test_the_traffic_split_is_honoured(backend, serving, client):
    backend.set_traffic(serving.name, {serving.first: 50, serving.second: 50}, note="even")
    try:
        counts = Counter(answered_by(client, serving.url) for _ in range(100))
    finally:
        backend.set_traffic(serving.name, {serving.second: 100})
    assert set(counts) == {serving.first, serving.second}
    assert min(counts.values()) >= 20, counts  # 50/50 over 100 requests


def test_rollback_moves_traffic_within_a_second(backend, serving, client):
    assert answered_by(client, serving.url) == serving.second
    started = time.perf_counter()
    try:
        result = rollback(backend, serving.name)
        assert answered_by(client, serving.url) == serving.first
        seconds = time.perf_counter() - started
    finally:
        backend.set_traffic(serving.name, {serving.second: 100})
    assert result.deployed_model.id == serving.first
    assert seconds < 1.0


def test_stop_ends_every_process_and_start_or_a_deploy_brings_the_endpoint_back(
    backend, serving, releases, client
):
    state = backend.settings.home / "endpoints" / serving.name / "state.json"
    stopped = backend.stop(serving.name)
    assert {m.state for m in stopped.deployed_models} == {STOPPED}
    assert stopped.detail["status"] == "stopped"
    assert not processes_naming(state, releases["1"].uri, releases["2"].uri)
    with pytest.raises(httpx.ConnectError):
        client.get(f"{serving.url}/health")

    started = backend.start(serving.name)
    assert started.url == serving.url
    assert {m.id: m.state for m in started.deployed_models} == {
        serving.first: HEALTHY,
        serving.second: HEALTHY,
    }
    assert answered_by(client, serving.url) == serving.second

    backend.stop(serving.name)  # a deploy of what it served (a rerun) brings it back too
    result = deploy_release(backend, serving.name, releases["2"])
    assert result.action == "unchanged"
    assert answered_by(client, serving.url) == serving.second


def test_a_corrupt_release_is_refused_at_health_and_the_previous_one_keeps_serving(
    backend, serving, releases, client
):
    before = backend.describe(serving.name)
    with pytest.raises(DeploymentFailed) as caught:
        deploy_release(backend, serving.name, releases["bad"], health_timeout=60)

    assert caught.value.check == "health"
    assert "checksum mismatch" in caught.value.reason
    after = backend.describe(serving.name)
    assert after.traffic == before.traffic
    assert [m.id for m in after.deployed_models] == [m.id for m in before.deployed_models]
    assert not processes_naming(releases["bad"].uri)  # its server was stopped
    assert answered_by(client, serving.url) == serving.second


def test_a_deploy_killed_half_way_leaves_the_endpoint_serving_and_the_next_deploy_cleans_up(
    backend, releases, client
):
    name = "interrupted"
    first = deploy_release(backend, name, releases["1"]).deployed_model.id
    url = backend.describe(name).url
    home = str(backend.settings.home)
    command = [sys.executable, "-c", INTERRUPTED_DEPLOY, home, name, releases["2"].uri]
    deploying = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 60
        while (
            (len(models := backend.store.read(name).models) < 2 or not models[1].replicas)
            and deploying.poll() is None
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert len(models) == 2 and models[1].replicas, "the deploy did not start a server"
    finally:
        deploying.send_signal(signal.SIGKILL)
        deploying.wait()
    leftover = models[1]
    servers = [(r.pid, r.port) for r in leftover.replicas]
    assert all(processes.running(*server) for server in servers)  # started, then abandoned

    endpoint = backend.describe(name)
    assert endpoint.traffic == {first: 100}
    assert answered_by(client, url) == first

    result = deploy_release(backend, name, releases["3"])
    new = result.deployed_model.id
    assert result.undeployed == (leftover.id,)
    assert {m.id for m in result.endpoint.deployed_models} == {first, new}
    assert result.endpoint.traffic == {new: 100}
    assert not any(processes.running(*server) for server in servers)
    assert answered_by(client, url) == new
    assert [p["model_version"] for p in backend.predict(name, INSTANCES).predictions] == [
        "3",
        "3",
    ]


def test_a_catalogue_release_deploys_smoke_tested_on_its_sample(backend, tmp_path, client):
    table = catalogue_table(30)
    release = publish_table(tmp_path / "store", table).release
    result = deploy_release(backend, "catalogue", release)
    assert result.action == "deployed"
    assert f"smoke: {len(release.catalogue.sample)} title(s) x 32 weeks passed" in result.checks
    endpoint = LocalBackend(backend.settings).describe("catalogue")
    assert endpoint.serving().release_id == release.release_id
    response = client.post(
        f"{endpoint.url}/predict", json={"instances": [{"isbn": k} for k in table.keys]}
    )
    assert response.status_code == 200, response.text
    assert [p["isbn"] for p in response.json()["predictions"]] == table.keys
