"""The prediction server beside `mlflow models serve`, and start to healthy with 500 titles.

1. The seed title 9780722532935 of the sample catalogue (written with seed 42, weekly since
   2012) is fitted with `fit_title(series, fit_config(settings))`, tracked and registered in a fresh
   MLflow SQLite store (`registry.log_training_run`: version 1 takes `champion`), and packaged
   into a fresh artifact store (`packaging.package`): the release the Shelfcast server loads.
2. On 127.0.0.1: the Shelfcast server (`python -m shelfcast.serving`, AIP_*
   variables, one uvicorn worker) and `mlflow models serve -m models:/<name>@champion
   --env-manager local` (the same registered version through the pyfunc wrapper,
   `shelfcast.registry.pyfunc` loaded as `shelfcast.mlflow_model`, one uvicorn worker). Both
   run in the same environment, so uvicorn uses the same event loop and HTTP parser (uvloop
   and httptools) in both.
3. The same bounded load on each: `--seconds` at each of `--concurrency` (default 30 s at 1
   and at 32), every request a 32-week forecast with 80 and 95% intervals. Both servers are
   driven with the same 4 weeks of actuals in every request (Shelfcast's instance `actuals`,
   mlflow's `dataframe_records`, a record per week), which update the title's state before
   forecasting, so Shelfcast never answers from its cache: a forecast computed per request
   by both, the same work. Those runs are interleaved, both servers running: at each
   concurrency mlflow for half its time, Shelfcast, then mlflow again, so that drift in the
   machine's load reaches both alike. Outside `--uncached-only`, mlflow is also driven with
   the horizon alone (no actual weeks), the peer of Shelfcast's cached rows.
4. The prediction log's cost: the Shelfcast server above runs as it does by default off
   Vertex AI, writing every answered request to its prediction log (sample rate 1.0). A second
   Shelfcast server with the log off (`SHELFCAST_SERVING__PREDICTION_LOG_SAMPLE_RATE=0`:
   requests are sampled out before anything is queued, so its writer thread stays idle) gets
   the same cached
   load, interleaved with the first to cancel drift in the machine's load: at each concurrency
   half the run with the log off, the whole run with it on, then the other half off. Afterwards
   the log's JSONL lines are counted per server process: with the log on they must equal the
   requests it answered (warm-ups and the uncached rows included), with it off zero.
5. Start to healthy: a 500-title release, made of the champion's bundle copied under the 500
   ISBNs of the sample catalogue (same model and 655-week history each, so each title's files
   are as large as the longest history since 2012), published with `releases.publish`. Loading
   reads, checksums and parses every file, whose cost depends on file sizes rather than on
   fitted values, so this is the work of 500 separately fitted titles. Timed from process start
   to the first 200 on the health route, `--starts` times (median and worst reported).
6. Uncached forecasts of many titles: a catalogue release
   (`catalogue_releases.publish_catalogue`) of
   1,000 titles of the sample catalogue of 2,000 ISBNs (`_catalogue_tables.synthetic_table`:
   `--fitted` titles fitted for real, copies of their bundles re-keyed onto the others, each
   with its own ISBN and last 208 weeks), served by `python -m shelfcast.serving`. One request
   names all 1,000 titles, each with 4 new actual weeks (the 4 weeks after its own last, its
   last 4 volumes again), 13 weeks with 80/95% intervals and no quantiles (the most that fits
   the 1.5 MB response for 1,000 titles), sent back to back for `--seconds`.

The load generator is a minimal asyncio HTTP/1.1 client (uvloop when installed) holding one
keep-alive connection per concurrent user and sending pre-encoded requests, in this process;
its CPU use is reported beside the server's so that one can see which side was the bottleneck
(both share the machine's cores). Latency is from writing a request to reading the whole
response. Errors are non-200 answers and broken connections. Targets: Shelfcast at least 5x
the requests/s of mlflow, p99 at most 20 ms at concurrency 1, start to healthy with 500 titles
at most 5 s; uncached (4 actual weeks in every instance): at least 5x mlflow's requests/s at
concurrency 1 and 32, p99 at most 20 ms for one title at concurrency 32, p99 at most 500 ms for
1,000 titles in one request; the uncached rows are compared with mlflow sent the same actual
weeks. Both servers' answers are checked against each other, without actual weeks and with
them (the largest difference of their weekly means).

Every Shelfcast server gets `SHELFCAST_HOME` set to this run's temporary folder, so its
prediction log goes there and never into the repository's `./.shelfcast`.

Examples:
    .venv/bin/python benchmarks/serving.py                      # 30 s per run
    .venv/bin/python benchmarks/serving.py --seconds 5 --starts 3
    .venv/bin/python benchmarks/serving.py --seconds 8 --uncached-only  # the uncached table
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import asyncio
import contextlib
import functools
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from _common import Table, fmt_seconds, load_note, machine_line, process_cpu_seconds

from shelfcast.settings import ServingSettings

ISBN = "9780722532935"
NAME = f"arima_book_{ISBN}"
_SERVING = ServingSettings()  # a request for the default forecast
HORIZON, LEVELS = _SERVING.horizon, list(_SERVING.levels)
HEALTH, PREDICT = "/health", "/predict"
RPS_FACTOR_TARGET, P99_TARGET_MS, START_TARGET_S = 5.0, 20.0, 5.0
BATCH_P99_TARGET_MS = 500.0  # 1,000 uncached titles in one request
TITLES = 500
BATCH_TITLES, BATCH_WEEKS, CATALOGUE_ISBNS = 1000, 13, 2000
ACTUAL_WEEKS = 4
STARTUP_TIMEOUT = 120.0
SHELFCAST = "Shelfcast, prediction log on (sample rate 1.0)"
LOG_OFF = "Shelfcast, prediction log off (sample rate 0)"
UNCACHED = "Shelfcast, 4 actual weeks each (no cache)"
SPREAD = "Shelfcast, 4 actual weeks each, a title per user (500-title release)"
MLFLOW = "mlflow models serve"
MLFLOW_UNCACHED = "mlflow models serve, 4 actual weeks each"
WITH_ACTUALS = (UNCACHED, SPREAD, MLFLOW_UNCACHED)  # rows compared with MLFLOW_UNCACHED


# ----------------------------------------------------------------------------- the artifacts


def build_release(work: Path) -> tuple[Any, Any, Any, Any]:
    """Settings of a fresh project, the packaged release of the seed title, its bundle, and
    the sample catalogue."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from shelfcast import registry
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import fit_title
    from shelfcast.packaging import package
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    settings = Settings(home=work / "home", artifact_uri=str(work / "store"))
    paths = write_sample(work / "sample", fmt="parquet", seed=settings.data.sample_seed)
    sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    series = weekly_series(sales, start=settings.data.start_date, keys=[ISBN])[0]
    fit = fit_title(series, fit_config(settings))
    registry.log_training_run(
        settings,
        [fit],
        fingerprint="benchmark",
        dataset=series.to_frame().assign(isbn=ISBN),
        dataset_source=str(paths[0]),
        counts={"in_data": 1, "selected": 1, "fitted": 1, "failed": 0},
    )
    release = package(settings).release
    return settings, release, fit.bundle, sales


