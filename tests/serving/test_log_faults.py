"""A prediction log that cannot be written never stops a real server (uvicorn on a free port)
from answering: the records are counted in /metrics, one error is logged, and the log
resumes by itself once its folder can be written again.

Faults are real: a log folder whose parent is a file, a read-only folder (chmod, or as root,
where chmod does not stop writes, a read-only tmpfs), a full filesystem (a small tmpfs, which
needs root and the right to mount: skipped elsewhere, where `test_log_rotation.py`'s failed
write stands in for it) and a folder deleted under the running server."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from support.releases import ISBN_A
from support.servers import Server, call, health_until, running

from shelfcast.monitoring.prediction_log import read_predictions

pytestmark = pytest.mark.integration

ROOT = os.geteuid() == 0
FAILING = "cannot be written"
RECOVERED = "is written again"
BODY = json.dumps({"instances": [{"isbn": ISBN_A, "horizon": 4}]}).encode()


def log_folder(tmp_path: Path) -> Path:
    return tmp_path / "home" / "monitoring" / "predictions"


def metric(server: Server, name: str) -> float:
    status, text = call(server.url + "/metrics")
    assert status == 200
    match = re.search(rf"^{re.escape(name)} (\S+)$", text.decode(), re.MULTILINE)
    assert match, f"{name} not in /metrics"
    return float(match[1])


DROPPED = 'shelfcast_prediction_log_dropped_total{reason="write_failed"}'
WRITTEN = "shelfcast_prediction_log_written_total"
WRITABLE = "shelfcast_prediction_log_writable"


def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")
        time.sleep(0.05)


def answer_while_failing(server: Server, requests: int = 3) -> None:
    """Predictions answered 200, each logged in a batch of its own, all dropped and counted."""
    for n in range(1, requests + 1):
        status, _ = call(server.url + "/predict", BODY)
        assert status == 200
        until(lambda n=n: metric(server, DROPPED) >= n, f"{n} record(s) counted as dropped")
    assert metric(server, WRITABLE) == 0 and metric(server, WRITTEN) == 0


def answer_after_recovery(server: Server, folder: Path) -> None:
    """The next prediction is written: the log came back by itself, and said so once."""
    dropped = metric(server, DROPPED)
    status, _ = call(server.url + "/predict", BODY)
    assert status == 200
    until(lambda: metric(server, WRITTEN) >= 1, "a record written after the fault")
    assert metric(server, WRITABLE) == 1 and metric(server, DROPPED) == dropped
    frame = read_predictions(folder)
    assert len(frame) == 1 and frame["status"].tolist() == [200]
    text = server.log_text()
    assert text.count(FAILING) == 1, text
    assert text.count(RECOVERED) == 1, text


@contextlib.contextmanager
def serving(tmp_path: Path, release) -> Iterator[Server]:
    with running(release.uri, tmp_path) as server:
        health_until(server, lambda status, body: status == 200)
        yield server


@contextlib.contextmanager
def tmpfs(folder: Path, options: str) -> Iterator[None]:
    """A tmpfs mounted at `folder`; the test is skipped where mounting is not allowed."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def remount(folder: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(folder)], check=True)


def test_a_log_folder_under_a_file_drops_and_counts_until_the_file_goes(tmp_path, release):
    blocker = tmp_path / "home" / "monitoring"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the monitoring folder should be")
    with serving(tmp_path, release) as server:
        answer_while_failing(server)
        blocker.unlink()
        answer_after_recovery(server, log_folder(tmp_path))


def test_a_read_only_log_folder_drops_and_counts_until_it_is_writable(tmp_path, release):
    folder = log_folder(tmp_path)
    with contextlib.ExitStack() as stack:
        if ROOT:  # chmod does not stop root: a read-only filesystem does
            stack.enter_context(tmpfs(folder, "ro,size=1m"))
        else:
            folder.mkdir(parents=True)
            folder.chmod(0o555)
            stack.callback(folder.chmod, 0o755)
        with serving(tmp_path, release) as server:
            answer_while_failing(server)
            if ROOT:
                remount(folder, "rw")
            else:
                folder.chmod(0o755)
            answer_after_recovery(server, folder)


@pytest.mark.skipif(not ROOT, reason="mounting a small filesystem needs root")
def test_a_full_disk_drops_and_counts_until_there_is_room(tmp_path, release):
    folder = log_folder(tmp_path)
    with tmpfs(folder, "size=64k"), serving(tmp_path, release) as server:
        filler = folder / "filler"
        with open(filler, "wb", buffering=0) as out:
            while True:  # until the filesystem is full
                try:
                    out.write(b"\0" * 4096)
                except OSError:
                    break
        answer_while_failing(server)
        filler.unlink()
        answer_after_recovery(server, folder)


def test_a_log_folder_deleted_under_the_server_is_made_again(tmp_path, release):
    folder = log_folder(tmp_path)
    with serving(tmp_path, release) as server:
        assert call(server.url + "/predict", BODY)[0] == 200
        until(lambda: metric(server, WRITTEN) >= 1, "the first record written")
        shutil.rmtree(folder)
        assert call(server.url + "/predict", BODY)[0] == 200
        until(lambda: metric(server, WRITTEN) >= 2, "a record written after the deletion")
        assert len(read_predictions(folder)) == 1  # the new folder holds the second record
        assert metric(server, DROPPED) == 0 and metric(server, WRITABLE) == 1
        assert FAILING not in server.log_text()
