"""The prediction log: sampled requests and responses of the prediction server, as JSONL.

The server writes it (here); monitoring reads it (`shelfcast.monitoring.prediction_log`).

`PredictionLog.record` is called on the request path: it makes the record's line (the bodies
as the server read and wrote them, joined to a head written by orjson: a couple of
microseconds, `benchmarks/prediction_log.py`) and appends it to a bounded in-memory queue;
one writer thread appends the queued lines in one write per batch, every `flush_seconds` or
sooner when `flush()` or `close()` asks. The writer does no per-record work of its own, so it
hardly ever needs the interpreter lock the serving thread runs on. A full queue drops the
record and counts it (`stats().dropped`): logging never blocks or fails a request. `close()`
writes everything queued before it returns.

The log is a folder of JSON Lines files: each server process appends to its own file and
rotates it by size and age, and old files are deleted by age and count
(`shelfcast.serving.log_files`, which names them; `Rotation` holds the limits, from the
`serving.prediction_log_*` settings). One line per logged request:

    {"time": 1722510000.123, "release_id": "r-...", "deployed_model_id": "...",
     "latency_ms": 4.2, "status": 200, "models": [["arima_book_<ISBN>", "3"]],
     "request": {...}, "response": {...}}

`time` is when the request was answered (seconds since the epoch, UTC); `models` are the
(model name, version) of the predictions in order; `request` and `response` are the bodies.

JSONL and SQLite (WAL) were measured side by side (`benchmarks/prediction_log.py`, 2 shared
cores): per 4 kB record, the writer cost a CPU-bound serving thread in the same process
8-37 µs either way when it formatted the lines itself, equal within the machine's noise (now
that the line is made on the request path, 0.8 µs against SQLite's 3.4 at best). JSONL was
chosen for the rest: it
releases the interpreter lock once per batch where SQLite does once per row (one SQLite run
starved behind the serving thread at 1.3 ms a record, which would fill the queue and drop
records), files are append-only (a crash costs at most a partial last line, which reading
skips), retention is deleting old files, and the lines load into BigQuery as they are
(`bq load --source_format=NEWLINE_DELIMITED_JSON`), the log's cloud counterpart.

A log that cannot be written (a full disk, a read-only or deleted folder) never fails a
request: its records are counted (`stats().lost`; in `/metrics`,
`shelfcast_prediction_log_dropped_total{reason="write_failed"}`), one error is logged when
writing starts failing and one line when it works again, and every batch tries again, so the
log resumes by itself once the folder can be written.

A project's log is the folder `prediction_log_path(settings)`, `<home>/monitoring/predictions`
(beside the other monitoring files, `shelfcast.monitoring.paths`).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from shelfcast.errors import ShelfcastError
from shelfcast.serving.log_files import LogWriter, Rotation, WriteError

if TYPE_CHECKING:
    from shelfcast.settings import Settings

log = logging.getLogger("shelfcast.serving")

MAX_QUEUE = 10_000  # records waiting for the writer; more are dropped and counted
FLUSH_SECONDS = 0.5
BATCH = 1000  # records per write at most
COLUMNS = (
    "time",
    "release_id",
    "deployed_model_id",
    "latency_ms",
    "status",
    "models",
    "request",
    "response",
)

Body = dict[str, Any] | bytes | str
_compact = json.JSONEncoder(separators=(",", ":"), allow_nan=False, default=str).encode


class PredictionLogError(ShelfcastError):
    """The prediction log cannot be opened or read."""


@dataclass(frozen=True)
class LogStats:
    """What a log has done since it was opened (exact once flushed)."""

    recorded: int  # records taken (sampled in, not dropped): written + failed + lost + queued
    written: int  # records appended to the log
    dropped: int  # records refused because the queue was full, or the log closed
    failed: int  # records whose body was not JSON
    lost: int  # records that could not be written (a full disk, an unwritable folder)
    queued: int  # records waiting for the writer now
    writable: bool  # whether the last write (or opening the log) worked


class _Flush:
    """A marker in the queue: set once every record queued before it is written."""

    def __init__(self) -> None:
        self.done = threading.Event()


def prediction_log_path(settings: Settings) -> Path:
    """The project's prediction log: a folder of JSONL files under its monitoring folder."""
    return settings.home / "monitoring" / "predictions"


