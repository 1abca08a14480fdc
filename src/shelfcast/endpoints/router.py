"""The router in front of a local endpoint's deployed models.

    python -m shelfcast.endpoints.router --state <home>/endpoints/<name>/state.json --port P

A small ASGI app on 127.0.0.1. POST /predict goes to one deployed model, chosen at random
with the traffic split's weights, over kept-alive connections; the answer carries the
deployed model's id in `X-Deployed-Model-Id` (and in the body's `deployedModelId`). A model
that refuses the connection is skipped for the next one. GET /health answers 200 when every
deployed model with traffic is healthy, else 503, with each one's status. Another method on
either route gets 405 with `Allow`, another path 404 (JSON errors, as the servers answer).
The split is re-read whenever the state file is replaced (checked on every request: one stat
call), so a traffic change, a rollback among them, takes effect on the next request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from shelfcast.endpoints.local_state import read_record
from shelfcast.endpoints.processes import HOST

PREDICT_ROUTE, HEALTH_ROUTE = "/predict", "/health"
ROUTE_METHODS = {PREDICT_ROUTE: b"POST", HEALTH_ROUTE: b"GET"}
MAX_BODY_BYTES = 1_500_000  # Vertex AI's request limit, which the servers enforce too
MODEL_HEADER = "x-deployed-model-id"
FORWARDED_HEADERS = ("content-type", "authorization")
HEALTH_TIMEOUT = 2.0
PREDICT_TIMEOUT = 60.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class Target:
    deployed_model_id: str
    url: str  # the server's base URL
    weight: int


class Router:
    """The ASGI app: routes by the split in `state_path`, reloaded when the file changes."""

    def __init__(self, state_path: Path):
        self.state_path = state_path
        self.targets: list[Target] = []
        self._seen: tuple[int, int, int] | None = None
        limits = httpx.Limits(max_keepalive_connections=32, keepalive_expiry=30)
        self.client = httpx.AsyncClient(limits=limits, timeout=PREDICT_TIMEOUT)

    def refresh(self) -> list[Target]:
        """The current targets, re-read if the state file was replaced since last time."""
        try:
            stat = os.stat(self.state_path)
        except FileNotFoundError:
            self.targets, self._seen = [], None
            return self.targets
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if key != self._seen:
            record = read_record(self.state_path)
            ports = {m.id: m.port for m in record.models}
            self.targets = [
                Target(dm, f"http://{HOST}:{ports[dm]}", weight)
                for dm, weight in record.traffic.items()
                if weight > 0 and dm in ports
            ]
            self._seen = key
        return self.targets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path == PREDICT_ROUTE and method == "POST":
            await self._predict(scope, receive, send)
        elif path == HEALTH_ROUTE and method == "GET":
            await self._health(send)
        elif path in ROUTE_METHODS:  # as the servers answer: 405 naming the method allowed
            reason = f"Method Not Allowed: {method} {path}"
            allow = ROUTE_METHODS[path]
            await _json(send, 405, _error("method", reason), headers=[(b"allow", allow)])
        else:
            await _json(send, 404, _error("path", f"Not Found: {method} {path}"))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.client.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await _read_body(receive, MAX_BODY_BYTES)
        if body is None:
            await _json(send, 413, _error("body", f"the body is over {MAX_BODY_BYTES:,} bytes"))
            return
        targets = self.refresh()
        if not targets:
            await _json(
                send, 503, _error("traffic", "the endpoint has no deployed model with traffic")
            )
            return
        headers = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in scope["headers"]
            if name.decode("latin-1") in FORWARDED_HEADERS
        }
        for target in _in_turn(targets):
            try:
                answer = await self.client.post(
                    target.url + PREDICT_ROUTE, content=body, headers=headers
                )
            except httpx.ConnectError:
                continue  # not started or gone: nothing was sent, try the next one
            except httpx.HTTPError as exc:
                reason = f"deployed model {target.deployed_model_id} did not answer: {exc!r}"
                await _json(send, 502, _error("deployed_model", reason), target)
                return
            media = answer.headers.get("content-type", "application/json")
            await _respond(send, answer.status_code, answer.content, media, target)
            return
        ids = ", ".join(t.deployed_model_id for t in targets)
        await _json(send, 502, _error("deployed_model", f"no deployed model answered ({ids})"))

    async def _health(self, send: Send) -> None:
        targets = self.refresh()
        statuses = await asyncio.gather(*(self._probe(t) for t in targets))
        models = {t.deployed_model_id: s for t, s in zip(targets, statuses, strict=True)}
        healthy = bool(targets) and all(s == "healthy" for s in statuses)
        status = "healthy" if healthy else "unhealthy" if targets else "no traffic"
        await _json(send, 200 if healthy else 503, {"status": status, "deployed_models": models})

    async def _probe(self, target: Target) -> str:
        try:
            answer = await self.client.get(target.url + HEALTH_ROUTE, timeout=HEALTH_TIMEOUT)
        except httpx.HTTPError:
            return "unreachable"
        return "healthy" if answer.status_code == 200 else f"answered {answer.status_code}"


def _in_turn(targets: list[Target]) -> list[Target]:
    """One target drawn by weight, then the others (tried only if it refuses connections)."""
    first = random.choices(targets, weights=[t.weight for t in targets])[0]
    return [first, *(t for t in targets if t is not first)]


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
    target: Target | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    data = json.dumps(body, separators=(",", ":")).encode()
    await _respond(send, status, data, "application/json", target, headers)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    media: str,
    target: Target | None = None,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", media.encode()), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    if target is not None:
        headers.append((MODEL_HEADER.encode(), target.deployed_model_id.encode()))
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
