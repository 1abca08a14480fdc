"""A local endpoint's life: `shelfcast run` cold and again, deploys, a rollback, the router.

In a new temporary project folder (nothing cached in it):

1. `shelfcast run`, the installed console script in a fresh process with the folder as its
   working directory and MLFLOW_TRACKING_URI, DEPLOYMENT_ENV and SHELFCAST_* removed from
   the environment: it writes the sample catalogue, trains its default selection (at most
   15 seasonal titles with sales since 2012, the two test titles among them), registers and
   promotes them, packages a release and deploys it to the local endpoint `book-sales` (a
   router in front of a server process). Then `shelfcast run` again in the same folder
   (training from ZenML's cache, the same release, the endpoint left as it is).
2. The router's added latency: `--requests` sequential 32-week forecasts with 80/95%
   intervals of one title, alternately through the router's URL and straight to the serving
   deployed model's own URL, each over one kept-alive connection (http.client).
3. A deploy of a new release: the one-title release of that title (`packaging.package`, what
   `shelfcast package --model-name ISBN` runs; not timed), rolled out by
   `rollout.deploy_release` in this process (start a server, wait for health, smoke-test
   every title, shift traffic, clean up); then the full release again, as a new deployed
   model of all its titles.
4. A rollback: from calling `rollout.rollback` until the router's first answer from the
   deployed model it went back to (its `X-Deployed-Model-Id` header).

The endpoint is stopped at the end (`shelfcast endpoints stop book-sales`) and the folder
deleted unless `--keep`. Targets on 2 cores: first run at most 90 s, second at most 30 s,
deploy at most 10 s, rollback at most 1 s.

Examples:
    .venv/bin/python benchmarks/endpoints.py                  # about 80 s
    .venv/bin/python benchmarks/endpoints.py --requests 500   # a shorter latency part
    .venv/bin/python benchmarks/endpoints.py --keep           # keep the folder and run logs
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from _common import Table, fmt_seconds, machine_line

from shelfcast.settings import ServingSettings

if TYPE_CHECKING:
    from shelfcast.endpoints.base import EndpointBackend
    from shelfcast.releases import Release

ENDPOINT = "book-sales"
SHELFCAST = Path(sys.executable).parent / "shelfcast"
RUN_TARGET_S, RERUN_TARGET_S, DEPLOY_TARGET_S, ROLLBACK_TARGET_S = 90.0, 30.0, 10.0, 1.0
_SERVING = ServingSettings()  # a request for the default forecast
HORIZON, LEVELS = _SERVING.horizon, list(_SERVING.levels)
WARM_UP = 50  # requests per path before the timed ones (connections, forecast cache)
MODEL_HEADER = "X-Deployed-Model-Id"
SWITCH_TIMEOUT = 30.0  # seconds to wait for the router to answer from the rolled-back model
# `shelfcast run` prints its own split of the time, e.g. "train 61.2, package 3.1, deploy 4.0".
STAGES = re.compile(r"train [\d.]+, package [\d.]+, deploy [\d.]+")


@dataclass(frozen=True)
class Run:
    seconds: float
    stages: str  # as `shelfcast run` printed them, '' if not found


@dataclass(frozen=True)
class Deploy:
    seconds: float
    deployed_model_id: str
    healthy: float  # seconds until the new server was healthy
    smoked: float  # seconds until its smoke test passed


@dataclass(frozen=True)
class Rollback:
    returned: float  # seconds until `rollback` returned
    answered: float  # seconds until the router's first answer from the model it went back to
    stale: int  # answers from the other model in between
    deployed_model_id: str


class Client:
    """One kept-alive HTTP/1.1 connection to a server's predict route."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)

    def predict(self, body: bytes) -> tuple[str | None, bytes, float]:
        """POST `body`: the answer's deployed-model header, its body and the seconds taken."""
        started = time.perf_counter()
        self.connection.request("POST", "/predict", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise SystemExit(f"the predict route answered {response.status}: {data[:300]!r}")
        return response.getheader(MODEL_HEADER), data, seconds


def clean_environment() -> None:
    """Drop what would point the runs at another tracking server, environment or settings
    (from this process, so from the runs and the servers its deploys start too)."""
    for name in list(os.environ):
        if name in ("MLFLOW_TRACKING_URI", "DEPLOYMENT_ENV") or name.startswith("SHELFCAST_"):
            del os.environ[name]


def shelfcast_run(folder: Path, number: int) -> Run:
    """`shelfcast run` in `folder`, timed; its output goes to `shelfcast-run-<number>.log`."""
    log = folder / f"shelfcast-run-{number}.log"
    env = os.environ | {"COLUMNS": "200"}  # rich must not wrap the line with the stages
    started = time.perf_counter()
    out = subprocess.run(
        [str(SHELFCAST), "run"], cwd=folder, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    log.write_text(out.stdout + out.stderr)
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-3000:] + out.stderr[-3000:])
        raise SystemExit(f"`shelfcast run` failed (exit {out.returncode}); log {log}")
    found = STAGES.search(out.stdout)
    return Run(seconds, found.group(0) if found else "")


