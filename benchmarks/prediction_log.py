"""The prediction log's cost: `PredictionLog.record` on the request path, and its writer.

Part 1 times `record()` as the server calls it (the writer thread running meanwhile), per
sampling rate and body kind, and the refusal path of a full queue. Part 2 measures what the
writer thread costs a CPU-bound serving thread in the same process (the interpreter lock is
shared), per record, for the log's JSONL files and for two ways of writing the same records
to SQLite in WAL mode: the measurement behind the choice of JSONL.

    .venv/bin/python benchmarks/prediction_log.py [--records 20000] [--markdown FILE]
"""

from __future__ import annotations

# isort: off
import _common  # noqa: F401  (first: pins BLAS threads to one before numpy is imported)

# isort: on

import argparse
import json
import sqlite3
import statistics
import tempfile
import threading
import time
from pathlib import Path

from _common import Table, load_note, machine_line

from shelfcast.serving.prediction_log import PredictionLog

REPEATS = 5
MODEL = ("arima_book_9780722532935", "3")


def bodies(horizon: int = 32) -> tuple[dict, dict]:
    """A one-instance request and its response, shaped as the server's."""
    request = {"instances": [{"isbn": "9780722532935", "horizon": horizon, "level": [80, 95]}]}
    weeks = [
        {
            "week_ending": f"2024-{1 + i // 4:02d}-{1 + 7 * (i % 4):02d}",
            "mean": 123.456 + i,
            "lo_80": 100.125 + i,
            "hi_80": 150.875 + i,
            "lo_95": 90.5 + i,
            "hi_95": 170.25 + i,
        }
        for i in range(horizon)
    ]
    prediction = {
        "isbn": "9780722532935",
        "model_name": MODEL[0],
        "model_version": MODEL[1],
        "model_family": "sarima",
        "weeks": weeks,
    }
    return request, {"predictions": [prediction], "deployedModelId": "dm-1"}


def dumps(value: dict) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def time_record(
    folder: Path, records: int, rate: float, as_bytes: bool, closed: bool
) -> tuple[float, float]:
    """Median and best ns per `record()` call over REPEATS runs of `records` calls."""
    request, response = bodies()
    if as_bytes:
        request, response = dumps(request), dumps(response)  # type: ignore[assignment]
    runs = []
    path = folder / f"record-{rate}-{as_bytes}-{closed}"
    with PredictionLog(path, rate, max_queue=10 * records, seed=1) as plog:
        if closed:
            plog.close()  # every call takes the refusal path (as with a full queue)
        for _ in range(REPEATS):
            started = time.perf_counter_ns()
            for _ in range(records):
                plog.record(request, response, "r-1", "dm-1", 1.5, models=[MODEL])
            runs.append((time.perf_counter_ns() - started) / records)
            plog.flush(timeout=120)
    return statistics.median(runs), min(runs)


SQLITE_SCHEMA = """
PRAGMA page_size=16384;
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE predictions (id INTEGER PRIMARY KEY, time REAL, release_id TEXT,
    deployed_model_id TEXT, latency_ms REAL, status INTEGER, models TEXT, request TEXT,
    response TEXT);
CREATE INDEX predictions_time ON predictions (time);
"""
SQLITE_COLUMNS = (
    "time, release_id, deployed_model_id, latency_ms, status, models, request, response"
)


def sqlite_rows(raw_request: bytes, raw_response: bytes, records: int) -> list[tuple]:
    """The records as SQLite rows, encoded as the log encodes them (bodies as JSON text)."""
    encode = json.JSONEncoder(separators=(",", ":")).encode
    return [
        (
            time.time(),
            "r-1",
            "dm-1",
            1.5,
            200,
            encode([list(MODEL)]),
            raw_request.decode(),
            raw_response.decode(),
        )
        for _ in range(records)
    ]


def sqlite_writer(folder: Path, records: int, rows_per_statement: int) -> None:
    """The alternative: the same records into SQLite (WAL), 1000 rows a transaction, one row
    per statement (executemany) or many rows per INSERT."""
    request, response = bodies()
    raw_request, raw_response = dumps(request), dumps(response)
    conn = sqlite3.connect(folder / f"alt-{rows_per_statement}-{time.time_ns()}.sqlite")
    conn.executescript(SQLITE_SCHEMA)
    one = "(" + ",".join("?" * 8) + ")"
    for start in range(0, records, 1000):
        # encoding is the writer's work too
        rows = sqlite_rows(raw_request, raw_response, min(1000, records - start))
        with conn:
            if rows_per_statement == 1:
                conn.executemany(f"INSERT INTO predictions ({SQLITE_COLUMNS}) VALUES {one}", rows)
                continue
            for first in range(0, len(rows), rows_per_statement):
                part = rows[first : first + rows_per_statement]
                values = ",".join([one] * len(part))
                conn.execute(
                    f"INSERT INTO predictions ({SQLITE_COLUMNS}) VALUES {values}",
                    [v for row in part for v in row],
                )
    conn.close()


