"""Faults of a local endpoint under load: killed and hung replicas, a killed router, deploys,
an unwritable prediction log, and a soak.

In a new temporary project folder, the seed title's release (`serving.build_release`: the
sample catalogue, one fit, registered, packaged) and three more versions of it are deployed
to the local endpoint `book-sales` on 127.0.0.1: a router in front of two replicas per
deployed model (`endpoints.min_replicas`). The router's saturation is measured first
(`--clients` clients back to back for 5 s); then the same clients post 32-week forecasts at
`--load-share` of it (paced, each on a kept-alive connection, reconnecting after a failure)
while, one case after the other:

1. one replica of the serving model gets SIGKILL;
2. every replica of every deployed model gets SIGKILL;
3. the router gets SIGKILL, and `shelfcast endpoints describe book-sales` runs 1 s later;
4. one replica gets SIGSTOP (hung: the router kills and replaces it);
5. a deploy of a new release (the previous one kept for rollback, the one before undeployed);
6. a canary of 10% for another release, then `promote`;
7. a rollback;
8. the prediction-log folder made read-only for 10 s (as root, whom permissions do not stop,
   the folder and its files are made immutable with `chattr +i`);
9. a soak at 70% of saturation for `--soak-seconds` (600), the resident memory of the
   router and every replica sampled every 5 s.

Per case: requests sent, failed (not a 200, or no answer), the failure window (first to
last failure), and the recovery time: for a fault, from it to the replacement replica's
health (or the endpoint's next answer); for a change, the time the change took. Targets: one
of two replicas killed, 0 failed and back within 5 s; every replica killed, answering again
within 10 s with no one acting; deploy, canary, promote and rollback, 0 failed; soak, 0
failed and resident memory growing < 10% after the first minute.

Examples:
    .venv/bin/python benchmarks/faults.py --soak-seconds 60   # about 3 minutes
    .venv/bin/python benchmarks/faults.py                     # about 12 minutes
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import REPO, Table, fmt_seconds, load_note, machine_line
from serving import NAME, _encoded, _event_loop, _rss_mb, build_release, shelfcast_body

ENDPOINT = "book-sales"
PEER_ENDPOINT = "book-sales-single"  # one replica a model: the peer of the kill
SHELFCAST = Path(sys.executable).parent / "shelfcast"
KILL_ONE_TARGET_S, KILL_ALL_TARGET_S, RSS_GROWTH_TARGET = 5.0, 10.0, 0.10
SATURATION_SECONDS = 5.0
CALM_SECONDS = 3.0  # load before and after each fault
ROUTER_COMMAND_AFTER = 1.0  # seconds from killing the router to `endpoints describe`
READ_ONLY_SECONDS = 10.0
RSS_EVERY, SOAK_WARM = 5.0, 60.0  # seconds between samples; growth is counted after this
RECOVERY_TIMEOUT = 120.0
REQUEST_TIMEOUT = 30.0


# ---------------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Outcome:
    sent: float  # perf_counter() when the request was sent (or the connection tried)
    done: float
    ok: bool


@dataclass
class Load:
    """`clients` clients posting to the router in a thread of their own, paced to `rate`
    requests/s in all (back to back when None), until `stop()`; every outcome kept."""

    port: int
    clients: int
    rate: float | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    _stopping: bool = False

    def __post_init__(self) -> None:
        self.request = _encoded(self.port, "/predict", shelfcast_body())
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> list[Outcome]:
        self._stopping = True
        self._thread.join()
        return self.outcomes

    def between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in list(self.outcomes) if start <= o.sent < end]

    def _run(self) -> None:
        async def clients() -> None:
            await asyncio.gather(*(self._client() for _ in range(self.clients)))

        _event_loop().run_until_complete(clients())  # one load at a time, so one loop

    async def _client(self) -> None:
        interval = self.clients / self.rate if self.rate else 0.0
        next_at = time.perf_counter()
        while not self._stopping:
            sent = time.perf_counter()
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                self.outcomes.append(Outcome(sent, time.perf_counter(), False))
                await asyncio.sleep(0.05)
                continue
            try:
                while not self._stopping:
                    if interval:
                        next_at = max(next_at + interval, time.perf_counter() - interval)
                        await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                    sent = time.perf_counter()
                    writer.write(self.request)
                    head = await asyncio.wait_for(_answer(reader), REQUEST_TIMEOUT)
                    self.outcomes.append(Outcome(sent, time.perf_counter(), head[9:12] == b"200"))
            # RuntimeError: uvloop's write to a connection the other end closed
            except (OSError, asyncio.IncompleteReadError, ValueError, TimeoutError, RuntimeError):
                self.outcomes.append(Outcome(sent, time.perf_counter(), False))
            finally:
                writer.close()


async def _answer(reader: asyncio.StreamReader) -> bytes:
    """Read one HTTP answer (content-length framed, as the router answers); its head."""
    head = await reader.readuntil(b"\r\n\r\n")
    lower = head.lower()
    at = lower.find(b"content-length:")
    await reader.readexactly(int(lower[at + 15 : lower.find(b"\r\n", at)]))
    return head


def saturation(port: int, clients: int) -> float:
    """Requests/s through the router with `clients` clients back to back."""
    load = Load(port, clients)
    time.sleep(SATURATION_SECONDS)
    done = [o for o in load.stop() if o.ok]
    return len(done) / SATURATION_SECONDS


# ---------------------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    sent: int = 0
    failed: int = 0
    window: float | None = None  # first to last failure, seconds
    recovery: float | None = None
    recovery_what: str = ""
    target: str = ""
    met: bool | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Bench:
    backend: Any
    load: Load
    settings: Any
    endpoint: str = ENDPOINT
    cases: list[Case] = field(default_factory=list)

    @contextlib.contextmanager
    def case(self, name: str) -> Iterator[Case]:
        """Calm load, the case's action, calm load; the outcomes in between are counted."""
        case = Case(name)
        print(f"{name}...", flush=True)
        start = time.perf_counter()
        time.sleep(CALM_SECONDS)
        yield case
        time.sleep(CALM_SECONDS)
        outcomes = self.load.between(start, time.perf_counter())
        failures = [o for o in outcomes if not o.ok]
        case.sent, case.failed = len(outcomes), len(failures)
        if failures:
            case.window = max(o.done for o in failures) - min(o.sent for o in failures)
        self.cases.append(case)
        print(f"  {case.sent} sent, {case.failed} failed", flush=True)

    def serving(self) -> Any:
        model = self.backend.describe(self.endpoint).serving()
        assert model is not None
        return model

    def replicas(self) -> list[tuple[str, int, int]]:
        """(deployed model, pid, port) of every recorded running replica."""
        record = self.backend.store.read(self.endpoint)
        return [(m.id, r.pid, r.port) for m in record.models for r in m.replicas if r.pid]

    def healthy_without(self, gone: set[int], since: float) -> float:
        """Seconds from `since` until every deployed model is healthy with none of `gone`."""
        from shelfcast.endpoints.base import HEALTHY

        deadline = since + RECOVERY_TIMEOUT
        while time.perf_counter() < deadline:
            live = {pid for _, pid, _ in self.replicas()}
            endpoint = self.backend.describe(self.endpoint)
            if not gone & live and all(m.state == HEALTHY for m in endpoint.deployed_models):
                return time.perf_counter() - since
            time.sleep(0.05)
        raise SystemExit(f"the endpoint was not healthy again after {RECOVERY_TIMEOUT:g} s")

    def answered_after(self, since: float) -> float:
        """Seconds from `since` to the first answer sent after the last failure."""
        deadline = since + RECOVERY_TIMEOUT
        while time.perf_counter() < deadline:
            after = self.load.between(since, time.perf_counter())
            failures = [o.sent for o in after if not o.ok]
            answers = [o.done for o in after if o.ok and o.sent > max(failures, default=since)]
            if answers:
                return min(answers) - since
            time.sleep(0.05)
        raise SystemExit(f"the endpoint did not answer after {RECOVERY_TIMEOUT:g} s")