def request_body(isbn: str) -> bytes:
    return json.dumps(
        {"instances": [{"isbn": isbn, "horizon": HORIZON, "level": LEVELS}], "parameters": {}}
    ).encode()


def latencies(
    router_url: str, model_url: str, body: bytes, requests: int
) -> dict[str, list[float]]:
    """Seconds per request through the router and straight to the model, taken in turn so
    that changes in the machine's load fall on both alike."""
    clients = {"router": Client(router_url), "direct": Client(model_url)}
    seconds: dict[str, list[float]] = {name: [] for name in clients}
    for number in range(WARM_UP + requests):
        for name, client in clients.items():
            taken = client.predict(body)[2]
            if number >= WARM_UP:
                seconds[name].append(taken)
    return seconds


def router_answers_from(router_url: str, body: bytes, deployed_model_id: str) -> None:
    """Check that the router now sends requests to `deployed_model_id`."""
    answered = Client(router_url).predict(body)[0]
    if answered != deployed_model_id:
        raise SystemExit(f"the router answered from {answered}, expected {deployed_model_id}")


def timed_deploy(backend: EndpointBackend, release: Release) -> Deploy:
    """`deploy_release` timed, with the times of its health and smoke-test steps."""
    from shelfcast.endpoints.rollout import deploy_release

    steps: list[tuple[float, str]] = []
    started = time.perf_counter()

    def progress(message: str) -> None:
        steps.append((time.perf_counter() - started, message))

    result = deploy_release(backend, ENDPOINT, release, progress=progress)
    seconds = time.perf_counter() - started
    if result.action != "deployed" or result.deployed_model is None:
        raise SystemExit(f"deploy of {release.release_id}: {result.action}, expected deployed")

    def at(prefix: str) -> float:
        return next(t for t, message in steps if message.startswith(prefix))

    return Deploy(seconds, result.deployed_model.id, at("Smoke test"), at("Traffic"))


def timed_rollback(backend: EndpointBackend, router_url: str, body: bytes) -> Rollback:
    """From calling `rollback` to the router's first answer from the model it went back to,
    asked over a connection opened (and used once) just before."""
    from shelfcast.endpoints.rollout import rollback

    client = Client(router_url)
    client.predict(body)
    started = time.perf_counter()
    result = rollback(backend, ENDPOINT)
    returned = time.perf_counter() - started
    assert result.deployed_model is not None
    target = result.deployed_model.id
    stale = 0
    while client.predict(body)[0] != target:
        stale += 1
        if time.perf_counter() - started > SWITCH_TIMEOUT:
            raise SystemExit(f"the router still answers from another model than {target}")
    return Rollback(returned, time.perf_counter() - started, stale, target)


@dataclass(frozen=True)
class Results:
    cold: Run
    again: Run
    full: Release  # the release `shelfcast run` deployed
    one: Release  # the one-title release deployed over it
    isbn: str  # the title of the one-title release and of every request
    package_seconds: float
    serving: str  # the deployed model the latency was measured on
    latency: dict[str, list[float]]  # seconds per request: "router", "direct"
    new: Deploy
    back: Deploy
    undo: Rollback


