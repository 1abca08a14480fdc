"""The replicas of a local endpoint's deployed models, kept running by the endpoint's router.

Every deployed model in the state file runs `replica_count` server processes. The router's
supervisor starts them, adopts those a previous router left running (a recorded pid still
running with its recorded port on its command line), and records their pids and ports in
the state file, under the endpoints' lock. Each look at the processes (every `TICK`):

- a replica that ended (killed, crashed) is started again on its port, at once when it had
  been healthy, else after a backoff doubling from `BACKOFF_FIRST` to `BACKOFF_MAX` seconds;
- a replica whose health route has not answered `HUNG_PROBES` probes in a row (refused or
  timed out), once it has been healthy or `START_GRACE` seconds after its start (hung:
  stopped, deadlocked), is killed, then started again the same way;
- a replica no longer wanted (its model undeployed or given fewer replicas) drains: it gets
  no new request, and SIGTERM once its requests in flight are answered (or after
  `DRAIN_TIMEOUT`), which the server answers with uvicorn's graceful shutdown; SIGKILL after
  `KILL_AFTER`. It stays in the state file until it has ended.

Only healthy replicas (health answered 200 at the last probe, every `PROBE_INTERVAL`) get
requests; a replica that refuses or drops a connection is out until a probe says otherwise.
Replicas are started in their own session, so a router that dies leaves them serving for
the next router to adopt.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import os
import random
import signal
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from shelfcast.endpoints import processes
from shelfcast.endpoints.local_state import EndpointRecord, ReplicaRecord, StateStore
from shelfcast.endpoints.processes import HOST
from shelfcast.endpoints.router_metrics import RouterMetrics

log = logging.getLogger("shelfcast.endpoints.replicas")

HEALTHY, STARTING, UNHEALTHY, FAILED, DRAINING = (
    "healthy",
    "starting",
    "unhealthy",
    "failed",
    "draining",
)
HEALTH_ROUTE = "/health"
TICK = 0.1  # seconds between looks at the state file and the processes
PROBE_INTERVAL = 0.5  # seconds between health probes of every replica
PROBE_TIMEOUT = 1.0  # seconds a probe waits for an answer
HUNG_PROBES = 3  # unanswered probes in a row that make a live replica hung
START_GRACE = 60.0  # seconds a new replica may take to answer its health route at all
BACKOFF_FIRST, BACKOFF_MAX = 0.5, 10.0  # seconds before restarting one that never got healthy
DRAIN_TIMEOUT = 30.0  # seconds a draining replica may take to answer its requests in flight
KILL_AFTER = 15.0  # seconds from SIGTERM to SIGKILL (the server's graceful shutdown is 10 s)


@dataclass(eq=False)
class Replica:
    """One server process of a deployed model, as the router sees it."""

    model_id: str
    slot: int
    release_uri: str
    record: ReplicaRecord
    state: str = STARTING
    outstanding: int = 0  # requests sent and not answered yet
    unanswered: int = 0  # probes in a row without an answer
    failures: int = 0  # starts in a row that ended before becoming healthy
    was_healthy: bool = False  # since its last start
    not_before: float = 0.0  # monotonic time before which it is not started again
    kill_reason: str | None = None  # why it was killed (hung), until it has ended
    drained: float | None = None  # monotonic time it began draining
    terminated: float | None = None  # monotonic time it was sent SIGTERM

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.record.port}"

    @property
    def label(self) -> str:
        return f"{self.model_id}/{self.slot}"

    def running(self) -> bool:
        return processes.running(self.record.pid, self.record.port)


@dataclass
class Supervisor:
    """The replicas of the endpoint whose state file is `state_path`."""

    state_path: Path
    metrics: RouterMetrics
    replicas: dict[str, list[Replica]] = field(default_factory=dict)  # model id -> slots
    retiring: list[Replica] = field(default_factory=list)  # draining or stopping
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _probing: asyncio.Future[None] | None = None

    def __post_init__(self) -> None:
        self.name = self.state_path.parent.name
        self.store = StateStore(self.state_path.parent.parent)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIP_")}
        self.client = httpx.AsyncClient(timeout=PROBE_TIMEOUT)

    # ------------------------------------------------------------------------- routing

    def pick(
        self, split: Sequence[tuple[str, int]], tried: Iterable[Replica] = ()
    ) -> Replica | None:
        """A healthy replica not in `tried`: its model drawn by the split's weights among
        the models that have one, then the replica with the fewest requests in flight."""
        skip = set(tried)
        ready = [(m, w, h) for m, w in split if (h := self._healthy(m, skip))]
        if not ready:
            return None
        _, _, healthy = random.choices(ready, weights=[w for _, w, _ in ready])[0]
        turn = next(self._turn)
        return min(healthy, key=lambda r: (r.outstanding, (r.slot - turn) % len(healthy)))

    def _healthy(self, model_id: str, skip: set[Replica]) -> list[Replica]:
        return [r for r in self.replicas.get(model_id, ()) if r.state == HEALTHY and r not in skip]

    def healthy_count(self, model_id: str) -> tuple[int, int]:
        """(healthy, wanted) replicas of a deployed model."""
        slots = self.replicas.get(model_id, [])
        return sum(r.state == HEALTHY for r in slots), len(slots)

    def dropped(self, replica: Replica) -> None:
        """A replica refused or dropped a connection: no more requests until a probe."""
        if replica.state == HEALTHY:
            replica.state = UNHEALTHY

    # ------------------------------------------------------------------------- processes

    def reconcile(self, record: EndpointRecord) -> bool:
        """Start, restart and retire replicas to match `record`; whether any changed."""
        if record.stopped:
            return False
        changed = False
        wanted = {m.id: m for m in record.models}
        for model_id in list(self.replicas):
            slots = self.replicas[model_id]
            count = wanted[model_id].replica_count if model_id in wanted else 0
            while len(slots) > count:
                self._retire(slots.pop())
                changed = True
            if model_id not in wanted:
                del self.replicas[model_id]
        for model in record.models:
            slots = self.replicas.get(model.id)
            if slots is None:  # first seen: adopt what the record says runs
                slots = self.replicas[model.id] = [
                    Replica(model.id, n, model.release_uri, dataclasses.replace(r))
                    for n, r in enumerate(model.replicas)
                ]
                while len(slots) > model.replica_count:
                    self._retire(slots.pop())
            while len(slots) < model.replica_count:
                port = processes.free_port(tuple(self._ports()))
                slots.append(Replica(model.id, len(slots), model.release_uri, ReplicaRecord(port)))
                changed = True
            for replica in slots:
                changed |= self._keep_running(replica)
        return self._retire_ended() or changed

    def _keep_running(self, replica: Replica) -> bool:
        if replica.running():
            return False
        now, ended = time.monotonic(), replica.record.pid is not None
        if ended:  # it ran: it ended
            self._ended(replica, now)
        if now < replica.not_before:
            return ended
        self._start(replica)
        return True

    def _ended(self, replica: Replica, now: float) -> None:
        reason = replica.kill_reason or "exited"
        if replica.was_healthy:
            replica.failures, replica.not_before = 0, now
        else:
            replica.failures += 1
            backoff = BACKOFF_FIRST * 2 ** (replica.failures - 1)
            replica.not_before = now + min(BACKOFF_MAX, backoff)
        log.warning(
            "replica %s (pid %s, port %s) %s; restarting it%s",
            replica.label,
            replica.record.pid,
            replica.record.port,
            "was hung and killed" if reason == "hung" else "ended",
            f" in {replica.not_before - now:.1f} s" if replica.not_before > now else "",
        )
        self.metrics.restarts.labels(replica.model_id, reason).inc()
        replica.record.pid, replica.kill_reason = None, None
        replica.record.restarts += 1
        replica.state, replica.was_healthy, replica.unanswered = STARTING, False, 0

    def _start(self, replica: Replica) -> None:
        record = replica.record
        record.port = processes.port_or_free(record.port, tuple(self._ports()))
        env = self.env | {"AIP_DEPLOYED_MODEL_ID": replica.model_id}
        logfile = self.store.log_path(self.name, f"{replica.model_id}-{replica.slot}")
        command = processes.server_command(replica.release_uri, record.port)
        record.pid = processes.spawn(command, env, logfile)
        record.started = time.time()
        replica.state, replica.was_healthy, replica.unanswered = STARTING, False, 0
        log.info("replica %s started (pid %s, port %s)", replica.label, record.pid, record.port)

    def _retire(self, replica: Replica) -> None:
        replica.state, replica.drained = DRAINING, time.monotonic()
        self.retiring.append(replica)
        log.info("replica %s draining (%d in flight)", replica.label, replica.outstanding)

    def _retire_ended(self) -> bool:
        """SIGTERM drained replicas, SIGKILL those past `KILL_AFTER`; drop the ended ones."""
        now, changed = time.monotonic(), False
        for replica in list(self.retiring):
            pid = replica.record.pid
            if pid is None or not replica.running():
                self.retiring.remove(replica)
                log.info("replica %s stopped", replica.label)
                changed = True
            elif replica.terminated is None:
                if replica.outstanding == 0 or now - (replica.drained or now) > DRAIN_TIMEOUT:
                    processes.signal_group(pid, signal.SIGTERM)
                    replica.terminated = now
            elif now - replica.terminated > KILL_AFTER:
                processes.signal_group(pid, signal.SIGKILL)
        return changed

    def _ports(self) -> set[int]:
        """Ports in use by this router's replicas and recorded by any endpoint."""
        mine = {r.record.port for r in self.retiring}
        mine |= {r.record.port for slots in self.replicas.values() for r in slots}
        return mine | self.store.ports()

    # ------------------------------------------------------------------------- health

    async def probe_now(self) -> None:
        """Probe every replica now, or wait for the round under way (one at a time)."""
        if self._probing is None or self._probing.done():
            self._probing = asyncio.ensure_future(self.probe_all())
        await asyncio.shield(self._probing)

    async def probe_all(self) -> None:
        """Probe every running replica that is not draining; kill the hung ones."""
        live = [
            r
            for slots in self.replicas.values()
            for r in slots
            if r.record.pid is not None and r.kill_reason is None
        ]
        await asyncio.gather(*(self._probe(r) for r in live))

    async def _probe(self, replica: Replica) -> None:
        try:
            answer = await self.client.get(replica.url + HEALTH_ROUTE)
        except httpx.HTTPError:
            self._unanswered(replica)
            return
        replica.unanswered = 0
        if answer.status_code == 200:
            replica.state, replica.was_healthy, replica.failures = HEALTHY, True, 0
        elif answer.status_code == 503 and _status(answer) == "loading":
            replica.state = STARTING
        elif answer.status_code == 503 and _status(answer) == "failed":
            replica.state = FAILED  # the release does not load: restarting would not help
        else:
            replica.state = UNHEALTHY

    def _unanswered(self, replica: Replica) -> None:
        """A probe got no answer (refused or timed out): hung after `HUNG_PROBES` in a row,
        unless it is still starting."""
        young = time.time() - (replica.record.started or 0.0) < START_GRACE
        if not replica.was_healthy and young:
            return
        replica.state = UNHEALTHY
        replica.unanswered += 1
        if replica.unanswered >= HUNG_PROBES and replica.record.pid is not None:
            replica.kill_reason = "hung"
            processes.signal_group(replica.record.pid, signal.SIGKILL)

    # ------------------------------------------------------------------------- state

    def save(self) -> None:
        """Write the replicas' pids and ports into the state file (under the lock)."""
        with self.store.update(self.name) as record:
            for model in record.models:
                slots = self.replicas.get(model.id, [])
                leaving = [r for r in self.retiring if r.model_id == model.id]
                model.replicas = [r.record for r in [*slots, *leaving]]

    def gauges(self, record: EndpointRecord) -> None:
        """Set the replicas gauge: replicas by deployed model and state."""
        self.metrics.replicas.clear()
        for model in record.models:
            states = [r.state for r in self.replicas.get(model.id, [])]
            states += [r.state for r in self.retiring if r.model_id == model.id]
            for state in (HEALTHY, STARTING, UNHEALTHY, FAILED, DRAINING):
                self.metrics.replicas.labels(model.id, state).set(states.count(state))

    async def close(self) -> None:
        await self.client.aclose()


def _status(answer: httpx.Response) -> str | None:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("status") if isinstance(body, dict) else None