def kill_one(bench: Bench, name: str = "kill -9 of one of two replicas") -> None:
    peer = bench.endpoint == PEER_ENDPOINT
    with bench.case(name) as case:
        model = bench.serving()
        pid = next(p for m, p, _ in bench.replicas() if m == model.id)
        started = time.perf_counter()
        os.kill(pid, signal.SIGKILL)
        case.recovery = bench.healthy_without({pid}, started)
        case.recovery_what = "new replica healthy"
        case.target = "reported (the peer)" if peer else "0 failed, back within 5 s"
    if not peer:
        case.met = case.failed == 0 and case.recovery <= KILL_ONE_TARGET_S


def single_replica_peer(settings: Any, release: Any, clients: int, rate: float) -> Case:
    """The same kill on an endpoint of one replica a model (`min_replicas` 1), same load."""
    from shelfcast.endpoints.local import LocalBackend
    from shelfcast.endpoints.rollout import deploy_release

    single = settings.model_copy(
        update={"endpoints": settings.endpoints.model_copy(update={"min_replicas": 1})}
    )
    backend = LocalBackend(single)
    endpoint = deploy_release(backend, PEER_ENDPOINT, release).endpoint
    load = Load(int((endpoint.url or "").rsplit(":", 1)[1]), clients, rate)
    bench = Bench(backend, load, single, PEER_ENDPOINT)
    try:
        kill_one(bench, "peer: kill -9 of the only replica (`min_replicas` 1)")
    finally:
        load.stop()
        backend.stop(PEER_ENDPOINT)
    return bench.cases[0]