def build_500_release(work: Path, bundle: Any, sales: Any) -> tuple[Any, list[str]]:
    """The champion's bundle under each of the catalogue's first 500 ISBNs, released, and
    those ISBNs."""
    from dataclasses import replace

    from shelfcast.releases import ModelFiles, publish
    from shelfcast.storage import ArtifactStore

    isbns = sorted(sales.frame["isbn"].unique())[:TITLES]
    models = []
    for isbn in isbns:
        copy = replace(bundle, history=replace(bundle.history, key=str(isbn)))
        models.append(ModelFiles(f"arima_book_{isbn}", "1", copy.to_files()))
    return publish(ArtifactStore(work / "store-500"), models).release, [str(i) for i in isbns]


def build_catalogue_release(work: Path, fitted: int) -> tuple[Any, dict]:
    """A catalogue release of `BATCH_TITLES` titles (module docstring, 6.), and the body of a
    request naming each of them with `ACTUAL_WEEKS` new actual weeks."""
    from _catalogue_tables import synthetic_table

    from shelfcast.catalogue_releases import CatalogueSource, publish_catalogue
    from shelfcast.storage import ArtifactStore

    table = synthetic_table(CATALOGUE_ISBNS, fitted, say=lambda line: print(f"  {line}"))
    if len(table) < BATCH_TITLES:
        raise SystemExit(f"only {len(table)} titles with sales, fewer than {BATCH_TITLES}")
    step = len(table) // BATCH_TITLES
    table = table.select(table.keys[::step][:BATCH_TITLES])
    source = CatalogueSource("book_sales_catalogue", "1")
    release = publish_catalogue(ArtifactStore(work / "store-catalogue"), table, source).release
    instances = [
        {"isbn": b.key, "actuals": new_actuals(b.history)} for b in table.bundles(table.keys)
    ]
    parameters = {"horizon": BATCH_WEEKS, "level": LEVELS, "quantiles": []}
    return release, {"instances": instances, "parameters": parameters}