class PredictionLog:
    """A sampled, asynchronous log of predictions. `record` is safe to call from any thread."""

    def __init__(
        self,
        folder: str | Path,
        sample_rate: float = 1.0,
        *,
        max_queue: int = MAX_QUEUE,
        flush_seconds: float = FLUSH_SECONDS,
        seed: int | None = None,
        rotation: Rotation | None = None,
    ):
        if not 0.0 <= sample_rate <= 1.0:
            raise PredictionLogError(f"sample_rate must be between 0 and 1, got {sample_rate}")
        self.folder = Path(folder)
        self.files = LogWriter(self.folder, rotation or Rotation.of())
        self.sample_rate = sample_rate
        self._random = random.Random(seed).random
        self._max_queue = max_queue
        self._flush_seconds = flush_seconds
        self._queue: deque[tuple[float, bytes] | _Flush] = deque()  # (time, line)
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()  # guards the counters
        self._dropped = self._written = self._failed = self._lost = 0
        self._trouble: OSError | None = None  # why writing fails now; None while it works
        self._lost_since = 0  # records lost since writing started failing
        self._thread = threading.Thread(
            target=self._write_loop, name="shelfcast-prediction-log", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def record(
        self,
        request: Body,
        response: Body,
        release_id: str | None,
        deployed_model_id: str | None = None,
        latency_ms: float = 0.0,
        *,
        models: Sequence[tuple[str, str]] | None = None,
        status: int = 200,
    ) -> bool:
        """Queue one request and its response: dicts, or their JSON text as bytes or str
        (the bodies as the server read and wrote them; the cheapest to log).

        `models` lists the (model name, version) of the predictions; when None it is read
        from the response. Returns whether the request was queued: False when it was sampled
        out, the queue was full, the log is closed or a body is not JSON (counted in
        `stats().failed`). Never raises, never waits.
        """
        if self.sample_rate < 1.0 and self._random() >= self.sample_rate:
            return False
        if self._closed or len(self._queue) >= self._max_queue:
            with self._lock:
                self._dropped += 1
            return False
        now = time.time()
        try:
            line = _line(
                now, release_id, deployed_model_id, latency_ms, status, models, request, response
            )
        except (TypeError, ValueError) as exc:  # a body that is not JSON
            with self._lock:
                self._failed += 1
            log.warning("prediction log %s: a record was not JSON: %s", self.folder, exc)
            return False
        self._queue.append((now, line))
        return True

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until everything queued so far is written; False if `timeout` passed first."""
        if self._closed:
            return not self._thread.is_alive()
        marker = _Flush()
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(timeout)

    def close(self, timeout: float | None = 30.0) -> None:
        """Stop taking records, write every queued one, and close the file."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        if not self._thread.is_alive():  # records queued while it stopped: count them
            late = sum(1 for item in self._queue if not isinstance(item, _Flush))
            self._queue.clear()
            with self._lock:
                self._dropped += late

    def stats(self) -> LogStats:
        queued = sum(1 for item in tuple(self._queue) if not isinstance(item, _Flush))
        with self._lock:
            return LogStats(
                recorded=self._written + self._failed + self._lost + queued,
                written=self._written,
                dropped=self._dropped,
                failed=self._failed,
                lost=self._lost,
                queued=queued,
                writable=self._trouble is None,
            )

    # -------------------------------------------------------------------- the writer thread

    def _write_loop(self) -> None:
        try:
            self._maintain(self.files.sweep)
            # open the file now: a log that cannot be written says so at start, not at the
            # first request
            self._maintain(lambda now: self.files.write([], now))
            while True:
                self._wake.wait(self._flush_seconds)
                self._wake.clear()
                stopping = self._closed  # read before draining: nothing is queued after it
                self._drain()
                self._maintain(self.files.tick)
                if stopping:
                    return
        finally:
            self.files.finish()

    def _maintain(self, step: Callable[[float], object]) -> None:
        """Run a step of the files' upkeep; its failure is the log's trouble, not a crash."""
        try:
            step(time.time())
        except OSError as exc:
            self._failing(exc)

    def _drain(self) -> None:
        while self._queue:
            lines: list[bytes] = []
            markers: list[_Flush] = []
            first = 0.0
            while self._queue and len(lines) < BATCH:
                item = self._queue.popleft()
                if isinstance(item, _Flush):
                    markers.append(item)
                    continue
                first = first or item[0]
                lines.append(item[1])
            written = self._append(first, lines)
            with self._lock:
                self._written += written
                self._lost += len(lines) - written
            for marker in markers:
                marker.done.set()

    def _append(self, first: float, lines: list[bytes]) -> int:
        """Append the lines (rotating as needed); the number written."""
        if not lines:
            return 0
        try:
            written = self.files.write(lines, first)
        except WriteError as exc:
            self._failing(exc.cause, len(lines) - exc.written)
            return exc.written
        if self._trouble is not None:
            log.warning(
                "prediction log %s is written again; %d record(s) were lost meanwhile",
                self.folder,
                self._lost_since,
            )
            self._trouble, self._lost_since = None, 0
        return written

    def _failing(self, exc: OSError, lost: int = 0) -> None:
        """Say once that the log cannot be written (again after it recovered)."""
        exc = exc.cause if isinstance(exc, WriteError) else exc
        self._lost_since += lost
        if self._trouble is None:
            log.error(
                "prediction log %s cannot be written (%s); records are dropped and counted "
                "(shelfcast_prediction_log_dropped_total) until it can, tried again at "
                "every batch",
                self.folder,
                exc,
            )
        self._trouble = exc


def _json(body: Body) -> bytes:
    """A body as one line of JSON (raw newlines in JSON text are only ever whitespace)."""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes):
        return body.replace(b"\n", b" ").replace(b"\r", b" ")
    return _compact(body).encode()


def _models_of(response: Body) -> list[list[str]]:
    try:
        document = json.loads(response) if isinstance(response, bytes | str) else response
        predictions = document.get("predictions") or []
        return [
            [str(p["model_name"]), str(p["model_version"])]
            for p in predictions
            if isinstance(p, dict) and "model_name" in p
        ]
    except (ValueError, AttributeError, KeyError, TypeError):
        return []


def _line(
    when: float,
    release_id: str | None,
    deployed: str | None,
    latency: float,
    status: int,
    models: Sequence[tuple[str, str]] | None,
    request: Body,
    response: Body,
) -> bytes:
    head = orjson.dumps(
        {
            "time": when,
            "release_id": release_id,
            "deployed_model_id": deployed,
            "latency_ms": float(latency),
            "status": int(status),
            "models": [list(m) for m in models] if models is not None else _models_of(response),
        },
        default=str,
    )
    request_json, response_json = _json(request), _json(response)
    return head[:-1] + b',"request":' + request_json + b',"response":' + response_json + b"}\n"
