"""A prediction server process for tests: `python -m shelfcast.serving` on a free
127.0.0.1 port, plain HTTP calls to it, and waiting for its health."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    log: Path
    started: float
    health_route: str = "/health"

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url: str, body: bytes | None = None, headers: dict | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def running(
    release_uri: str, tmp_path: Path, variables: dict[str, str] | None = None
) -> Iterator[Server]:
    """`python -m shelfcast.serving` on a free port, as Vertex AI starts it (AIP_* variables,
    `variables` on top); its project folder, and so its prediction log, under `tmp_path`."""
    port = free_port()
    env = {
        **os.environ,
        "AIP_HTTP_PORT": str(port),
        "AIP_STORAGE_URI": release_uri,
        "SHELFCAST_HOME": str(tmp_path / "home"),
        **(variables or {}),
    }
    for name in ("SHELFCAST_SERVER_TOKEN", "SHELFCAST_SERVING__SERVER_TOKEN"):
        env.pop(name, None)
    log = tmp_path / f"server-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shelfcast.serving"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    health = env.get("AIP_HEALTH_ROUTE", "/health")
    server = Server(f"http://127.0.0.1:{port}", process, log, time.monotonic(), health)
    try:
        yield server
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen, timeout: float = 20.0) -> None:
    """End a process started in its own session and the workers it started (its process
    group): SIGTERM, then SIGKILL after `timeout` seconds."""
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def health_until(server: Server, done, timeout: float = 60.0) -> tuple[int, dict, list[int]]:
    """Poll health until `done(status, body)`; every status seen on the way."""
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"server exited ({server.process.returncode}):\n{server.log_text()}")
        try:
            status, body = call(server.url + server.health_route)
        except (urllib.error.URLError, OSError):
            time.sleep(0.05)
            continue
        seen.append(status)
        if done(status, json.loads(body)):
            return status, json.loads(body), seen
        time.sleep(0.05)
    pytest.fail(f"health did not settle in {timeout} s:\n{server.log_text()}")


def wait_ready(
    process: subprocess.Popen,
    ready: Callable[[], bool],
    log: Path,
    what: str,
    timeout: float,
    step: float = 0.2,
) -> None:
    """Poll `ready()` until it holds; the test fails with the log's last lines if `process`
    exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not ready():
        if process.poll() is not None:
            pytest.fail(f"{what} exited ({process.returncode}):\n{log_tail(log)}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready after {timeout:.0f} s:\n{log_tail(log)}")
        time.sleep(step)


def log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
