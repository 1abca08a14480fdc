"""The router in front of a local endpoint's deployed models, and their supervisor.

    python -m shelfcast.endpoints.router --state <home>/endpoints/<name>/state.json --port P

A small ASGI app on 127.0.0.1, one process per endpoint. It keeps every deployed model's
replicas running (`shelfcast.endpoints.replicas`). POST /predict goes to one deployed model,
chosen at random with the traffic split's weights among those with a healthy replica, and
there to the healthy replica with the fewest requests in flight, over kept-alive
connections; the answer carries the deployed model's id in `X-Deployed-Model-Id` (and in
the body's `deployedModelId`). A request whose replica refused or dropped the connection,
or answered 5xx, is sent once more to another healthy replica (predictions are
idempotent). GET /health answers 200 when every deployed model with traffic has a healthy
replica, else 503, with each one's count; GET /metrics the router's Prometheus metrics.
Another method on a route gets 405 with `Allow`, another path 404 (JSON errors, as the
servers answer). The state file is re-read whenever it is replaced (checked on every
request and every `TICK`: one stat call), so a traffic change, a rollback among them,
takes effect on the next request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

import httpx

from shelfcast.endpoints.local_state import EndpointRecord, read_record
from shelfcast.endpoints.processes import HOST
from shelfcast.endpoints.replicas import PROBE_INTERVAL, TICK, Replica, Supervisor
from shelfcast.endpoints.router_metrics import CONTENT_TYPE, RouterMetrics

log = logging.getLogger("shelfcast.endpoints.router")

PREDICT_ROUTE, HEALTH_ROUTE, METRICS_ROUTE = "/predict", "/health", "/metrics"
ROUTE_METHODS = {PREDICT_ROUTE: b"POST", HEALTH_ROUTE: b"GET", METRICS_ROUTE: b"GET"}
ROUTE_LABELS = {PREDICT_ROUTE: "predict", HEALTH_ROUTE: "health", METRICS_ROUTE: "metrics"}
MAX_BODY_BYTES = 1_500_000  # Vertex AI's request limit, which the servers enforce too
MODEL_HEADER = "x-deployed-model-id"
FORWARDED_HEADERS = ("content-type", "authorization")
PREDICT_TIMEOUT = 60.0
ATTEMPTS = 2  # a failed predict is sent once more, to another replica
# A replica that refused, dropped or broke the connection: nothing was answered, try another.
DROPPED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Split = list[tuple[str, int]]  # (deployed model id, weight) of the models with traffic


class Router:
    """The ASGI app: routes by the split in `state_path`, reloaded when the file changes,
    to the replicas its supervisor keeps running."""

    def __init__(self, state_path: Path):
        self.state_path = state_path
        self.record: EndpointRecord | None = None
        self.split: Split = []
        self._seen: tuple[int, int, int] | None = None
        self.metrics = RouterMetrics()
        self.supervisor = Supervisor(state_path, self.metrics)
        limits = httpx.Limits(max_keepalive_connections=32, keepalive_expiry=30)
        self.client = httpx.AsyncClient(limits=limits, timeout=PREDICT_TIMEOUT)
        self._tasks: list[asyncio.Task[None]] = []

    def refresh(self) -> Split:
        """The current split, re-read if the state file was replaced since last time."""
        try:
            stat = os.stat(self.state_path)
        except FileNotFoundError:
            self.record, self.split, self._seen = None, [], None
            return self.split
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key != self._seen:
            self.record = record = read_record(self.state_path)
            self.split = [
                (dm, weight)
                for dm, weight in record.traffic.items()
                if weight > 0 and record.model(dm) is not None
            ]
            self._seen = key
        return self.split

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        counted = self._counting(send, ROUTE_LABELS.get(path, "other"))
        if path == PREDICT_ROUTE and method == "POST":
            await self._predict(scope, receive, counted)
        elif path == HEALTH_ROUTE and method == "GET":
            await self._health(counted)
        elif path == METRICS_ROUTE and method == "GET":
            if self.record is not None:
                self.supervisor.gauges(self.record)
            await _respond(counted, 200, self.metrics.exposition(), CONTENT_TYPE)
        elif path in ROUTE_METHODS:  # as the servers answer: 405 naming the method allowed
            reason = f"Method Not Allowed: {method} {path}"
            allow = ROUTE_METHODS[path]
            await _json(counted, 405, _error("method", reason), headers=[(b"allow", allow)])
        else:
            await _json(counted, 404, _error("path", f"Not Found: {method} {path}"))

    def _counting(self, send: Send, route: str) -> Send:
        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.metrics.requests.labels(route, str(message["status"])).inc()
            await send(message)

        return counted

    # ------------------------------------------------------------------------- supervision

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self._supervise_once()
                await self.supervisor.probe_now()  # adopted replicas serve from the start
                self._tasks = [
                    asyncio.create_task(self._every(TICK, self._supervise_once)),
                    asyncio.create_task(self._every(PROBE_INTERVAL, self.supervisor.probe_now)),
                ]
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                for task in self._tasks:  # the replicas keep running, for the next router
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                await self.client.aclose()
                await self.supervisor.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _supervise_once(self) -> None:
        self.refresh()
        if self.record is not None and self.supervisor.reconcile(self.record):
            await asyncio.to_thread(self.supervisor.save)

    @staticmethod
    async def _every(seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        """Run `step` every `seconds` until cancelled; a failed step is logged, not fatal."""
        while True:
            await asyncio.sleep(seconds)
            try:
                await step()
            except Exception:
                log.exception("supervising the replicas failed; trying again")

    # ------------------------------------------------------------------------- routes

    async def _predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:
            await _json(send, 413, _error("body", f"the body is over {MAX_BODY_BYTES:,} bytes"))
            return
        split = self.refresh()
        if not split:
            await _json(
                send, 503, _error("traffic", "the endpoint has no deployed model with traffic")
            )
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name.decode("latin-1") in FORWARDED_HEADERS
        }
        tried: list[Replica] = []
        failure = last = ""
        for _ in range(ATTEMPTS):
            replica = self.supervisor.pick(split, tried)
            if replica is None and not tried:  # none known healthy: new, or all restarted
                await self.supervisor.probe_now()
                replica = self.supervisor.pick(split)
            if replica is None:
                break
            if tried:
                self.metrics.retries.labels(failure).inc()
            tried.append(replica)
            replica.outstanding += 1
            try:
                answer = await self.client.post(
                    replica.url + PREDICT_ROUTE, content=body, headers=headers
                )
            except DROPPED as exc:
                self.supervisor.dropped(replica)
                failure, last = "connection", f"replica {replica.label}: {exc!r}"
                continue
            except httpx.HTTPError as exc:  # a timeout: slow, not gone; not sent again
                reason = f"replica {replica.label} did not answer: {exc!r}"
                await _json(send, 502, _error("deployed_model", reason), replica.model_id)
                return
            finally:
                replica.outstanding -= 1
            if answer.status_code >= 500 and len(tried) < ATTEMPTS:
                failure, last = "server_error", f"replica {replica.label}: {answer.status_code}"
                continue
            media = answer.headers.get("content-type", "application/json")
            await _respond(send, answer.status_code, answer.content, media, replica.model_id)
            return
        ids = ", ".join(dm for dm, _ in split)
        if tried:
            reason = f"no replica answered ({last})"
            await _json(send, 502, _error("deployed_model", reason))
        else:
            reason = f"no healthy replica of {ids} (the router is restarting them)"
            await _json(send, 503, _error("deployed_model", reason))

    async def _health(self, send: Send) -> None:
        split = self.refresh()
        counts = {dm: self.supervisor.healthy_count(dm) for dm, _ in split}
        models = {
            dm: f"{healthy}/{wanted} replicas healthy" for dm, (healthy, wanted) in counts.items()
        }
        healthy = bool(split) and all(h > 0 for h, _ in counts.values())
        status = "healthy" if healthy else "unhealthy" if split else "no traffic"
        await _json(send, 200 if healthy else 503, {"status": status, "deployed_models": models})


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it is over `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _error(field: str, reason: str) -> dict[str, Any]:
    return {"error": {"field": field, "reason": reason}}


async def _json(
    send: Send,
    status: int,
    body: Any,
    deployed_model_id: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await _respond(send, status, data, "application/json", deployed_model_id, headers)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    deployed_model_id: str | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    if deployed_model_id is not None:
        headers.append((MODEL_HEADER.encode(), deployed_model_id.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(
        prog="python -m shelfcast.endpoints.router", description=__doc__
    )
    parser.add_argument("--state", required=True, type=Path, help="the endpoint's state.json")
    parser.add_argument("--port", required=True, type=int, help="port to bind on 127.0.0.1")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(
        Router(args.state),
        host=HOST,
        port=args.port,
        access_log=False,
        log_level="info",
        lifespan="on",
        timeout_graceful_shutdown=5,
    )


if __name__ == "__main__":
    main()
