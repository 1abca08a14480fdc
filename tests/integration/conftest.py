"""Real servers for the integration tests, started once per test session on 127.0.0.1.

`mlflow_server`: `mlflow server` with a SQLite backend and proxied artifacts (`--serve-artifacts`)
in a temporary folder, one worker; it yields the tracking URI (http://127.0.0.1:<port>).
Starting takes 16-40 s on two cores; the fixture waits for /health up to MLFLOW_SERVER_TIMEOUT
seconds (default 180) and fails with the server's log if it exits or never answers.
"""

import contextlib
import os
import socket
import sqlite3
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from support.servers import stop_group, wait_ready

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("mlflow-server")
    # WAL makes the server's SQLite commits one fsync (the server creates its tables in it).
    with contextlib.closing(sqlite3.connect(root / "mlflow.db")) as db:
        db.execute("PRAGMA journal_mode=WAL")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--serve-artifacts",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    log_path = root / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with every worker
        )
    try:
        timeout = float(os.environ.get("MLFLOW_SERVER_TIMEOUT", "180"))
        wait_ready(process, lambda: healthy(url), log_path, f"mlflow server at {url}", timeout, 0.5)
        yield url
    finally:
        stop_group(process)