def measure(folder: Path, requests: int) -> Results:
    """Every measurement, with `folder` as the working directory."""
    print(f"Project folder {folder}; `shelfcast run`...", flush=True)
    cold = shelfcast_run(folder, 1)
    print(f"  {fmt_seconds(cold.seconds)}; `shelfcast run` again...", flush=True)
    again = shelfcast_run(folder, 2)
    print(f"  {fmt_seconds(again.seconds)}", flush=True)

    from shelfcast.endpoints.backends import backend_for
    from shelfcast.packaging import package
    from shelfcast.releases import read_release
    from shelfcast.settings import load_settings

    settings = load_settings()
    backend = backend_for(settings)
    endpoint = backend.describe(ENDPOINT)
    serving = endpoint.serving()
    assert serving is not None and serving.url is not None and endpoint.url is not None
    full = read_release(serving.release_uri)
    isbn = next(
        (i for i in settings.selection.default_test_isbns if i in {m.isbn for m in full.models}),
        full.models[0].isbn,
    )
    body = request_body(isbn)
    direct = json.loads(Client(serving.url).predict(body)[1])["deployedModelId"]
    if direct != serving.id:
        raise SystemExit(f"{serving.url} answers as {direct}, expected {serving.id}")

    print(f"Router vs {serving.id} directly: {requests} requests each...", flush=True)
    seconds = latencies(endpoint.url, serving.url, body, requests)

    packaged = package(settings, [isbn])
    one = packaged.release
    if one.release_id == full.release_id:
        raise SystemExit(f"the one-title release is the full release {full.release_id}")
    print(f"Deploying the one-title release {one.release_id}...", flush=True)
    new = timed_deploy(backend, one)
    router_answers_from(endpoint.url, body, new.deployed_model_id)
    print(f"  {fmt_seconds(new.seconds)}; the full release {full.release_id} back...", flush=True)
    back = timed_deploy(backend, full)
    router_answers_from(endpoint.url, body, back.deployed_model_id)
    print(f"  {fmt_seconds(back.seconds)}; rollback...", flush=True)
    undo = timed_rollback(backend, endpoint.url, body)
    if undo.deployed_model_id != new.deployed_model_id:
        raise SystemExit(f"rolled back to {undo.deployed_model_id}, not {new.deployed_model_id}")
    return Results(
        cold, again, full, one, isbn, packaged.seconds, serving.id, seconds, new, back, undo
    )


