"""The prediction log's files on disk: rotation by size and age, retention by age and count,
and readers that see every record across the open and rotated files, even mid-rotation."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from pathlib import Path

import pytest

from shelfcast.monitoring.prediction_log import read_predictions
from shelfcast.serving import log_files
from shelfcast.serving.log_files import (
    DAY,
    LogWriter,
    Rotation,
    open_path,
    rotated_path,
)
from shelfcast.serving.prediction_log import PredictionLog

REQUEST = {"instances": [{"isbn": "9780722532935", "horizon": 2}], "parameters": {}}
RESPONSE = {"predictions": [{"model_name": "arima_book_9780722532935", "model_version": "3"}]}
NEVER = 3600.0
SMALL = Rotation(max_bytes=4096, max_age=DAY, retention=30 * DAY, max_files=1000)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def test_files_rotate_by_size_whole_lines_each_and_readers_see_every_record(tmp_path):
    with PredictionLog(tmp_path, flush_seconds=NEVER, rotation=SMALL) as plog:
        for i in range(200):
            plog.record(REQUEST, RESPONSE, f"r-{i}")
            if i % 7 == 0:
                plog.flush()
    files = log_files.log_files(tmp_path)
    rotated = [f for f in files if f.rotated_at is not None]
    assert len(rotated) >= 5 and files[-1].path == open_path(tmp_path)
    assert [f.rotated_at for f in rotated] == sorted(f.rotated_at for f in rotated)
    for entry in files:
        assert 0 < entry.path.stat().st_size <= SMALL.max_bytes
        assert entry.path.read_bytes().endswith(b"\n")
        lines(entry.path)  # every line a whole record
    # in order: each rotated file's records before the next one's, the open file's last
    in_files = [r["release_id"] for entry in files for r in lines(entry.path)]
    assert in_files == [f"r-{i}" for i in range(200)]
    frame = read_predictions(tmp_path)
    assert frame["release_id"].tolist() == in_files and frame.attrs["skipped"] == 0
    # a rotated file is named after every record in it
    assert all(r["time"] <= f.rotated_at for f in rotated for r in lines(f.path))


def test_a_record_larger_than_a_file_gets_a_file_of_its_own(tmp_path):
    big = {"instances": [{"isbn": "9780722532935", "note": "x" * 10_000}]}
    with PredictionLog(tmp_path, flush_seconds=NEVER, rotation=SMALL) as plog:
        plog.record(REQUEST, RESPONSE, "small-1")
        plog.record(big, RESPONSE, "big")
        plog.record(REQUEST, RESPONSE, "small-2")
    per_file = [[r["release_id"] for r in lines(f.path)] for f in log_files.log_files(tmp_path)]
    assert per_file == [["small-1"], ["big"], ["small-2"]]


def test_files_rotate_by_age_even_without_new_records(tmp_path):
    rotation = Rotation(max_bytes=2**20, max_age=3600.0, retention=30 * DAY, max_files=100)
    writer = LogWriter(tmp_path, rotation, process="host-1")
    now = time.time()
    writer.write([b'{"time": %f}\n' % now], now)
    writer.tick(now + 3599.0)
    assert [f.rotated_at for f in log_files.log_files(tmp_path)] == [None]
    writer.tick(now + 3600.0)
    (rotated,) = log_files.log_files(tmp_path)
    assert rotated.path == rotated_path(tmp_path, "host-1", now + 3600.0)
    writer.write([b'{"time": %f}\n' % (now + 3601.0)], now + 3601.0)  # a new open file
    assert [f.rotated_at for f in log_files.log_files(tmp_path)] == [
        pytest.approx(now + 3600.0),
        None,
    ]
    writer.close()


def test_retention_deletes_by_age_then_the_oldest_beyond_the_count(tmp_path):
    now = time.time()
    rotation = Rotation(max_bytes=2**20, max_age=DAY, retention=10 * DAY, max_files=3)
    for age_days in (40, 11, 9, 5, 3, 2, 1):
        rotated_path(tmp_path, "other-7", now - age_days * DAY).write_text("{}\n")
    stale = open_path(tmp_path, "gone-8")  # the open file of a server that stopped
    stale.write_text("{}\n")
    os.utime(stale, (now - 12 * DAY, now - 12 * DAY))
    live = open_path(tmp_path, "alive-9")
    live.write_text("{}\n")
    writer = LogWriter(tmp_path, rotation, process="self-1")
    writer.write([b"{}\n"], now)
    writer.sweep(now)
    kept = {f.path for f in log_files.log_files(tmp_path)}
    newest3 = {rotated_path(tmp_path, "other-7", now - d * DAY) for d in (1, 2, 3)}
    assert kept == newest3 | {live, open_path(tmp_path, "self-1")}
    writer.close()


def test_rotated_files_before_since_are_not_read(tmp_path):
    old = rotated_path(tmp_path, "host-1", 1_722_510_000.0)  # 2024-08-01
    old.write_text(json.dumps({"time": 1_722_500_000.0, "release_id": "old"}) + "\n")
    kept_long = Rotation(max_bytes=2**20, max_age=DAY, retention=36_500 * DAY, max_files=100)
    with PredictionLog(tmp_path, rotation=kept_long) as plog:
        plog.record(REQUEST, RESPONSE, "new")
    assert read_predictions(tmp_path)["release_id"].tolist() == ["old", "new"]
    old.write_text("not json, never read\n")
    frame = read_predictions(tmp_path, since="2024-08-02")
    assert frame["release_id"].tolist() == ["new"] and frame.attrs["skipped"] == 0


def test_a_file_left_by_an_earlier_process_of_the_same_name_is_rotated_not_appended(tmp_path):
    left = open_path(tmp_path, "host-1")
    left.write_bytes(b'{"time": 1.0, "release_id": "before"}\n{"time": 2.0, "rel')  # a crash
    writer = LogWriter(tmp_path, SMALL, process="host-1")
    writer.write([b'{"time": 3.0, "release_id": "after"}\n'], 3.0)
    writer.close()
    (earlier, current) = log_files.log_files(tmp_path)
    assert earlier.rotated_at is not None and current.path == left
    assert left.read_bytes() == b'{"time": 3.0, "release_id": "after"}\n'
    frame = read_predictions(tmp_path)
    assert frame["release_id"].tolist() == ["before", "after"] and frame.attrs["skipped"] == 1


def test_readers_racing_rotations_see_each_record_once_and_never_fewer(tmp_path):
    stop = threading.Event()
    tiny = Rotation(max_bytes=4096, max_age=DAY, retention=30 * DAY, max_files=100_000)

    def write() -> None:
        with PredictionLog(tmp_path, flush_seconds=0.001, rotation=tiny) as plog:
            i = 0
            while not stop.is_set() and i < 20_000:
                plog.record(REQUEST, RESPONSE, f"r-{i}")
                i += 1
                if i % 50 == 0:
                    time.sleep(0.001)

    writer = threading.Thread(target=write)
    writer.start()
    seen = 0
    try:
        for _ in range(40):
            ids = read_predictions(tmp_path)["release_id"].tolist()
            assert ids == [f"r-{i}" for i in range(len(ids))]  # a prefix: none lost, none twice
            assert len(ids) >= seen
            seen = len(ids)
    finally:
        stop.set()
        writer.join()
    assert len([f for f in log_files.log_files(tmp_path) if f.rotated_at is not None]) >= 2


def test_a_write_that_fails_half_way_leaves_no_half_record(tmp_path, monkeypatch):
    """ENOSPC after part of a batch reached the disk: the part is cut back off, the batch is
    counted lost, and the next batch is written whole once there is room again."""
    writer = LogWriter(tmp_path, SMALL, process="host-1")
    writer.write([b'{"n": 1}\n'], time.time())
    real_write, full, calls = os.write, [True], []

    def short_then_enospc(fd: int, data: bytes) -> int:
        if not full[0] or fd != writer._fd:  # the log's file only
            return real_write(fd, data)
        calls.append(len(data))
        if len(calls) == 1:  # the kernel takes what fits, then refuses the rest
            return real_write(fd, data[:4])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(log_files.os, "write", short_then_enospc)
    with pytest.raises(log_files.WriteError) as failed:
        writer.write([b'{"n": 2}\n', b'{"n": 3}\n'], 2.0)
    assert failed.value.written == 0 and failed.value.errno == errno.ENOSPC
    assert calls == [18, 14]
    assert open_path(tmp_path, "host-1").read_bytes() == b'{"n": 1}\n'
    full[0] = False
    assert writer.write([b'{"n": 4}\n'], 4.0) == 1
    assert open_path(tmp_path, "host-1").read_bytes() == b'{"n": 1}\n{"n": 4}\n'
    writer.close()


def test_a_log_closed_without_records_leaves_no_file(tmp_path):
    with PredictionLog(tmp_path / "log", flush_seconds=NEVER) as plog:
        assert plog.flush()
        assert log_files.log_files(tmp_path / "log") != []  # opened at start
    assert log_files.log_files(tmp_path / "log") == []
