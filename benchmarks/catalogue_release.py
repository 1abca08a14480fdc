"""A catalogue release at scale: publish, server start to healthy, memory, 1,000-title
requests and a batch forecast to one Parquet file.

1. A catalogue table of `--titles` sample titles (`_catalogue_tables.synthetic_table`:
   `--fitted` titles fitted for real, copies of their bundles re-keyed onto the other titles,
   each with its own ISBN and history; see that module) is built once and kept in `--work`.
2. `catalogue_releases.publish_catalogue` writes it into a fresh local artifact store
   (verified), then
   again (the same release is found, nothing is written).
3. `python -m shelfcast.serving` is started on the release `--starts` times: time from process
   start to the first 200 on the health route, and the server's resident memory (VmRSS) then.
4. On the last server: requests of 1,000 distinct ISBNs (13 weeks, 80/95% intervals: the
   most that fits Vertex AI's 1.5 MB response for 1,000 titles), each first (bundles built
   from their rows, forecast) and again (cached), and the server's resident memory and peak
   (VmHWM) afterwards.
5. `lifecycle.batch.batch_forecast` of `--batch-titles` titles (default every title) into one
   Parquet file: seconds, rows and seconds per title.

Targets at 100,000 titles (issue 15): load to healthy in at most 10 s, at most 2 GB resident.

Examples:
    .venv/bin/python benchmarks/catalogue_release.py --titles 10000
    .venv/bin/python benchmarks/catalogue_release.py --titles 100000 --batch-titles 5000
"""

from __future__ import annotations

# isort: off
from _common import Table, load_note, machine_line  # first: pins BLAS threads to one

# isort: on

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from _catalogue_tables import synthetic_table

from shelfcast.catalogue_releases import CatalogueSource, publish_catalogue
from shelfcast.forecasting import bundle_table
from shelfcast.lifecycle.batch import batch_forecast
from shelfcast.releases import Release
from shelfcast.storage import ArtifactStore

TARGET_SECONDS, TARGET_GB = 10.0, 2.0
REQUEST_TITLES = 1000
REQUEST_WEEKS = 13  # 1,000 titles x 13 weeks x 80/95% intervals: about 1.1 MB, under 1.5 MB


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM of a process, in GB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) / 1024**2
    return out