def kill_all(bench: Bench) -> None:
    with bench.case("kill -9 of every replica") as case:
        pids = {p for _, p, _ in bench.replicas()}
        started = time.perf_counter()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        case.recovery = bench.answered_after(started)
        case.recovery_what = "next answer"
        case.notes.append(
            f"{len(pids)} replicas; every model healthy again after "
            f"{fmt_seconds(bench.healthy_without(pids, started))}"
        )
        case.target = "answering within 10 s, no one acting"
    case.met = case.recovery <= KILL_ALL_TARGET_S


def kill_router(bench: Bench) -> None:
    with bench.case("kill -9 of the router") as case:
        record = bench.backend.store.read(bench.endpoint)
        before = sorted(p for _, p, _ in bench.replicas())
        started = time.perf_counter()
        os.kill(record.router_pid, signal.SIGKILL)
        time.sleep(ROUTER_COMMAND_AFTER)
        command = time.perf_counter()
        out = shelfcast("endpoints", "describe", ENDPOINT, home=bench.settings.home)
        case.notes.append(
            f"`endpoints describe` {ROUTER_COMMAND_AFTER:g} s after the kill "
            f"took {fmt_seconds(time.perf_counter() - command)}"
        )
        if out.returncode != 0:
            raise SystemExit(f"`endpoints describe` failed: {out.stdout[-2000:]}{out.stderr}")
        case.recovery = bench.answered_after(started)
        case.recovery_what = "next answer"
        after = sorted(p for _, p, _ in bench.replicas())
        case.notes.append(f"replicas adopted, not restarted: {after == before}")
        case.target = "back with the next endpoints command"
    case.met = after == before


def hang_one(bench: Bench) -> None:
    with bench.case("SIGSTOP of one replica") as case:
        model = bench.serving()
        pid = next(p for m, p, _ in bench.replicas() if m == model.id)
        started = time.perf_counter()
        os.kill(pid, signal.SIGSTOP)
        try:
            case.recovery = bench.healthy_without({pid}, started)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        case.recovery_what = "replacement healthy"
        case.target = "0 failed"
    case.met = case.failed == 0


