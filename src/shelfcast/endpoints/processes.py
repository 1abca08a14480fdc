"""Detached server processes on 127.0.0.1: free ports, starting, checking and stopping them.

A process is started in its own session, so that it outlives the command that started it,
and is known afterwards by its pid and the port on its command line: a pid whose command
line no longer names that port (the process ended and the pid was reused, or it is a
zombie) is not running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

HOST = "127.0.0.1"
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL
_PROC = Path("/proc")

# Processes started by this interpreter, polled so that ended ones are reaped, not zombies.
_children: dict[int, subprocess.Popen[bytes]] = {}


def free_port(avoid: Sequence[int] = ()) -> int:
    """A port on 127.0.0.1 that is free now and not in `avoid`."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def port_or_free(port: int, avoid: Sequence[int] = ()) -> int:
    """`port` if a server could bind it now, else a free port not in `avoid`."""
    return port if port_free(port) else free_port(avoid)


def server_command(release_uri: str, port: int) -> list[str]:
    """The prediction server serving `release_uri` on 127.0.0.1:`port`."""
    return [
        sys.executable,
        *("-m", "shelfcast.serving", "--release", release_uri),
        *("--host", HOST, "--port", str(port)),
    ]


def signal_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group of `pid` (its session), if it still exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def port_free(port: int) -> bool:
    """Whether a server could bind `port` on 127.0.0.1 now (as uvicorn does, reusing TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def spawn(command: Sequence[str], env: Mapping[str, str], log: Path) -> int:
    """Start `command` detached (own session), output appended to `log`; its pid."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        process = subprocess.Popen(
            list(command),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            start_new_session=True,
        )
    _children[process.pid] = process
    return process.pid


def running(pid: int | None, port: int | None) -> bool:
    """Whether `pid` is a live process whose command line names `port`."""
    if pid is None or port is None:
        return False
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        del _children[pid]
        return False
    cmdline = _PROC / str(pid) / "cmdline"
    if cmdline.parent.exists():
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            return False
        return str(port).encode() in words
    try:
        os.kill(pid, 0)  # no /proc: trust the pid alone
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def terminate(
    processes: Sequence[tuple[int | None, int | None]], timeout: float = STOP_TIMEOUT
) -> None:
    """Stop each running (pid, port) process and its group: SIGTERM, then SIGKILL after
    `timeout` seconds. Returns once none of them runs."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        alive = [(pid, port) for pid, port in processes if pid and running(pid, port)]
        for pid, _ in alive:
            signal_group(pid, sig)
        deadline = time.monotonic() + wait
        while alive and time.monotonic() < deadline:
            time.sleep(0.02)
            alive = [(pid, port) for pid, port in alive if running(pid, port)]
        if not alive:
            return


def log_tail(log: Path, lines: int = 5) -> str:
    """The last lines of a log file, or '' when there is none."""
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])
