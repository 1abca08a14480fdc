"""Concurrent requests' uncached instances are forecast together and each request gets the
answers it would get alone."""

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from support.releases import NAME_A, NAME_B

from shelfcast.serving.answers import Task
from shelfcast.serving.app import create_app
from shelfcast.serving.coalescing import INLINE_TITLES, Coalescer
from shelfcast.serving.config import ServerConfig
from shelfcast.serving.pool import ModelPool


class CountingPool(ModelPool):
    """A pool that records how many titles each forecast call takes."""

    calls: list[int]

    def predictions_json(self, requests, *args, **kwargs):
        self.calls.append(len(requests))
        return super().predictions_json(requests, *args, **kwargs)


def test_concurrent_requests_are_answered_together_each_as_if_alone(bundles):
    """Twelve titles (copies of two bundles under other keys), a request for each, some with
    a second title and one with a bad instance."""
    copies = {
        f"title_{i}": replace(b, history=replace(b.history, key=f"key-{i}"))
        for i, b in enumerate([bundles[NAME_A], bundles[NAME_B]] * 6)
    }
    pool = CountingPool.from_bundles(copies)
    pool.calls = []
    app = create_app(pool, ServerConfig(release_uri="unused"))
    end = bundles[NAME_A].history.end.date()
    bodies = [
        {
            "instances": [
                {
                    "model_name": name,
                    "horizon": 6,
                    "actuals": [{"week_ending": str(end + timedelta(weeks=1)), "volume": i}],
                }
                for name in [f"title_{i}"] + ([] if i % 2 else [f"title_{(i + 1) % 12}"])
            ]
        }
        for i in range(12)
    ]
    bodies[5]["instances"].append({"model_name": "title_0", "actuals": [{"week_ending": "x"}]})

    async def send(client, body):
        return await client.post("/predict", content=json.dumps(body))

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            together = await asyncio.gather(*(send(client, b) for b in bodies))
            calls = list(pool.calls)
            alone = [await send(client, b) for b in bodies]
        return together, calls, alone

    together, calls, alone = asyncio.run(run())
    assert [r.status_code for r in together] == [200] * len(bodies)
    assert [r.json() for r in together] == [r.json() for r in alone]
    assert max(calls) > 2 and len(calls) < sum(len(b["instances"]) for b in bodies)
    error = together[5].json()["predictions"][-1]["error"]
    assert error["field"].startswith("instances[1].actuals[0]")


class LoopRecordingPool(ModelPool):
    """A pool that records, for each forecast call, its titles and whether it ran on the
    event loop's thread."""

    calls: list[tuple[int, bool]]

    def predictions_json(self, requests, *args, **kwargs):
        try:
            asyncio.get_running_loop()
            on_loop = True
        except RuntimeError:  # a worker thread runs no loop
            on_loop = False
        self.calls.append((len(requests), on_loop))
        return super().predictions_json(requests, *args, **kwargs)


def test_a_small_batch_is_answered_on_the_event_loop_a_large_one_in_a_thread_alike(bundles):
    """A request of one uncached title is forecast on the loop, one of more titles than
    INLINE_TITLES in a worker thread; each title's answer is the one it gets alone."""
    names = [f"title_{i}" for i in range(INLINE_TITLES + 1)]
    copies = {
        name: replace(bundles[NAME_A], history=replace(bundles[NAME_A].history, key=f"k-{i}"))
        for i, name in enumerate(names)
    }
    pool = LoopRecordingPool.from_bundles(copies)
    pool.calls = []
    client = TestClient(create_app(pool, ServerConfig(release_uri="unused")))
    end = bundles[NAME_A].history.end.date()
    actuals = [{"week_ending": str(end + timedelta(weeks=1)), "volume": 12.0}]

    def body(chosen):
        return {"instances": [{"model_name": n, "horizon": 5, "actuals": actuals} for n in chosen]}

    with client:
        alone = [client.post("/predict", json=body([name])) for name in names]
        together = client.post("/predict", json=body(names))
    assert [r.status_code for r in alone] == [200] * len(names) and together.status_code == 200
    assert together.json()["predictions"] == [r.json()["predictions"][0] for r in alone]
    assert pool.calls == [(1, True)] * len(names) + [(len(names), False)]


class FailingOncePool(ModelPool):
    """A pool whose first forecast call fails, as a broken release's model would."""

    failures: int

    def predictions_json(self, requests, *args, **kwargs):
        if self.failures:
            self.failures -= 1
            raise RuntimeError("the forecast failed")
        return super().predictions_json(requests, *args, **kwargs)


def test_a_failed_batch_fails_its_requests_and_the_next_ones_are_answered(bundles):
    """The failure reaches each request of its batch (on the loop and in a worker thread), and
    the coalescer drains the requests after it as before."""
    names = [f"title_{i}" for i in range(INLINE_TITLES + 1)]
    copies = {
        name: replace(bundles[NAME_A], history=replace(bundles[NAME_A].history, key=f"k-{i}"))
        for i, name in enumerate(names)
    }
    pool = FailingOncePool.from_bundles(copies)
    end = bundles[NAME_A].history.end.date()
    actuals = [(end + timedelta(weeks=1), 12.0)]

    def tasks(chosen):
        return [Task(i, pool.get(n), 5, (80,), (), list(actuals)) for i, n in enumerate(chosen)]

    async def run(chosen):
        coalescer = Coalescer()
        pool.failures = 1
        with pytest.raises(RuntimeError, match="the forecast failed"):
            await coalescer.answer(pool, tasks(chosen))
        answered = [tasks(chosen) for _ in range(3)]
        await asyncio.gather(*(coalescer.answer(pool, t) for t in answered))
        return answered

    for chosen in (names[:1], names):  # on the loop, then in a worker thread
        for answered in asyncio.run(run(chosen)):
            assert all(t.result is not None and not t.errors for t in answered)