def change(bench: Bench, name: str, step: Callable[[], Any]) -> None:
    with bench.case(name) as case:
        started = time.perf_counter()
        step()
        case.recovery = time.perf_counter() - started
        case.recovery_what = "the change"
        case.target = "0 failed"
    case.met = case.failed == 0


def read_only_log(bench: Bench) -> None:
    from shelfcast.serving.prediction_log import prediction_log_path

    folder = prediction_log_path(bench.settings)
    with bench.case("prediction-log folder read-only") as case, unwritable(folder) as how:
        time.sleep(READ_ONLY_SECONDS)
        case.notes.append(f"{folder.name}/ made unwritable for {READ_ONLY_SECONDS:g} s ({how})")
        case.target = "0 failed"
    case.met = case.failed == 0


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[str]:
    """`folder` and its files read-only: by mode, and made immutable when that does not stop
    writes (root)."""
    paths = [folder, *folder.iterdir()]
    modes = {p: p.stat().st_mode for p in paths}
    for path in paths:
        path.chmod(0o555 if path.is_dir() else 0o444)
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        how = "chmod a-w"
    else:
        probe.unlink()
        subprocess.run(["chattr", "+i", *map(str, paths)], check=True)
        how = "chmod a-w and chattr +i, as root"
    try:
        yield how
    finally:
        if how.endswith("root"):
            subprocess.run(["chattr", "-i", *map(str, paths)], check=True)
        for path, mode in modes.items():
            path.chmod(mode)


def soak(bench: Bench, port: int, clients: int, rate: float, seconds: float) -> Case:
    print(f"Soak at {rate:.0f} requests/s for {seconds:g} s...", flush=True)
    pids = [
        bench.backend.store.read(bench.endpoint).router_pid,
        *(p for _, p, _ in bench.replicas()),
    ]
    load = Load(port, clients, rate)
    started = time.perf_counter()
    samples: list[tuple[float, float]] = []
    while (now := time.perf_counter()) - started < seconds:
        samples.append((now - started, sum(_rss_mb(p) or 0.0 for p in pids)))
        time.sleep(min(RSS_EVERY, max(0.0, seconds - (now - started))))
    outcomes = load.stop()
    failures = [o for o in outcomes if not o.ok]
    base = next((mb for t, mb in samples if t >= min(SOAK_WARM, seconds / 2)), samples[0][1])
    growth = (samples[-1][1] - base) / base
    case = Case(f"soak, {seconds:g} s at 70% of saturation", len(outcomes), len(failures))
    if failures:
        case.window = max(o.done for o in failures) - min(o.sent for o in failures)
    case.notes.append(
        f"resident memory of the router and {len(pids) - 1} replicas: {base:.0f} MB after "
        f"{min(SOAK_WARM, seconds / 2):g} s, {samples[-1][1]:.0f} MB at the end "
        f"({growth:+.1%}); {len(outcomes) / seconds:.0f} requests/s"
    )
    case.recovery_what = f"RSS growth {growth:+.1%}"
    case.target = "0 failed, RSS growth < 10%"
    case.met = not failures and growth < RSS_GROWTH_TARGET
    return case


# ---------------------------------------------------------------------------------- setup


def shelfcast(*args: str, home: Path) -> subprocess.CompletedProcess[str]:
    """The `shelfcast` command in a fresh process, on this checkout's source."""
    env = os.environ | {
        "SHELFCAST_HOME": str(home),
        "PYTHONPATH": str(REPO / "src"),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [str(SHELFCAST), *args], env=env, capture_output=True, text=True, check=False
    )


def releases(settings: Any, first: Any, bundle: Any) -> list[Any]:
    """`first` and three more releases of the same bundle as model versions 2 to 4."""
    from shelfcast.releases import ModelFiles, publish
    from shelfcast.storage import ArtifactStore

    store = ArtifactStore(settings.artifact_uri)
    more = [
        publish(store, [ModelFiles(NAME, str(v), bundle.to_files())]).release for v in (2, 3, 4)
    ]
    return [first, *more]