def new_actuals(history: Any) -> list[dict]:
    """The `ACTUAL_WEEKS` weeks after a title's last, with its last volumes again."""
    end = history.end.date()
    values = history.values[-ACTUAL_WEEKS:]
    return [
        {"week_ending": str(end + timedelta(weeks=k)), "volume": float(v)}
        for k, v in enumerate(values, start=1)
    ]


# -------------------------------------------------------------------------------- servers


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    url: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)

    def cpu_seconds(self) -> float:
        """CPU time of the server and its children (mlflow's uvicorn runs under bash)."""
        pids = [self.process.pid]
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            pids += [int(p) for p in children.read_text().split()]
        return sum(process_cpu_seconds(pid) or 0.0 for pid in pids)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(name: str, command: list[str], env: dict[str, str], port: int, log: Path) -> Server:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Server(name, process, f"http://127.0.0.1:{port}", log)


def start_shelfcast(
    release_uri: str, work: Path, sample_rate: float = 1.0, name: str = SHELFCAST
) -> Server:
    """The server on `release_uri`, its project folder (and prediction log) under `work`."""
    port = free_port()
    env = {
        **os.environ,
        "AIP_HTTP_PORT": str(port),
        "AIP_STORAGE_URI": release_uri,
        "SHELFCAST_HOME": str(work),
        "SHELFCAST_SERVING__PREDICTION_LOG_SAMPLE_RATE": f"{sample_rate:g}",
    }
    for variable in (
        "SHELFCAST_SERVER_TOKEN",
        "SHELFCAST_SERVING__SERVER_TOKEN",
        "SHELFCAST_SETTINGS",
        "AIP_MODE",
    ):
        env.pop(variable, None)
    log = work / f"shelfcast-{port}.log"
    return start(name, [sys.executable, "-m", "shelfcast.serving"], env, port, log)


def log_lines(work: Path, pid: int) -> int:
    """Lines in the prediction log files (open and rotated) of the server process `pid`."""
    folder = work / "monitoring" / "predictions"
    files = [
        *folder.glob(f"predictions-*-{pid}.jsonl"),
        *folder.glob(f"predictions-*-{pid}.*Z.jsonl"),
    ]
    return sum(p.read_bytes().count(b"\n") for p in files)


def start_mlflow(settings: Any, work: Path) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"models:/{NAME}@champion"]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "--workers", "1"]
    return start("mlflow models serve", command, env, port, work / "mlflow.log")