def serving_work(n: int = 200_000) -> float:
    """Seconds of pure-Python work, standing in for the server's request handling."""
    started = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i % 7
    return time.perf_counter() - started


def interference(records: int, start_writer) -> tuple[float, float]:
    """Per record: the writer's wall µs, and the µs a CPU-bound serving thread lost to it
    (its work timed while the writer drains, against alone)."""
    alone = statistics.median(serving_work() for _ in range(5))
    done = threading.Event()
    started = time.perf_counter()
    start_writer(done)
    loaded = []
    while not done.is_set():
        loaded.append(serving_work())
    wall = time.perf_counter() - started
    lost = max(statistics.median(loaded) - alone, 0.0) * len(loaded)
    return wall / records * 1e6, lost / records * 1e6


def writer_costs(folder: Path, records: int) -> list[tuple[str, float, float, int]]:
    """(store, writer µs, serving thread µs lost, bytes) per record, median of REPEATS."""
    request, response = bodies()
    raw_request, raw_response = dumps(request), dumps(response)
    folder.mkdir()
    out = []

    def jsonl(done: threading.Event) -> None:
        log_folder = folder / f"log-{time.time_ns()}"
        plog = PredictionLog(log_folder, 1.0, max_queue=2 * records, flush_seconds=3600)
        for _ in range(records):
            plog.record(raw_request, raw_response, "r-1", "dm-1", 1.5, models=[MODEL])

        def drain() -> None:
            plog.close(timeout=600)
            done.set()

        threading.Thread(target=drain).start()

    def sqlite(rows_per_statement: int):
        def start(done: threading.Event) -> None:
            def run() -> None:
                sqlite_writer(folder, records, rows_per_statement)
                done.set()

            threading.Thread(target=run).start()

        return start

    for label, start in (
        ("JSONL (PredictionLog): one write per 1000 lines", jsonl),
        ("SQLite, WAL, 16 kB pages: executemany, 1000 rows a commit", sqlite(1)),
        ("SQLite, WAL, 16 kB pages: 500 rows per INSERT, 1000 a commit", sqlite(500)),
    ):
        runs = [interference(records, start) for _ in range(REPEATS)]
        size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
        out.append(
            (
                label,
                statistics.median(r[0] for r in runs),
                statistics.median(r[1] for r in runs),
                size,
            )
        )
        for f in list(folder.rglob("*")):
            if f.is_file():
                f.unlink()
    return [(label, wall, lost, size // (REPEATS * records)) for label, wall, lost, size in out]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=20_000, help="calls per timed run")
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args()
    request, response = bodies()
    size = len(dumps(request)) + len(dumps(response))
    note = load_note()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        part1 = Table(
            f"PredictionLog.record(): cost per call on the request path ({args.records:,} calls, "
            f"median of {REPEATS} runs)",
            ["case", "ns per call (median)", "ns per call (best run)"],
        )
        for label, rate, as_bytes, closed in (
            ("sample rate 1.0, bodies as bytes (what the server holds)", 1.0, True, False),
            ("sample rate 1.0, bodies as dicts", 1.0, False, False),
            ("sample rate 0.1", 0.1, True, False),
            ("sample rate 0.0", 0.0, True, False),
            ("refused (queue full or log closed), counted as dropped", 1.0, True, True),
        ):
            median, best = time_record(folder, args.records, rate, as_bytes, closed)
            part1.add(label, f"{median:,.0f}", f"{best:,.0f}")
        part1.notes = [
            f"one instance, horizon 32: request and response {size:,} bytes together",
            "the writer thread runs during the timed calls (batched writes every 0.5 s)",
            note,
            machine_line("pandas"),
        ]
        part2 = Table(
            f"Writer thread: what a record costs the serving thread ({args.records:,} records "
            f"drained while a CPU-bound Python thread runs, median of {REPEATS})",
            ["store", "writer wall µs per record", "serving thread µs lost per record", "bytes"],
        )
        for label, wall, lost, per_record in writer_costs(folder / "writers", args.records):
            part2.add(label, f"{wall:.1f}", f"{lost:.1f}", f"{per_record:,}")
        part2.notes = [
            "lost: the serving stand-in's slowdown while the writer drains, per record drained",
            "the same records, bodies as the server holds them (JSON bytes)",
            note,
        ]
    part1.print(args.markdown)
    writer_file = (
        args.markdown.with_name(args.markdown.stem + "-writer.md") if args.markdown else None
    )
    part2.print(writer_file)


if __name__ == "__main__":
    main()