def run(work: Path, args: argparse.Namespace) -> tuple[list[Case], float, float]:
    from shelfcast.endpoints.local import LocalBackend
    from shelfcast.endpoints.rollout import deploy_release, promote, rollback

    print("Building the releases...", flush=True)
    settings, first, bundle, _ = build_release(work)
    os.environ["SHELFCAST_HOME"] = str(settings.home)
    backend = LocalBackend(settings)
    one, two, three, four = releases(settings, first, bundle)
    deploy_release(backend, ENDPOINT, one)
    endpoint = deploy_release(backend, ENDPOINT, two).endpoint
    port = int((endpoint.url or "").rsplit(":", 1)[1])
    try:
        saturated = saturation(port, args.clients)
        print(f"Saturation: {saturated:.0f} requests/s with {args.clients} clients", flush=True)
        load = Load(port, args.clients, saturated * args.load_share)
        bench = Bench(backend, load, settings)
        kill_one(bench)
        kill_all(bench)
        kill_router(bench)
        hang_one(bench)
        change(bench, "deploy under load", lambda: deploy_release(backend, ENDPOINT, three))
        change(
            bench,
            "canary 10% under load, then promote",
            lambda: (
                deploy_release(backend, ENDPOINT, four, canary=10),
                promote(backend, ENDPOINT),
            ),
        )
        change(bench, "rollback under load", lambda: rollback(backend, ENDPOINT))
        read_only_log(bench)
        load.stop()
        bench.cases.insert(1, single_replica_peer(settings, two, args.clients, load.rate or 0.0))
        bench.cases.append(soak(bench, port, args.clients, saturated * 0.7, args.soak_seconds))
    finally:
        backend.stop(ENDPOINT)
    return bench.cases, saturated, saturated * args.load_share


def table(
    cases: list[Case], saturated: float, rate: float, args: argparse.Namespace, load: str
) -> Table:
    out = Table(
        title=f"Faults of a local endpoint (2 replicas a model) under load, {os.cpu_count()} cores",
        columns=["case", "sent", "failed", "failure window", "recovery", "target"],
    )
    for c in cases:
        verdict = "" if c.met is None else " met" if c.met else " **missed**"
        recovery = fmt_seconds(c.recovery) if c.recovery is not None else ""
        shown = f"{recovery} ({c.recovery_what})" if recovery else c.recovery_what
        out.add(
            c.name,
            f"{c.sent:,}",
            f"{c.failed:,}",
            fmt_seconds(c.window) if c.window else "-",
            shown,
            c.target + verdict,
        )
    out.notes = [
        f"{args.clients} clients through the router at {rate:.0f} requests/s "
        f"({args.load_share:.0%} of the {saturated:.0f} requests/s measured back to back); "
        f"{CALM_SECONDS:g} s of load before and after each fault, counted in its row.",
        *(f"{c.name}: {n}" for c in cases for n in c.notes),
        load,
        machine_line("fastapi", "uvicorn", "httpx"),
    ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__[__doc__.index("Examples:") :],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients (4)")
    parser.add_argument(
        "--load-share", type=float, default=0.5, help="share of saturation during the faults (0.5)"
    )
    parser.add_argument("--soak-seconds", type=float, default=600.0, help="soak length (600)")
    parser.add_argument("--keep", action="store_true", help="keep the project folder")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    _common.exit_on_sigterm()
    work = Path(tempfile.mkdtemp(prefix="shelfcast-faults-bench-")).resolve()
    before = load_note()
    try:
        cases, saturated, rate = run(work, args)
    finally:
        if args.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    table(cases, saturated, rate, args, f"{before}; {load_note().split(': ', 1)[1]} after.").print(
        args.markdown
    )


if __name__ == "__main__":
    main()