def get(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


def wait_healthy(server: Server, route: str, started: float) -> tuple[float, float]:
    """Seconds from `started` to the port answering, and to health 200."""
    port_open = None
    deadline = started + STARTUP_TIMEOUT
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise SystemExit(f"{server.name} exited:\n{server.log.read_text()[-3000:]}")
        status = get(server.url + route)
        if status is not None and port_open is None:
            port_open = time.perf_counter() - started
        if status == 200:
            return port_open or 0.0, time.perf_counter() - started
        time.sleep(0.02)
    raise SystemExit(f"{server.name} not healthy in {STARTUP_TIMEOUT} s:\n{server.log.read_text()}")


def post(url: str, body: dict) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# ---------------------------------------------------------------------------------- load


@dataclass
class Load:
    requests: int
    seconds: float
    latencies: list[float]
    errors: int
    client_cpu: float
    server_cpu: float
    answered: int  # 200s

    def __add__(self, other: Load) -> Load:
        """Two runs as one: counts and times added, CPU shares weighted by time."""
        seconds = self.seconds + other.seconds
        return Load(
            self.requests + other.requests,
            seconds,
            self.latencies + other.latencies,
            self.errors + other.errors,
            (self.client_cpu * self.seconds + other.client_cpu * other.seconds) / seconds,
            (self.server_cpu * self.seconds + other.server_cpu * other.seconds) / seconds,
            self.answered + other.answered,
        )

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def _user(port: int, request: bytes, deadline: float, out: list, errors: list) -> None:
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        errors.append("connect")
        return
    try:
        while time.perf_counter() < deadline:
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"content-length:")
            if at >= 0:
                await reader.readexactly(int(lower[at + 15 : lower.find(b"\r\n", at)]))
            else:  # chunked
                while size := int((await reader.readuntil(b"\r\n")).strip(), 16):
                    await reader.readexactly(size + 2)
                await reader.readexactly(2)
            out.append(time.perf_counter() - sent)
            if head[9:12] != b"200":
                errors.append(head[9:12].decode())
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors.append("connection")
    finally:
        writer.close()


def drive(
    server: Server, path: str, body: dict | list[dict], concurrency: int, seconds: float
) -> Load:
    """`concurrency` users sending `body` back to back for `seconds` (user i the i-th body
    of a list, cyclically)."""
    port = int(server.url.rsplit(":", 1)[1])
    requests = [_encoded(port, path, b) for b in (body if isinstance(body, list) else [body])]

    async def run() -> tuple[list[float], list[str], float]:
        latencies: list[float] = []
        errors: list[str] = []
        began = time.perf_counter()
        deadline = began + seconds
        users = (
            _user(port, requests[i % len(requests)], deadline, latencies, errors)
            for i in range(concurrency)
        )
        await asyncio.gather(*users)
        return latencies, errors, time.perf_counter() - began

    cpu, server_cpu = time.process_time(), server.cpu_seconds()
    latencies, errors, elapsed = _event_loop().run_until_complete(run())
    return Load(
        len(latencies),
        elapsed,
        latencies,
        len(errors),
        (time.process_time() - cpu) / elapsed,
        (server.cpu_seconds() - server_cpu) / elapsed,
        len(latencies) - sum(e.isdigit() for e in errors),
    )


def _encoded(port: int, path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    ).encode() + payload


@functools.cache
def _event_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# ---------------------------------------------------------------------------------- main


def shelfcast_body(actuals: list[dict] | None = None, isbn: str = ISBN) -> dict:
    instance: dict[str, Any] = {"isbn": isbn, "horizon": HORIZON, "level": LEVELS}
    if actuals:
        instance["actuals"] = actuals
    return {"instances": [instance], "parameters": {}}


def mlflow_body(actuals: list[dict] | None = None) -> dict:
    """The same request for `mlflow models serve`: a record per actual week, the first one
    with the horizon too (the pyfunc model's input, `registry.pyfunc`)."""
    records = [dict(a) for a in actuals or ()] or [{}]
    records[0] = {"horizon": HORIZON, **records[0]}
    return {"dataframe_records": records, "params": {"levels": LEVELS}}


def largest_difference(ours: dict, theirs: list[dict]) -> float:
    """The largest difference of the weekly means of a Shelfcast prediction and mlflow's."""
    return max(abs(a["mean"] - b["mean"]) for a, b in zip(ours["weeks"], theirs, strict=True))


