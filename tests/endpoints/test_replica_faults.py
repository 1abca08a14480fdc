"""Faults of a local endpoint under load, with real processes on 127.0.0.1: two replicas per
deployed model kept running by the router. A killed or hung replica is replaced without a
failed request, every replica killed comes back with no one acting, deploys and rollbacks
fail no request, and a killed router is reported by `endpoints list` and brought back, with
the same replicas, by the next endpoints command."""

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from support.releases import ISBN_A, ISBN_B
from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.endpoints import processes
from shelfcast.endpoints.base import HEALTHY
from shelfcast.endpoints.local import LocalBackend
from shelfcast.endpoints.rollout import deploy_release, rollback

pytestmark = pytest.mark.integration

NAME = "book-sales"
BODY = {"instances": [{"isbn": ISBN_A, "horizon": 4}, {"isbn": ISBN_B, "horizon": 4}]}
RECOVERY = 60.0  # seconds to wait for a recovery: generous, not a target


@dataclass
class Load:
    """Clients posting predictions to `url` back to back in threads, until the block ends;
    every answer that is not a 200 (or no answer) is a failure."""

    url: str
    clients: int = 2
    answered: Counter[str] = field(default_factory=Counter)  # deployed model -> answers
    failures: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __enter__(self) -> "Load":
        self._threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()

    @property
    def total(self) -> int:
        return sum(self.answered.values())

    def more(self, count: int) -> None:
        """Wait for `count` more answers."""
        target = self.total + count
        wait_for(lambda: self.total >= target, "answers under load")

    def _client(self) -> None:
        with httpx.Client(timeout=60) as client:
            while not self._stop.is_set():
                try:
                    response = client.post(f"{self.url}/predict", json=BODY)
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")
                else:
                    self.answered[response.headers["X-Deployed-Model-Id"]] += 1


def wait_for(done: Callable[[], object], what: str, timeout: float = RECOVERY) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"no {what} after {timeout:g} s"
        time.sleep(0.1)


def pids(backend: LocalBackend, deployed_model_id: str) -> list[int]:
    """The pids of the deployed model's running replicas, as recorded."""
    model = backend.store.read(NAME).model(deployed_model_id)
    assert model is not None
    return [r.pid for r in model.replicas if r.pid and processes.running(r.pid, r.port)]


def all_healthy(backend: LocalBackend, deployed_model_id: str, gone: set[int]) -> bool:
    """Both replicas healthy, none of them a process in `gone`."""
    live = pids(backend, deployed_model_id)
    model = LocalBackend(backend.settings).health(NAME, deployed_model_id)
    return len(live) == 2 and not gone & set(live) and model.state == HEALTHY


