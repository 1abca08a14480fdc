"""The local endpoint backend: prediction server processes on 127.0.0.1 behind a router.

An endpoint is a router process (`shelfcast.endpoints.router`) on a port chosen when the
endpoint is created and kept across restarts (its URL), and each deployed model is a server
process (`python -m shelfcast.serving`) on a port of its own, started detached so that it
outlives the command that started it. What runs where is recorded in `<home>/endpoints/`
(`local_state`); the router follows the recorded traffic split. A new deployed model takes
no traffic until the rollout gives it some, so a deploy killed half-way leaves the endpoint
serving what it served; the next deploy's clean-up removes what it left behind.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shelfcast.endpoints import processes
from shelfcast.endpoints.base import (
    FAILED,
    HEALTHY,
    STARTING,
    STOPPED,
    UNHEALTHY,
    DeployedModel,
    DeployedModelNotFound,
    Endpoint,
    EndpointBackend,
    EndpointError,
    PredictionFailed,
    PredictResponse,
    TrafficChange,
    check_split,
)
from shelfcast.endpoints.local_state import EndpointRecord, ModelRecord, StateStore, now
from shelfcast.endpoints.processes import HOST
from shelfcast.serving.client import PredictionRequestError
from shelfcast.serving.client import predict as post_predict

if TYPE_CHECKING:
    from shelfcast.releases import Release
    from shelfcast.settings import Settings

HEALTH_ROUTE = "/health"
PROBE_TIMEOUT = 2.0  # seconds for one health request
START_GRACE = 60.0  # seconds a live server may take to open its port before it is unhealthy
START_TIMEOUT = 120.0  # seconds `start` waits for the models it restarted to settle
ROUTER_TIMEOUT = 20.0  # seconds to wait for a router to answer after starting it
ROUTER = "router"


class LocalBackend(EndpointBackend):
    """Endpoints as processes on this machine, recorded under `settings.home / "endpoints"`."""

    kind = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = StateStore(settings.home.resolve() / "endpoints")

    # ------------------------------------------------------------------------- reading

    def list_endpoints(self) -> list[Endpoint]:
        return [self.describe(name) for name in self.store.names()]

    def describe(self, name: str) -> Endpoint:
        return self._endpoint(self.store.read(name))

    def health(self, name: str, deployed_model_id: str) -> DeployedModel:
        record = self.store.read(name)
        return self._deployed(record, _model(record, deployed_model_id))

    # ------------------------------------------------------------------------- changing

    def get_or_create(self, name: str) -> Endpoint:
        """The endpoint, created on a free port when new; either way brought up (`start`)."""
        with self.store.lock():
            if not self.store.exists(name):
                port = processes.free_port(tuple(self.store.ports()))
                self.store.write(EndpointRecord(name=name, port=port, created=now()))
        return self.start(name)

    def deploy(self, name: str, release: Release) -> DeployedModel:
        with self.store.update(name) as record:
            model = ModelRecord(
                id=f"dm-{record.next_id}",
                release_id=release.release_id,
                release_uri=release.uri,
                created=now(),
                port=processes.free_port(tuple(self.store.ports())),
            )
            record.next_id += 1
            self._start_model(record, model)
            record.models.append(model)
        return self._deployed(record, model, probe=False)

    def set_traffic(self, name: str, split: Mapping[str, int], note: str = "") -> Endpoint:
        with self.store.update(name) as record:
            split = check_split(self._endpoint(record, probe=False), split)
            record.traffic = split
            record.log_traffic(note)
        return self.describe(name)

    def undeploy(self, name: str, deployed_model_id: str) -> None:
        record = self.store.read(name)
        model = _model(record, deployed_model_id)
        others = [k for k, v in record.traffic.items() if v and k != model.id]
        if record.traffic.get(model.id) and others:
            raise EndpointError(
                f"deployed model {model.id} of {name!r} takes {record.traffic[model.id]}% of "
                "the traffic: move it elsewhere first"
            )
        processes.terminate([(model.pid, model.port)])
        with self.store.update(name) as record:
            record.models = [m for m in record.models if m.id != deployed_model_id]
            if record.traffic.pop(deployed_model_id, None):
                record.log_traffic(f"undeploy {deployed_model_id}")

    def predict(
        self,
        name: str,
        instances: Sequence[Mapping[str, Any]],
        deployed_model_id: str | None = None,
    ) -> PredictResponse:
        record = self.store.read(name)
        port = record.port
        if deployed_model_id is not None:
            port = _model(record, deployed_model_id).port
        try:
            body = post_predict(
                f"http://{HOST}:{port}",
                [dict(i) for i in instances],
                token=self.settings.serving.server_token,
            )
        except PredictionRequestError as exc:
            target = deployed_model_id or f"endpoint {name}"
            raise PredictionFailed(f"{target}: {exc}") from None
        return PredictResponse(body["predictions"], body.get("deployedModelId"))

    def start(self, name: str) -> Endpoint:
        """Start what is not running of the router, the models with traffic and the one kept
        for rollback, on their recorded ports when free; wait for them to settle."""
        with self.store.update(name) as record:
            if not processes.running(record.router_pid, record.port):
                self._start_router(record)
            restarted = [m for m in _wanted(record) if not processes.running(m.pid, m.port)]
            for model in restarted:
                self._start_model(record, model)
        self._wait_for_router(record)
        deadline = time.monotonic() + START_TIMEOUT
        for model in restarted:
            while self.health(name, model.id).state == STARTING and time.monotonic() < deadline:
                time.sleep(0.1)
        return self.describe(name)

    def stop(self, name: str) -> Endpoint:
        """Stop the router and every deployed model's server; the record keeps them all."""
        record = self.store.read(name)
        processes.terminate(
            [(record.router_pid, record.port), *((m.pid, m.port) for m in record.models)]
        )
        with self.store.update(name) as record:
            record.router_pid = None
            for model in record.models:
                if not processes.running(model.pid, model.port):
                    model.pid = None
        return self.describe(name)

    # ------------------------------------------------------------------------- processes

    def _environment(self) -> dict[str, str]:
        """The processes' environment: ours without Vertex AI's variables, same settings."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
        env.update(PYTHONUNBUFFERED="1", SHELFCAST_HOME=str(self.settings.home.resolve()))
        return env

    def _port(self, port: int) -> int:
        """`port` if it is free, else another free port."""
        if processes.port_free(port):
            return port
        return processes.free_port(tuple(self.store.ports()))

    def _start_router(self, record: EndpointRecord) -> None:
        record.port = self._port(record.port)
        command = [
            sys.executable,
            "-m",
            "shelfcast.endpoints.router",
            "--state",
            str(self.store.state_path(record.name)),
            "--port",
            str(record.port),
        ]
        log = self.store.log_path(record.name, ROUTER)
        record.router_pid = processes.spawn(command, self._environment(), log)

    def _start_model(self, record: EndpointRecord, model: ModelRecord) -> None:
        model.port = self._port(model.port)
        command = [
            sys.executable,
            "-m",
            "shelfcast.serving",
            "--release",
            model.release_uri,
            "--host",
            HOST,
            "--port",
            str(model.port),
        ]
        env = self._environment() | {"AIP_DEPLOYED_MODEL_ID": model.id}
        model.pid = processes.spawn(command, env, self.store.log_path(record.name, model.id))
        model.started = time.time()

    def _wait_for_router(self, record: EndpointRecord) -> None:
        """Return once the router answers; `EndpointError` with its log if it does not."""
        deadline = time.monotonic() + ROUTER_TIMEOUT
        while processes.running(record.router_pid, record.port):
            if _probe(record.port)[0] is not None:
                return
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        log = self.store.log_path(record.name, ROUTER)
        raise EndpointError(
            f"the router of {record.name!r} did not start on port {record.port} "
            f"(log {log}): {processes.log_tail(log)}"
        )

    # ------------------------------------------------------------------------- state

    def _endpoint(self, record: EndpointRecord, probe: bool = True) -> Endpoint:
        models = tuple(self._deployed(record, m, probe) for m in record.models)
        router = processes.running(record.router_pid, record.port)
        taking = [m for m in models if record.traffic.get(m.id)]
        if not router and not any(m.detail.get("pid") for m in models):
            status = "stopped"
        elif not taking:
            status = "no traffic"
        elif router and all(m.state == HEALTHY for m in taking):
            status = "serving"
        else:
            status = "degraded"
        return Endpoint(
            name=record.name,
            backend=self.kind,
            url=f"http://{HOST}:{record.port}",
            deployed_models=models,
            traffic=dict(record.traffic),
            history=tuple(
                TrafficChange(h["time"], h["traffic"], h.get("note", "")) for h in record.history
            ),
            detail={
                "status": status,
                "router": "running" if router else "not running",
                "router_pid": record.router_pid if router else None,
                "folder": str(self.store.folder(record.name)),
            },
        )

    def _deployed(
        self, record: EndpointRecord, model: ModelRecord, probe: bool = True
    ) -> DeployedModel:
        """The deployed model, its state checked from its process and health route."""
        log = self.store.log_path(record.name, model.id)
        detail: dict[str, Any] = {"port": model.port, "log": str(log)}
        restart = f"`shelfcast endpoints start {record.name}` restarts it"
        reason: str | None
        if model.pid is None:
            state, reason = STOPPED, f"stopped; {restart}"
        elif not processes.running(model.pid, model.port):
            state = STOPPED
            reason = f"server process {model.pid} ended unexpectedly (see {log}); {restart}"
        else:
            detail["pid"] = model.pid
            state, reason = (STARTING, None) if not probe else self._check(model)
        if reason:
            detail["reason"] = reason
        return DeployedModel(
            id=model.id,
            release_id=model.release_id,
            release_uri=model.release_uri,
            created=model.created,
            state=state,
            url=f"http://{HOST}:{model.port}",
            detail=detail,
        )

    def _check(self, model: ModelRecord) -> tuple[str, str | None]:
        """A live server's state from its health route."""
        status, body = _probe(model.port)
        if status == 200:
            return HEALTHY, None
        if status is None:
            young = time.time() - (model.started or 0.0) < START_GRACE
            return (STARTING, None) if young else (UNHEALTHY, "the health route does not answer")
        if status == 503 and body.get("status") == "loading":
            return STARTING, None
        if status == 503 and body.get("status") == "failed":
            return FAILED, str(body.get("reason") or "the release failed to load")
        return UNHEALTHY, f"the health route answered {status}"


def _model(record: EndpointRecord, deployed_model_id: str) -> ModelRecord:
    model = record.model(deployed_model_id)
    if model is None:
        raise DeployedModelNotFound(record.name, deployed_model_id)
    return model


def _wanted(record: EndpointRecord) -> list[ModelRecord]:
    """The models that should run: those with traffic, and the newest one older than them
    without traffic (the one a rollback goes back to)."""
    taking = [m for m in record.models if record.traffic.get(m.id)]
    if not taking:
        return []
    newest = max(m.created for m in taking)
    older = [m for m in record.models if m not in taking and m.created < newest]
    return taking + ([max(older, key=lambda m: m.created)] if older else [])


def _probe(port: int) -> tuple[int | None, dict[str, Any]]:
    """GET the health route on `port`: (status, JSON body), or (None, {}) if no answer."""
    url = f"http://{HOST}:{port}{HEALTH_ROUTE}"
    try:
        with urllib.request.urlopen(url, timeout=PROBE_TIMEOUT) as response:
            return response.status, _json_object(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, _json_object(exc.read())
    except (urllib.error.URLError, OSError):
        return None, {}


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