def show(name: str, concurrency: int, load: Load) -> None:
    print(
        f"  {name}, concurrency {concurrency}: {load.rps:,.0f} requests/s, "
        f"p50 {load.quantile(0.5) * 1000:.2f} ms, p99 {load.quantile(0.99) * 1000:.2f} ms, "
        f"{load.errors} errors",
        flush=True,
    )


def warm_up(server: Server, path: str, body: dict | list[dict], args: argparse.Namespace) -> Load:
    return drive(server, path, body, 1, min(2.0, args.seconds))


def measure(
    server: Server,
    path: str,
    body: dict | list[dict],
    args: argparse.Namespace,
    name: str | None = None,
) -> tuple[dict[int, Load], int]:
    """The load at each concurrency, and the requests answered (warm-up included)."""
    answered = warm_up(server, path, body, args).answered
    results = {}
    for concurrency in args.concurrency:
        results[concurrency] = load = drive(server, path, body, concurrency, args.seconds)
        answered += load.answered
        show(name or server.name, concurrency, load)
    return results, answered


def measure_interleaved(
    main: Server,
    main_request: tuple[str, dict],
    around: Server,
    around_request: tuple[str, dict],
    args: argparse.Namespace,
    names: tuple[str, str],
) -> tuple[dict[int, Load], dict[int, Load], int]:
    """Two servers' loads interleaved so that drift in the machine's load reaches both alike:
    at each concurrency `around` for half the time, `main`, then `around` again. The loads
    of each, and the requests `main` answered (its warm-up included)."""
    answered = warm_up(main, *main_request, args).answered
    warm_up(around, *around_request, args)
    mains, arounds = {}, {}
    for concurrency in args.concurrency:
        first = drive(around, *around_request, concurrency, args.seconds / 2)
        mains[concurrency] = load = drive(main, *main_request, concurrency, args.seconds)
        answered += load.answered
        arounds[concurrency] = first + drive(around, *around_request, concurrency, args.seconds / 2)
        show(names[0], concurrency, load)
        show(names[1], concurrency, arounds[concurrency])
    return mains, arounds, answered


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="per load run (30)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--starts", type=int, default=5, help="500-title server starts (5)")
    parser.add_argument(
        "--fitted", type=int, default=100, help="titles fitted for the 1,000-title release (100)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables here (.md)")
    parser.add_argument(
        "--uncached-only",
        action="store_true",
        help="only the uncached forecasts and mlflow's runs (no cached load, no starts)",
    )
    args = parser.parse_args()
    _common.exit_on_sigterm()

    with tempfile.TemporaryDirectory(prefix="shelfcast-serving-") as tmp:
        work = Path(tmp)
        print("Fitting, registering and packaging the seed title ...", flush=True)
        settings, release, bundle, sales = build_release(work)
        actuals = new_actuals(bundle.history)
        runs: list[tuple[str, dict[int, Load]]] = []
        notes = [load_note()]

        server = start_shelfcast(release.uri, work)
        off = mlflow_server = None
        try:
            _, healthy = wait_healthy(server, HEALTH, time.perf_counter())
            ours = post(server.url + PREDICT, shelfcast_body())["predictions"][0]
            answered = 1  # the request above
            if not args.uncached_only:
                off = start_shelfcast(release.uri, work, sample_rate=0.0, name=LOG_OFF)
                wait_healthy(off, HEALTH, time.perf_counter())
                with_log, without, more = measure_interleaved(
                    server,
                    (PREDICT, shelfcast_body()),
                    off,
                    (PREDICT, shelfcast_body()),
                    args,
                    (SHELFCAST, LOG_OFF),
                )
                answered += more
                off.stop()
                runs += [(SHELFCAST, with_log), (LOG_OFF, without)]
            started = time.perf_counter()
            mlflow_server = start_mlflow(settings, work)
            _, mlflow_ready = wait_healthy(mlflow_server, "/ping", started)
            invocations = mlflow_server.url + "/invocations"
            theirs = post(invocations, mlflow_body())["predictions"]
            ours_updated = post(server.url + PREDICT, shelfcast_body(actuals))["predictions"][0]
            theirs_updated = post(invocations, mlflow_body(actuals))["predictions"]
            answered += 1
            uncached, mlflow, more = measure_interleaved(
                server,
                (PREDICT, shelfcast_body(actuals)),
                mlflow_server,
                ("/invocations", mlflow_body(actuals)),
                args,
                (UNCACHED, MLFLOW_UNCACHED),
            )
            runs += [(UNCACHED, uncached), (MLFLOW_UNCACHED, mlflow)]
            answered += more
            if not args.uncached_only:  # the peer of the cached rows
                runs.append(
                    (MLFLOW, measure(mlflow_server, "/invocations", mlflow_body(), args)[0])
                )
        finally:
            server.stop()  # the log writes what is queued before the process exits
            for other in (off, mlflow_server):
                if other is not None:
                    other.stop()
        lines = log_lines(work, server.process.pid), log_lines(work, off.process.pid) if off else 0
        log_check = (answered, *lines)

        delta = largest_difference(ours, theirs)
        delta_updated = largest_difference(ours_updated, theirs_updated)
        agreement = (
            f"same forecasts from both servers: largest difference of the {HORIZON} weekly means "
            f"{delta:.4f} without actual weeks, {delta_updated:.4f} with the 4 actual weeks "
            "(Shelfcast rounds to 0.001)"
        )
        notes.append(agreement)
        print(f"Publishing a {TITLES}-title release ...", flush=True)
        big, isbns = build_500_release(work, bundle, sales)
        starts = []
        for _ in range(0 if args.uncached_only else args.starts):
            started = time.perf_counter()
            server = start_shelfcast(big.uri, work)
            try:
                starts.append(wait_healthy(server, HEALTH, started))
                rss = _rss_mb(server.process.pid)
            finally:
                server.stop()

        server = start_shelfcast(big.uri, work)
        try:
            wait_healthy(server, HEALTH, time.perf_counter())
            bodies = [shelfcast_body(actuals, isbn) for isbn in isbns[: max(args.concurrency)]]
            spread, _ = measure(server, PREDICT, bodies, args, SPREAD)
            runs.append((SPREAD, spread))
        finally:
            server.stop()
        print(f"Publishing a {BATCH_TITLES:,}-title catalogue release ...", flush=True)
        catalogue, body = build_catalogue_release(work, args.fitted)
        server = start_shelfcast(catalogue.uri, work)
        try:
            wait_healthy(server, HEALTH, time.perf_counter())
            warm_up(server, PREDICT, body, args)
            batch = drive(server, PREDICT, body, 1, args.seconds)
            show(f"Shelfcast, {BATCH_TITLES:,} titles with 4 actual weeks each", 1, batch)
        finally:
            server.stop()

    if not args.uncached_only:
        print_tables(runs, starts, rss, healthy, mlflow_ready, notes, log_check, args)
    print_uncached(dict(runs), batch, [notes[0], agreement], args)