def metric(url: str, name: str) -> float:
    """The sum of a counter's samples in the router's /metrics."""
    text = httpx.get(f"{url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


@pytest.fixture(scope="module")
def serving(backend, releases) -> Iterator[tuple[str, str]]:
    """The endpoint's URL and the deployed model serving release 2 (release 1 kept)."""
    deploy_release(backend, NAME, releases["1"])
    result = deploy_release(backend, NAME, releases["2"])
    assert result.deployed_model is not None
    yield result.endpoint.url or "", result.deployed_model.id


def test_each_deployed_model_runs_two_replicas_behind_the_router(backend, serving):
    url, model_id = serving
    endpoint = backend.describe(NAME)
    for model in endpoint.deployed_models:
        assert model.state == HEALTHY
        assert model.detail["replicas"] == "2/2 healthy"
    with Load(url) as load:
        load.more(40)
    assert load.failures == []
    assert set(load.answered) == {model_id}
    health = httpx.get(f"{url}/health").json()
    assert health["deployed_models"] == {model_id: "2/2 replicas healthy"}


def test_a_replica_killed_under_load_is_restarted_and_no_request_fails(backend, serving):
    url, model_id = serving
    killed = pids(backend, model_id)[0]
    restarts = metric(url, "shelfcast_replica_restarts_total")
    with Load(url) as load:
        load.more(20)
        os.kill(killed, signal.SIGKILL)
        wait_for(lambda: all_healthy(backend, model_id, {killed}), "restarted replica")
        load.more(20)
    assert load.failures == []
    assert metric(url, "shelfcast_replica_restarts_total") == restarts + 1
    assert backend.describe(NAME).deployed_model(model_id).detail["restarts"] >= 1


def test_a_hung_replica_is_killed_and_replaced_while_requests_succeed(backend, serving):
    url, model_id = serving
    model = backend.store.read(NAME).model(model_id)
    assert model is not None
    hung, port = model.replicas[1].pid, model.replicas[1].port
    assert hung is not None
    with Load(url) as load:
        load.more(20)
        os.kill(hung, signal.SIGSTOP)
        try:
            wait_for(lambda: all_healthy(backend, model_id, {hung}), "replacement replica")
        finally:
            if processes.running(hung, port):  # not replaced: do not leave it stopped
                os.kill(hung, signal.SIGKILL)
        load.more(20)
    assert load.failures == []
    text = httpx.get(f"{url}/metrics").text
    hung_restarts = f'shelfcast_replica_restarts_total{{deployed_model="{model_id}",reason="hung"}}'
    assert f"{hung_restarts} 1.0" in text


def test_every_replica_killed_comes_back_with_no_one_acting(backend, serving):
    url, model_id = serving
    record = backend.store.read(NAME)
    every = [r.pid for m in record.models for r in m.replicas if r.pid]
    for pid in every:
        os.kill(pid, signal.SIGKILL)

    def answers() -> bool:
        try:
            return httpx.post(f"{url}/predict", json=BODY, timeout=10).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(answers, "answer from the endpoint")
    wait_for(lambda: all_healthy(backend, model_id, set(every)), "healthy replicas")


def test_deploys_and_rollbacks_under_load_fail_no_request(backend, serving, releases):
    url, model_id = serving
    with Load(url) as load:
        load.more(20)
        new = deploy_release(backend, NAME, releases["3"]).deployed_model
        assert new is not None
        load.more(20)
        assert rollback(backend, NAME).deployed_model.id == model_id
        load.more(20)
        # the model that served a moment ago is undeployed: its replicas drain, then stop
        again = deploy_release(backend, NAME, releases["3"])
        assert again.undeployed == (new.id,)
        load.more(20)
        assert rollback(backend, NAME).deployed_model.id == model_id
        load.more(20)
    assert load.failures == []
    assert load.answered[new.id] > 0 and load.answered[model_id] > 0
    assert again.deployed_model is not None and load.answered[again.deployed_model.id] > 0


def test_a_killed_router_is_listed_and_the_next_command_brings_it_back(backend, serving):
    url, model_id = serving
    record = backend.store.read(NAME)
    replicas = sorted(r.pid for m in record.models for r in m.replicas if r.pid)
    os.kill(record.router_pid, signal.SIGKILL)
    wait_for(lambda: not processes.running(record.router_pid, record.port), "router end")
    env = {"SHELFCAST_HOME": str(backend.settings.home), "COLUMNS": "200"}

    listed = CliRunner().invoke(app, ["endpoints", "list"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "router down" in listed.output
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/health")

    described = CliRunner().invoke(app, ["endpoints", "describe", NAME], env=env)
    assert described.exit_code == 0, described.output
    after = backend.store.read(NAME)
    assert after.router_pid != record.router_pid
    assert processes.running(after.router_pid, after.port) and after.port == record.port
    # the same replicas, adopted: no duplicate process, no new port
    assert sorted(r.pid for m in after.models for r in m.replicas if r.pid) == replicas
    assert [r.port for m in after.models for r in m.replicas] == [
        r.port for m in record.models for r in m.replicas
    ]
    with Load(url) as load:
        load.more(20)
    assert load.failures == [] and set(load.answered) == {model_id}