def post(url: str, body: bytes) -> tuple[int, bytes]:
    request = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def start_server(release: Release, home: Path) -> tuple[subprocess.Popen, str, float]:
    """A server on the release; returns it, its URL and the seconds to the first 200."""
    port = free_port()
    env = {**os.environ, "AIP_HTTP_PORT": str(port), "SHELFCAST_HOME": str(home)}
    env["SHELFCAST_SERVING__PREDICTION_LOG_SAMPLE_RATE"] = "0"
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "shelfcast.serving", "--release", release.uri],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    while True:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=5) as response:
                if response.status == 200:
                    return process, url, time.perf_counter() - started
        except urllib.error.HTTPError as exc:
            body = json.loads(exc.read())
            if body.get("status") == "failed":
                raise SystemExit(f"the release failed to load: {body.get('reason')}") from None
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.02)


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, default=100_000, help="sample catalogue ISBNs")
    parser.add_argument("--fitted", type=int, default=300, help="titles fitted for real")
    parser.add_argument("--starts", type=int, default=3, help="server starts to time")
    parser.add_argument("--batch-titles", type=int, help="titles batch-forecast (default all)")
    parser.add_argument("--work", type=Path, help="keep the table here and reuse it")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="shelfcast-catalogue-release-") as tmp:
        work = args.work or Path(tmp, "table")
        folder = work / f"titles-{args.titles}-fitted-{args.fitted}"
        if not (folder / bundle_table.SHARED_FILE).exists():
            started = time.perf_counter()
            synthetic_table(args.titles, args.fitted).write(folder)
            print(f"table built in {time.perf_counter() - started:.0f} s")
        table = bundle_table.read(folder)
        size = sum(p.stat().st_size for p in folder.glob("*.parquet")) / 1024**2
        store = ArtifactStore(Path(tmp, "store"))
        source = CatalogueSource("book_sales_catalogue", "1")

        print(load_note())
        started = time.perf_counter()
        published = publish_catalogue(store, table, source)
        publish_seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = publish_catalogue(store, table, source)
        again_seconds = time.perf_counter() - started
        assert not again.created and again.release == published.release
        release = published.release

        starts, resident = [], []
        for n in range(args.starts):
            process, url, seconds = start_server(release, Path(tmp, "home"))
            starts.append(seconds)
            resident.append(memory(process.pid)["VmRSS"])
            if n < args.starts - 1:
                stop(process)
        try:
            step = max(1, len(table) // REQUEST_TITLES)
            keys = table.keys[::step][:REQUEST_TITLES]
            parameters = {"horizon": REQUEST_WEEKS, "level": [80, 95], "quantiles": []}
            body = json.dumps(
                {"instances": [{"isbn": k} for k in keys], "parameters": parameters}
            ).encode()
            timings = []
            for _ in range(2):
                started = time.perf_counter()
                status, answer = post(f"{url}/predict", body)
                timings.append(time.perf_counter() - started)
                assert status == 200, answer[:300]
            after = memory(process.pid)
        finally:
            stop(process)

        batch_keys = table.keys[: args.batch_titles] if args.batch_titles else ()
        out = Path(tmp, "forecasts.parquet")
        started = time.perf_counter()
        batch = batch_forecast(
            release,
            str(out),
            horizon=32,
            levels=(80, 95),
            quantiles=(0.1, 0.5, 0.9),
            isbns=batch_keys,
        )
        batch_seconds = time.perf_counter() - started

    titles = len(table)
    result = Table(
        f"Catalogue release of {titles:,} titles ({size:,.0f} MB of Parquet)",
        ["stage", "measured", "per title", "target", "ratio to target"],
    )
    start = statistics.median(starts)
    result.add(
        "publish (write, verify)",
        f"{publish_seconds:.2f} s",
        f"{publish_seconds / titles * 1e3:.3f} ms",
        "-",
        "-",
    )
    result.add("publish again (found)", f"{again_seconds:.2f} s", "-", "-", "-")
    result.add(
        f"server start to healthy (median of {len(starts)}, worst)",
        f"{start:.2f} s, {max(starts):.2f} s",
        "-",
        f"{TARGET_SECONDS:.0f} s",
        f"{start / TARGET_SECONDS:.2f}",
    )
    result.add(
        "resident when healthy",
        f"{max(resident):.2f} GB",
        "-",
        f"{TARGET_GB:.0f} GB",
        f"{max(resident) / TARGET_GB:.2f}",
    )
    result.add(
        f"{len(keys):,} titles, one request, first",
        f"{timings[0]:.2f} s",
        f"{timings[0] / len(keys) * 1e3:.2f} ms",
        "-",
        "-",
    )
    result.add(
        f"{len(keys):,} titles, one request, cached",
        f"{timings[1]:.3f} s",
        f"{timings[1] / len(keys) * 1e3:.3f} ms",
        "-",
        "-",
    )
    result.add(
        "resident after, peak",
        f"{after['VmRSS']:.2f} GB, {after['VmHWM']:.2f} GB",
        "-",
        f"{TARGET_GB:.0f} GB",
        f"{after['VmHWM'] / TARGET_GB:.2f}",
    )
    result.add(
        f"batch forecast, {batch.titles:,} titles x 32 weeks -> one Parquet file",
        f"{batch_seconds:.1f} s ({batch.rows:,} rows, {batch.errors} titles failed)",
        f"{batch_seconds / batch.titles * 1e3:.2f} ms",
        "-",
        "-",
    )
    result.notes.append(machine_line("pyarrow", "numpy", "pandas"))
    result.notes.append(
        f"{args.fitted} titles fitted, the rest copies of their bundles on their own ISBN "
        "and history (benchmarks/_catalogue_tables.py)"
    )
    result.print()


if __name__ == "__main__":
    main()