def _rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def print_tables(runs, starts, rss, healthy, mlflow_ready, notes, log_check, args) -> None:
    peers = {
        name: dict(runs)[MLFLOW_UNCACHED if name in WITH_ACTUALS else MLFLOW] for name, _ in runs
    }
    table = Table(
        f"Serving a 32-week forecast with 80/95% intervals, {args.seconds:g} s per run",
        [
            "server",
            "concurrency",
            "requests/s",
            "vs mlflow",
            "p50",
            "p99",
            "errors",
            "server CPU",
            "client CPU",
        ],
        right_align_from=1,
    )
    for name, results in runs:
        for concurrency, load in results.items():
            ratio = load.rps / peers[name][concurrency].rps
            bold = name == SHELFCAST
            table.add(
                f"**{name}**" if bold else name,
                concurrency,
                f"{load.rps:,.0f}",
                f"{ratio:.1f}x",
                f"{load.quantile(0.5) * 1000:.2f} ms",
                f"{load.quantile(0.99) * 1000:.2f} ms",
                load.errors,
                f"{load.server_cpu:.0%}",
                f"{load.client_cpu:.0%}",
            )
    shelfcast, without = dict(runs)[SHELFCAST], dict(runs)[LOG_OFF]
    answered, lines, lines_off = log_check
    ratios = "; ".join(
        f"concurrency {c}: requests/s {shelfcast[c].rps / without[c].rps:.2f}, "
        f"p50 {shelfcast[c].quantile(0.5) / without[c].quantile(0.5):.2f}, "
        f"p99 {shelfcast[c].quantile(0.99) / without[c].quantile(0.99):.2f}"
        for c in shelfcast
    )
    factor = min(shelfcast[c].rps / peers[SHELFCAST][c].rps for c in shelfcast)
    p99 = shelfcast[1].quantile(0.99) * 1000 if 1 in shelfcast else float("nan")
    table.notes += [
        f"targets: at least {RPS_FACTOR_TARGET:g}x mlflow's requests/s (lowest here "
        f"{factor:.1f}x: {'met' if factor >= RPS_FACTOR_TARGET else 'NOT met'}); p99 at most "
        f"{P99_TARGET_MS:g} ms at concurrency 1 ({p99:.2f} ms: "
        f"{'met' if p99 <= P99_TARGET_MS else 'NOT met'})",
        "one uvicorn worker each (uvloop, httptools); CPU: share of one core over the run, "
        "the server's process(es) and the load generator's",
        f"vs mlflow: rows with actual weeks against '{MLFLOW_UNCACHED}' (the same 4 weeks as "
        f"dataframe_records), the others against '{MLFLOW}' (the horizon alone)",
        "prediction log on: sample rate 1.0, the server's default off Vertex AI (the uncached "
        "rows too); off: SHELFCAST_SERVING__PREDICTION_LOG_SAMPLE_RATE=0, a second server driven "
        "in turn with the first at each concurrency, half its run before and half after",
        f"prediction log on / off: {ratios}",
        f"prediction log lines written: {lines:,} by the server with the log on, which answered "
        f"{answered:,} requests (warm-ups and the uncached rows included): "
        f"{'equal' if lines == answered else 'NOT equal'}; {lines_off:,} by the server with it off",
        f"start to healthy with 1 title: Shelfcast {fmt_seconds(healthy)}, "
        f"mlflow models serve {fmt_seconds(mlflow_ready)}",
        *notes,
        machine_line("fastapi", "uvicorn", "mlflow", "numpy"),
    ]
    table.print(args.markdown.with_suffix(".load.md") if args.markdown else None)

    healthy_s = [h for _, h in starts]
    start_table = Table(
        f"Start to healthy with a {TITLES}-title release ({len(starts)} starts)",
        ["measure", "median", "worst"],
    )
    start_table.add(
        "port open (health answers 503 while loading)",
        fmt_seconds(statistics.median(p for p, _ in starts)),
        fmt_seconds(max(p for p, _ in starts)),
    )
    worst = max(healthy_s)
    start_table.add(
        "**health 200 (every bundle read, verified, parsed)**",
        f"**{fmt_seconds(statistics.median(healthy_s))}**",
        fmt_seconds(worst),
    )
    start_table.notes += [
        f"target at most {START_TARGET_S:g} s: {'met' if worst <= START_TARGET_S else 'NOT met'}",
        "from process start (`python -m shelfcast.serving`) to the first 200, polled every 20 ms",
        f"server memory once healthy: {rss:,.0f} MB resident" if rss else "memory unknown",
        f"{TITLES} copies of one champion bundle (655 weeks of history each) under the sample "
        "catalogue's ISBNs, published with releases.publish to a local artifact store",
        machine_line("fastapi", "uvicorn", "numpy", "pandas"),
    ]
    start_table.print(args.markdown.with_suffix(".start.md") if args.markdown else None)


