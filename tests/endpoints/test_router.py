"""The local endpoints' router without servers: reloading the split, refusals, its metrics,
the choice of a replica."""

import asyncio
import re
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shelfcast.endpoints.local_state import (
    EndpointRecord,
    ModelRecord,
    ReplicaRecord,
    StateStore,
    now,
)
from shelfcast.endpoints.replicas import HEALTHY, Replica, Supervisor
from shelfcast.endpoints.router import MAX_BODY_BYTES, Router
from shelfcast.endpoints.router_metrics import RouterMetrics


def write(store: StateStore, traffic: dict[str, int]) -> None:
    models = [
        ModelRecord(f"dm-{n}", "r", "/r", now(), replicas=[ReplicaRecord(40000 + n)])
        for n in (1, 2)
    ]
    store.write(EndpointRecord("e", port=1, created=now(), models=models, traffic=traffic))


def test_the_split_is_reloaded_when_the_state_file_is_replaced(tmp_path):
    store = StateStore(tmp_path)
    router = Router(store.state_path("e"))
    assert router.refresh() == []
    write(store, {"dm-1": 100})
    assert router.refresh() == [("dm-1", 100)]
    write(store, {"dm-1": 30, "dm-2": 70, "dm-9": 0})
    assert router.refresh() == [("dm-1", 30), ("dm-2", 70)]


def test_requests_it_cannot_route_are_refused_with_a_json_error(tmp_path):
    store = StateStore(tmp_path)
    write(store, {})

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=Router(store.state_path("e")))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            return [
                await client.post("/predict", json={"instances": [{"isbn": "1"}]}),
                await client.post("/predict", content=b"x" * (MAX_BODY_BYTES + 1)),
                await client.get("/health"),
                await client.get("/nowhere"),
                await client.get("/predict"),
                await client.post("/health"),
            ]

    no_traffic, too_large, health, unknown, get_predict, post_health = asyncio.run(ask())
    assert (no_traffic.status_code, no_traffic.json()["error"]["field"]) == (503, "traffic")
    assert (too_large.status_code, too_large.json()["error"]["field"]) == (413, "body")
    assert (health.status_code, health.json()["status"]) == (503, "no traffic")
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (404, "path")
    # the wrong method on a route the endpoint has: 405 naming the one it takes, as the servers
    assert (get_predict.status_code, get_predict.headers["allow"]) == (405, "POST")
    assert get_predict.headers["content-type"] == "application/json"
    assert get_predict.json()["error"] == {
        "field": "method",
        "reason": "Method Not Allowed: GET /predict",
    }
    assert (post_health.status_code, post_health.headers["allow"]) == (405, "GET")
    assert post_health.json()["error"]["field"] == "method"


def test_the_router_answers_its_own_metrics(tmp_path):
    store = StateStore(tmp_path)
    write(store, {})

    async def ask() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=Router(store.state_path("e")))
        async with httpx.AsyncClient(transport=transport, base_url="http://router") as client:
            await client.post("/predict", json={"instances": []})
            return [await client.get("/metrics"), await client.post("/metrics")]

    metrics, post_metrics = asyncio.run(ask())
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'shelfcast_router_requests_total{route="predict",status="503"} 1.0' in metrics.text
    assert (post_metrics.status_code, post_metrics.headers["allow"]) == (405, "GET")
    docs = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text()
    section = docs.split("## The local endpoint's router", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `(shelfcast_[a-z_]+)` \|", section, flags=re.M))
    families = {
        f"{f.name}_total" if f.type == "counter" else f.name
        for f in text_string_to_metric_families(metrics.text)
        if not f.name.endswith("_created")
    }
    assert documented == families


def test_a_request_goes_to_the_healthy_replica_with_the_fewest_in_flight(tmp_path):
    supervisor = Supervisor(tmp_path / "e" / "state.json", RouterMetrics())
    busy, idle, starting = (Replica("dm-1", n, "/r", ReplicaRecord(40000 + n)) for n in range(3))
    busy.state = idle.state = HEALTHY
    busy.outstanding = 3
    supervisor.replicas["dm-1"] = [busy, idle, starting]
    split = [("dm-1", 100)]

    assert supervisor.pick(split) is idle
    assert supervisor.pick(split, tried=[idle]) is busy  # the retry: another replica
    supervisor.dropped(idle)  # refused a connection: out until a probe finds it healthy
    assert supervisor.pick(split) is busy
    assert supervisor.pick(split, tried=[busy]) is None
    # a model without a healthy replica gets none of the traffic while another has one
    supervisor.replicas["dm-2"] = [Replica("dm-2", 0, "/r", ReplicaRecord(40010))]
    assert {supervisor.pick([("dm-1", 1), ("dm-2", 99)]) for _ in range(20)} == {busy}
    assert supervisor.healthy_count("dm-1") == (1, 3)
