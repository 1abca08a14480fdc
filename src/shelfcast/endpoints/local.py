"""The local endpoint backend: prediction server processes on 127.0.0.1 behind a router.

An endpoint is a router process (`shelfcast.endpoints.router`) on a port chosen when the
endpoint is created and kept across restarts (its URL). Each deployed model runs
`endpoints.min_replicas` server processes (`python -m shelfcast.serving`), its replicas,
each on a port of its own: the router starts them, routes among the healthy ones and
restarts those that end or hang (`replicas`). Commands record what should run in
`<home>/endpoints/` (`local_state`) and the router follows. Every command on an endpoint
first brings its router back if it died (unless the endpoint was stopped on purpose); the
new router adopts the replicas still running. A new deployed model takes no traffic until
the rollout gives it some, so a deploy killed half-way leaves the endpoint serving what it
served; the next deploy's clean-up removes what it left behind.
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
from shelfcast.endpoints.local_state import (
    EndpointRecord,
    ModelRecord,
    ReplicaRecord,
    StateStore,
    now,
)
from shelfcast.endpoints.processes import HOST
from shelfcast.endpoints.replicas import DRAIN_TIMEOUT, KILL_AFTER, START_GRACE
from shelfcast.serving.client import PredictionRequestError
from shelfcast.serving.client import predict as post_predict

if TYPE_CHECKING:
    from shelfcast.releases import Release
    from shelfcast.settings import Settings

HEALTH_ROUTE = "/health"
PROBE_TIMEOUT = 2.0  # seconds for one health request
START_TIMEOUT = 120.0  # seconds `start` waits for the models it restarted to settle
ROUTER_TIMEOUT = 20.0  # seconds to wait for a router to answer after starting it
# seconds `undeploy` waits for the router to drain and stop a model's replicas
UNDEPLOY_TIMEOUT = DRAIN_TIMEOUT + KILL_AFTER + 5.0
ROUTER = "router"


class LocalBackend(EndpointBackend):
    """Endpoints as processes on this machine, recorded under `settings.home / "endpoints"`."""

    kind = "local"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = StateStore(settings.home.resolve() / "endpoints")

    # ------------------------------------------------------------------------- reading

    def list_endpoints(self) -> list[Endpoint]:
        """Every endpoint as it is: a dead router is reported, not restarted."""
        return [self._endpoint(self.store.read(name)) for name in self.store.names()]

    def describe(self, name: str) -> Endpoint:
        return self._endpoint(self._ensure(name))

    def health(self, name: str, deployed_model_id: str) -> DeployedModel:
        record = self._ensure(name)
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
        """Record a new deployed model; the router starts its replicas."""
        record = self.store.read(name)
        if not processes.running(record.router_pid, record.port):
            self.start(name)
        with self.store.update(name) as record:
            model = ModelRecord(
                id=f"dm-{record.next_id}",
                release_id=release.release_id,
                release_uri=release.uri,
                created=now(),
                replica_count=self.settings.endpoints.min_replicas,
            )
            record.next_id += 1
            record.models.append(model)
        return self._deployed(record, model, probe=False)

    def set_traffic(self, name: str, split: Mapping[str, int], note: str = "") -> Endpoint:
        self._ensure(name)
        with self.store.update(name) as record:
            split = check_split(self._endpoint(record, probe=False), split)
            record.traffic = split
            record.log_traffic(note)
        return self.describe(name)

    def undeploy(self, name: str, deployed_model_id: str) -> None:
        """Drain and stop the model's replicas (the router does), then forget the model."""
        record = self._ensure(name)
        model = _model(record, deployed_model_id)
        others = [k for k, v in record.traffic.items() if v and k != model.id]
        if record.traffic.get(model.id) and others:
            raise EndpointError(
                f"deployed model {model.id} of {name!r} takes {record.traffic[model.id]}% of "
                "the traffic: move it elsewhere first"
            )
        with self.store.update(name) as record:
            _model(record, deployed_model_id).replica_count = 0
            if record.traffic.pop(deployed_model_id, None):
                record.log_traffic(f"undeploy {deployed_model_id}")
        deadline = time.monotonic() + UNDEPLOY_TIMEOUT
        while left := _running(self.store.read(name), deployed_model_id):
            record = self.store.read(name)
            if not processes.running(record.router_pid, record.port) or time.monotonic() > deadline:
                processes.terminate(left)
                break
            time.sleep(0.05)
        with self.store.update(name) as record:
            record.models = [m for m in record.models if m.id != deployed_model_id]

    def predict(
        self,
        name: str,
        instances: Sequence[Mapping[str, Any]],
        deployed_model_id: str | None = None,
    ) -> PredictResponse:
        record = self._ensure(name)
        ports = [record.port]
        if deployed_model_id is not None:
            model = _model(record, deployed_model_id)
            ports = [r.port for r in model.replicas if processes.running(r.pid, r.port)]
            if not ports:
                raise PredictionFailed(f"{deployed_model_id}: no replica is running")
        for number, port in enumerate(ports, start=1):
            try:
                body = post_predict(
                    f"http://{HOST}:{port}",
                    [dict(i) for i in instances],
                    token=self.settings.serving.server_token,
                )
            except PredictionRequestError as exc:
                if number < len(ports):  # another replica of the deployed model may answer
                    continue
                target = deployed_model_id or f"endpoint {name}"
                raise PredictionFailed(f"{target}: {exc}") from None
            break
        return PredictResponse(body["predictions"], body.get("deployedModelId"))

    def start(self, name: str) -> Endpoint:
        """Start the router if it is not running; it starts (or adopts) the replicas of every
        deployed model. Wait for them to settle."""
        with self.store.update(name) as record:
            record.stopped = False
            if not processes.running(record.router_pid, record.port):
                self._start_router(record)
        self._wait_for_router(record)
        deadline = time.monotonic() + START_TIMEOUT
        for model in (m for m in record.models if m.replica_count):
            while self.health(name, model.id).state == STARTING and time.monotonic() < deadline:
                time.sleep(0.1)
        return self.describe(name)

    def stop(self, name: str) -> Endpoint:
        """Stop the router, then every replica; the record keeps the deployed models."""
        with self.store.update(name) as record:
            record.stopped = True
        processes.terminate([(record.router_pid, record.port)])
        processes.terminate(
            [(r.pid, r.port) for m in self.store.read(name).models for r in m.replicas]
        )
        with self.store.update(name) as record:
            record.router_pid = None
            for replica in (r for m in record.models for r in m.replicas):
                replica.pid = None
        return self.describe(name)

    # ------------------------------------------------------------------------- processes

    def _ensure(self, name: str) -> EndpointRecord:
        """The endpoint's record, its router started again first if it died (not stopped)."""
        record = self.store.read(name)
        if record.stopped or processes.running(record.router_pid, record.port):
            return record
        self.start(name)
        return self.store.read(name)

    def _environment(self) -> dict[str, str]:
        """The router's environment (its replicas' too): ours without Vertex AI's variables."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
        env.update(PYTHONUNBUFFERED="1", SHELFCAST_HOME=str(self.settings.home.resolve()))
        return env

    def _start_router(self, record: EndpointRecord) -> None:
        record.port = processes.port_or_free(record.port, tuple(self.store.ports()))
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
        detail: dict[str, Any] = {}
        if record.stopped:
            status = "stopped"
        elif not router:
            status = "router down"
            detail["reason"] = (
                f"the router (pid {record.router_pid}) is not running; any `shelfcast "
                f"endpoints` command on {record.name} starts it again"
            )
        elif not taking:
            status = "no traffic"
        elif all(m.state == HEALTHY for m in taking):
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
                **detail,
                "router": "running" if router else "not running",
                "router_pid": record.router_pid if router else None,
                "folder": str(self.store.folder(record.name)),
            },
        )

    def _deployed(
        self, record: EndpointRecord, model: ModelRecord, probe: bool = True
    ) -> DeployedModel:
        """The deployed model, its state from its replicas' processes and health routes:
        healthy when every replica is."""
        live = [r for r in model.replicas if processes.running(r.pid, r.port)]
        checks = [self._check(r) if probe else (STARTING, None) for r in live]
        healthy = sum(state == HEALTHY for state, _ in checks)
        failed = [reason for state, reason in checks if state == FAILED]
        unhealthy = [reason for state, reason in checks if state == UNHEALTHY]
        restart = f"`shelfcast endpoints start {record.name}` restarts it"
        reason: str | None = None
        if failed:
            state, reason = FAILED, failed[0]
        elif model.replica_count == 0 and not live:
            state, reason = STOPPED, "undeployed: its replicas were stopped"
        elif record.stopped and not live:
            state, reason = STOPPED, f"stopped; {restart}"
        elif not processes.running(record.router_pid, record.port) and not live:
            state = STOPPED
            reason = f"its servers and the router of {record.name} ended; {restart}"
        elif healthy == model.replica_count and len(live) == healthy:
            state = HEALTHY
        elif unhealthy and len(unhealthy) + healthy == len(live) == model.replica_count:
            state, reason = UNHEALTHY, unhealthy[0]
        else:
            state = STARTING
        detail: dict[str, Any] = {
            "replicas": f"{healthy}/{model.replica_count} healthy"
            if probe
            else f"{len(live)}/{model.replica_count} running",
            "ports": [r.port for r in model.replicas],
            "pids": [r.pid for r in live],
            "restarts": sum(r.restarts for r in model.replicas),
            "log": str(self.store.log_path(record.name, f"{model.id}-*")),  # one a replica
        }
        if reason:
            detail["reason"] = reason
        return DeployedModel(
            id=model.id,
            release_id=model.release_id,
            release_uri=model.release_uri,
            created=model.created,
            state=state,
            url=f"http://{HOST}:{live[0].port}" if live else None,
            detail=detail,
        )

    def _check(self, replica: ReplicaRecord) -> tuple[str, str | None]:
        """A live replica's state from its health route."""
        status, body = _probe(replica.port)
        if status == 200:
            return HEALTHY, None
        if status is None:
            young = time.time() - (replica.started or 0.0) < START_GRACE
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


def _running(record: EndpointRecord, deployed_model_id: str) -> list[tuple[int | None, int]]:
    """(pid, port) of the deployed model's replicas that still run."""
    model = record.model(deployed_model_id)
    replicas = model.replicas if model is not None else []
    return [(r.pid, r.port) for r in replicas if processes.running(r.pid, r.port)]


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