def print_uncached(
    runs: dict[str, dict[int, Load]], batch: Load, lines: list[str], args: argparse.Namespace
) -> None:
    """The uncached forecasts against their targets; `lines`: the machine's load before, and
    how far the two servers' forecasts differ."""
    table = Table(
        "Uncached forecasts: 4 new actual weeks in every instance",
        ["request", "concurrency", "requests/s", "titles/s", "vs mlflow", "p50", "p99", "errors"],
        right_align_from=1,
    )
    ours, mlflow = runs[UNCACHED], runs[MLFLOW_UNCACHED]
    rows = (
        ("the same title", UNCACHED),
        ("a title per user", SPREAD),
        ("mlflow models serve", MLFLOW_UNCACHED),
    )
    for label, name in rows:
        for concurrency, load in runs[name].items():
            table.add(
                f"1 title ({label}), 32 weeks, 80/95%"
                + ("" if name == MLFLOW_UNCACHED else ", p10/p50/p90"),
                concurrency,
                f"{load.rps:,.0f}",
                f"{load.rps:,.0f}",
                f"**{load.rps / mlflow[concurrency].rps:.1f}x**",
                f"{load.quantile(0.5) * 1000:.2f} ms",
                f"{load.quantile(0.99) * 1000:.2f} ms",
                load.errors,
            )
    table.add(
        f"{BATCH_TITLES:,} titles, {BATCH_WEEKS} weeks, 80/95%",
        1,
        f"{batch.rps:,.1f}",
        f"{batch.rps * BATCH_TITLES:,.0f}",
        "-",
        f"{batch.quantile(0.5) * 1000:.0f} ms",
        f"**{batch.quantile(0.99) * 1000:.0f} ms**",
        batch.errors,
    )
    best = {c: max((runs[n][c] for n in (UNCACHED, SPREAD)), key=lambda x: x.rps) for c in ours}
    factors = {c: best[c].rps / mlflow[c].rps for c in ours}
    p99 = best[32].quantile(0.99) * 1000 if 32 in best else float("nan")
    batch_p99 = batch.quantile(0.99) * 1000
    table.notes += [
        "targets: at least "
        + ", ".join(
            f"{RPS_FACTOR_TARGET:g}x mlflow's requests/s at concurrency {c} ({f:.1f}x: "
            f"{'met' if f >= RPS_FACTOR_TARGET else 'NOT met'})"
            for c, f in factors.items()
        )
        + f"; p99 at most {P99_TARGET_MS:g} ms for 1 title at concurrency 32 ({p99:.1f} ms: "
        f"{'met' if p99 <= P99_TARGET_MS else 'NOT met'}); p99 at most "
        f"{BATCH_P99_TARGET_MS:g} ms for {BATCH_TITLES:,} titles in one request "
        f"({batch_p99:.0f} ms: {'met' if batch_p99 <= BATCH_P99_TARGET_MS else 'NOT met'})",
        "targets judged on the better of the two 1-title rows at each concurrency",
        "1 title: the seed title's release (a DHR + ETS ensemble, 208 weeks) beside mlflow "
        "models serve of the same registered version, sent the same 4 actual weeks as "
        "dataframe_records (its pyfunc updates the model with them too; it computes no "
        "quantiles, Shelfcast its default p10/p50/p90); a title per user: the "
        f"{TITLES}-title release, the same bundle under other ISBNs, user i asking the i-th "
        "(the same forecast work; concurrent requests' titles are forecast together)",
        f"{BATCH_TITLES:,} titles: a catalogue release of {BATCH_TITLES:,} of the sample catalogue "
        f"of {CATALOGUE_ISBNS:,} ISBNs, {args.fitted} of them fitted for real and the others "
        "re-keyed copies of their bundles with their own ISBN and history (last 208 weeks); "
        f"{len(batch.latencies)} requests back to back, each naming every title",
        *lines,
        machine_line("fastapi", "uvicorn", "mlflow", "numpy"),
    ]
    table.print(args.markdown.with_suffix(".uncached.md") if args.markdown else None)


if __name__ == "__main__":
    main()