def tables(r: Results, load: tuple[float, float]) -> tuple[Table, Table]:
    """The lifecycle table with its targets, and the router's latency side by side."""
    titles = len(r.full.models)
    load_note = (
        f"Load average (1 min) {load[0]:.1f} before, {load[1]:.1f} after, on "
        f"{os.cpu_count()} cores: other work on the machine slows every figure."
    )
    requests = len(r.latency["router"])
    router, straight = (statistics.quantiles(r.latency[k], n=100) for k in ("router", "direct"))
    mean_router, mean_direct = (statistics.fmean(r.latency[k]) for k in ("router", "direct"))

    lifecycle = Table(
        title=f"A local endpoint on the sample catalogue ({titles} titles), {os.cpu_count()} cores",
        columns=["step", "what is timed", "time", "target"],
        right_align_from=2,
    )
    lifecycle.add(
        "`shelfcast run`, new project folder",
        "the console script in a fresh process: sample catalogue, training, registry, "
        "release, deploy, sample forecast",
        *timed(r.cold.seconds, RUN_TARGET_S),
    )
    lifecycle.add(
        "`shelfcast run` again, same folder",
        "the same; training from ZenML's cache, the same release, the endpoint as it was",
        *timed(r.again.seconds, RERUN_TARGET_S),
    )
    lifecycle.add(
        "deploy a new release (1 title)",
        "`deploy_release` in this process: start a server, health, smoke test, traffic, clean-up",
        *timed(r.new.seconds, DEPLOY_TARGET_S),
    )
    lifecycle.add(
        f"deploy the full release back ({titles} titles)",
        "the same, a new deployed model; clean-up stops the oldest one",
        *timed(r.back.seconds, DEPLOY_TARGET_S),
    )
    lifecycle.add(
        "rollback to the previous deployed model",
        "from calling `rollback` to the router's first answer from that model",
        *timed(r.undo.answered, ROLLBACK_TARGET_S),
    )
    for label, q in (("p50", 49), ("p99", 98)):
        lifecycle.add(
            f"router's added latency, {label}",
            f"router minus straight to the deployed model, {requests:,} requests each",
            f"+{ms(router[q] - straight[q])} ({router[q] / straight[q]:.1f}x)",
            "reported",
        )
    lifecycle.notes = [
        f"`shelfcast run` splits its time as {r.cold.stages or '?'} s (first run) and "
        f"{r.again.stages or '?'} s (second run); the rest is starting Python, importing "
        "and the sample forecast. The sample catalogue is written by the first run and "
        "counted; the project folder starts empty, the environment's own files (bytecode) "
        "are as after installation.",
        f"Full release {r.full.release_id} ({titles} titles); the new release "
        f"{r.one.release_id} holds {r.isbn} alone (`packaging.package` with that ISBN, "
        f"{r.package_seconds:.1f} s, not timed).",
        deploy_note("1-title deploy", r.new),
        deploy_note(f"{titles}-title deploy", r.back),
        f"Rollback to {r.undo.deployed_model_id}: `rollback` returned after "
        f"{fmt_seconds(r.undo.returned)}; {r.undo.stale} answer(s) from the other model "
        "before the first from it (the router re-reads the traffic split on every request).",
        load_note,
        machine_line("zenml", "mlflow", "fastapi", "uvicorn", "httpx"),
    ]

    latency = Table(
        title=f"The router's added latency: {requests:,} sequential 32-week forecasts "
        f"(80/95%) of {r.isbn}",
        columns=["path", "p50", "p99", "mean"],
    )
    latency.add("through the router", ms(router[49]), ms(router[98]), ms(mean_router))
    latency.add(f"straight to {r.serving}", ms(straight[49]), ms(straight[98]), ms(mean_direct))
    latency.add(
        "**added by the router**",
        ms(router[49] - straight[49]),
        ms(router[98] - straight[98]),
        ms(mean_router - mean_direct),
    )
    latency.add(
        "router / straight",
        f"{router[49] / straight[49]:.1f}x",
        f"{router[98] / straight[98]:.1f}x",
        f"{mean_router / mean_direct:.1f}x",
    )
    latency.notes = [
        "One client in this process, one kept-alive connection per path (http.client), "
        f"requests taken in turn (router, then straight), {WARM_UP} per path first untimed; "
        "from sending the request to reading the whole answer.",
        "The server answers repeats from its forecast cache, so these are the costs of HTTP "
        f"and routing, not of forecasting; served by {r.serving} ({r.full.release_id}).",
        load_note,
    ]
    return lifecycle, latency


def deploy_note(label: str, deploy: Deploy) -> str:
    return (
        f"{label} ({deploy.deployed_model_id}): healthy after {deploy.healthy:.1f} s, smoke "
        f"test passed after {deploy.smoked:.1f} s, returned after {deploy.seconds:.1f} s."
    )


def timed(seconds: float, target: float) -> tuple[str, str]:
    """The time cell (bold when the target is met) and the target cell."""
    met = seconds <= target
    shown = f"**{fmt_seconds(seconds)}**" if met else fmt_seconds(seconds)
    return shown, f"{fmt_seconds(target)} {'met' if met else 'missed'}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def stop_endpoint(folder: Path) -> None:
    """`shelfcast endpoints stop` in `folder`, if an endpoint was made there."""
    if not (folder / ".shelfcast" / "endpoints").exists():
        return
    out = subprocess.run(
        [str(SHELFCAST), "endpoints", "stop", ENDPOINT],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        sys.stderr.write(out.stdout[-2000:] + out.stderr[-2000:])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__[__doc__.index("Examples:") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=2000, help="timed requests per path (2000)")
    parser.add_argument(
        "--keep", action="store_true", help="keep the project folder (and the runs' logs)"
    )
    parser.add_argument("--markdown", type=Path, help="also write both tables to this file")
    args = parser.parse_args()
    _common.exit_on_sigterm()
    clean_environment()
    folder = Path(tempfile.mkdtemp(prefix="shelfcast-endpoints-bench-")).resolve()
    load_before = os.getloadavg()[0]
    try:
        with contextlib.chdir(folder):
            results = measure(folder, args.requests)
    finally:
        stop_endpoint(folder)
        if args.keep:
            print(f"Kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    done = tables(results, (load_before, os.getloadavg()[0]))
    for table in done:
        table.print()
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(t.to_markdown() for t in done) + "\n")


if __name__ == "__main__":
    main()
