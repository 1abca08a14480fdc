"""Concurrent requests' uncached instances are forecast together and each request gets the
answers it would get alone."""

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import httpx
from support.releases import NAME_A, NAME_B

from shelfcast.serving.app import create_app
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
