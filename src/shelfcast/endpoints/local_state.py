"""What the local backend records about its endpoints, and where.

One folder per endpoint under `<home>/endpoints/`: `state.json` (the router's port and pid,
the deployed models with their replicas' ports and pids, the traffic split and its history)
and `logs/` (one log per process). The commands write what should run (models, replica
counts, traffic, `stopped`); the router, which starts and stops the replicas, writes their
pids and ports, under the same lock. State files are written whole to a temporary file and renamed
into place, so readers (the router among them) never see half a file; read-modify-write
sequences hold an exclusive lock on `<home>/endpoints/.lock`, so that two commands cannot
lose each other's changes. The standard library only: the router imports this module.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shelfcast.endpoints.base import EndpointError, EndpointNotFound

FORMAT_VERSION = 2  # 1: one server per deployed model (its port, pid and start time)
STATE_FILE = "state.json"
LOCK_FILE = ".lock"
HISTORY_KEPT = 100  # traffic changes kept per endpoint, newest last
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def now() -> str:
    """The time as ISO 8601 UTC, to the microsecond (deployed models are ordered by it)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass
class ReplicaRecord:
    """One server process of a deployed model. `pid` is None once stopped."""

    port: int
    pid: int | None = None
    started: float | None = None  # time.time() of the last start
    restarts: int = 0  # starts after the first, by the router


@dataclass
class ModelRecord:
    """A deployed model: `replica_count` server processes (0 while it is being undeployed)."""

    id: str
    release_id: str
    release_uri: str
    created: str
    replica_count: int = 1
    replicas: list[ReplicaRecord] = field(default_factory=list)

    @classmethod
    def from_dict(cls, doc: dict[str, Any], version: int) -> ModelRecord:
        if version == 1:  # its one server becomes its one replica
            replica = ReplicaRecord(doc.pop("port"), doc.pop("pid"), doc.pop("started"))
            return cls(**doc, replica_count=1, replicas=[replica])
        replicas = [ReplicaRecord(**r) for r in doc.pop("replicas")]
        return cls(**doc, replicas=replicas)


@dataclass
class EndpointRecord:
    """A local endpoint: its router's port and pid, deployed models and traffic. `stopped`:
    stopped on purpose (`stop`), so that nothing brings it back but `start` or a deploy."""

    name: str
    port: int
    created: str
    router_pid: int | None = None
    stopped: bool = False
    models: list[ModelRecord] = field(default_factory=list)
    traffic: dict[str, int] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)  # time, traffic, note
    next_id: int = 1

    def model(self, deployed_model_id: str) -> ModelRecord | None:
        return next((m for m in self.models if m.id == deployed_model_id), None)

    def log_traffic(self, note: str) -> None:
        """Add the current split to the history, which keeps the newest HISTORY_KEPT."""
        change = {"time": now(), "traffic": dict(self.traffic), "note": note}
        self.history = [*self.history, change][-HISTORY_KEPT:]

    def to_json(self) -> bytes:
        return json.dumps({"format_version": FORMAT_VERSION, **asdict(self)}, indent=2).encode()

    @classmethod
    def from_json(cls, data: bytes, source: Path) -> EndpointRecord:
        try:
            doc = json.loads(data)
            version = doc.pop("format_version", None)
            if version not in (1, FORMAT_VERSION):
                raise ValueError(f"unsupported format version {version!r}")
            models = [ModelRecord.from_dict(m, version) for m in doc.pop("models")]
            return cls(models=models, **doc)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise EndpointError(f"{source}: not a local endpoint state file ({exc})") from None


def read_record(path: Path) -> EndpointRecord:
    """The record in a state file (a rename replaces it whole, so no lock is needed)."""
    return EndpointRecord.from_json(path.read_bytes(), path)


class StateStore:
    """The endpoints folder: reads, atomic writes, and the lock around read-modify-write."""

    def __init__(self, root: Path):
        self.root = root
        self._depth = 0  # nesting of `lock()` in this object: flock is taken once
        self._lock_file: Any = None

    def folder(self, name: str) -> Path:
        if not NAME.fullmatch(name):
            raise EndpointError(
                f"endpoint name {name!r}: use letters, digits, '.', '_' and '-' "
                "(at most 128, starting with a letter or digit)"
            )
        return self.root / name

    def state_path(self, name: str) -> Path:
        return self.folder(name) / STATE_FILE

    def log_path(self, name: str, process: str) -> Path:
        return self.folder(name) / "logs" / f"{process}.log"

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.parent.name for p in self.root.glob(f"*/{STATE_FILE}"))

    def exists(self, name: str) -> bool:
        return self.state_path(name).is_file()

    def read(self, name: str) -> EndpointRecord:
        path = self.state_path(name)
        try:
            return read_record(path)
        except FileNotFoundError:
            raise EndpointNotFound(name, "local") from None

    def write(self, record: EndpointRecord) -> None:
        """Replace the endpoint's state file whole (temporary file, fsync, rename)."""
        path = self.state_path(record.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".state-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(record.to_json())
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise

    def ports(self) -> set[int]:
        """Every port recorded by any endpoint (routers and replicas)."""
        ports: set[int] = set()
        for name in self.names():
            with contextlib.suppress(EndpointError, FileNotFoundError):
                record = self.read(name)
                ports |= {record.port, *(r.port for m in record.models for r in m.replicas)}
        return ports

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the endpoints folder's exclusive lock (re-entrant within this object)."""
        if self._depth == 0:
            self.root.mkdir(parents=True, exist_ok=True)
            self._lock_file = (self.root / LOCK_FILE).open("a")
            fcntl.flock(self._lock_file, fcntl.LOCK_EX)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._lock_file.close()  # closing releases the lock
                self._lock_file = None

    @contextlib.contextmanager
    def update(self, name: str) -> Iterator[EndpointRecord]:
        """The endpoint's record, locked; written back when the block ends without error."""
        with self.lock():
            record = self.read(name)
            yield record
            self.write(record)
