"""Reading the prediction log that the server writes (`shelfcast.serving.prediction_log`,
whose docstring gives the format): a folder of JSONL files, one line per logged request,
rotated and swept by the servers (`shelfcast.serving.log_files`)."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shelfcast.serving.log_files import LogFile, log_files
from shelfcast.serving.prediction_log import COLUMNS, PredictionLogError


def _timestamp(since: str | datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(since)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def read_predictions(
    folder: str | Path, since: str | datetime | pd.Timestamp | None = None
) -> pd.DataFrame:
    """The logged requests (from `since` on, naive times being UTC), oldest first, from the
    open files and the rotated ones alike (rotated before `since`: skipped unread).

    Columns: `time` (UTC), `release_id`, `deployed_model_id`, `latency_ms`, `status`,
    `models` (list of [name, version]), `request` and `response` (parsed JSON). Lines that
    are not JSON (a write cut short) are skipped and counted in `attrs["skipped"]`.
    """
    target = Path(folder)
    if not target.is_dir():
        raise PredictionLogError(f"no prediction log at {target}")
    start = None if since is None else _timestamp(since)
    contents = _contents(target, None if start is None else start.timestamp())
    records: list[dict[str, Any]] = []
    skipped = 0
    for content in contents:
        for line in content.splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                skipped += 1
    frame = pd.DataFrame.from_records(records, columns=list(COLUMNS))
    frame["time"] = pd.to_datetime(frame["time"].astype("float64"), unit="s", utc=True)
    if start is not None:
        frame = frame[frame["time"] >= start]
    frame = frame.sort_values("time", kind="stable", ignore_index=True)
    frame.attrs["skipped"] = skipped
    return frame


def _contents(folder: Path, since: float | None) -> list[bytes]:
    """The bytes of every file that may hold a record from `since` on, each record once.

    A rotation renames an open file, so the folder is listed twice: every file of the first
    listing is read through its descriptor (remembering each file's identity and how much was
    read), then each rotated file that the second listing adds is read, from where its bytes
    were left if it was read as an open file. Records written after the second listing may be
    left out; none is read twice. A file that vanished was deleted by retention.
    """
    read: dict[tuple[int, int], int] = {}  # (device, inode) -> bytes read
    contents: list[bytes] = []
    first = log_files(folder)
    for entry in first:
        if not _skipped(entry, since):
            contents.append(_read(entry.path, read))
    seen = {entry.path for entry in first}
    for entry in log_files(folder):
        if entry.rotated_at is not None and entry.path not in seen and not _skipped(entry, since):
            contents.append(_read(entry.path, read))
    return contents


def _skipped(entry: LogFile, since: float | None) -> bool:
    return since is not None and entry.rotated_at is not None and entry.rotated_at < since


def _read(path: Path, read: dict[tuple[int, int], int]) -> bytes:
    """The bytes of `path` not read before (through another name), noting what was read."""
    try:
        with open(path, "rb") as file:
            status = os.fstat(file.fileno())
            identity = (status.st_dev, status.st_ino)
            file.seek(read.get(identity, 0))
            data = file.read()
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from None
    # up to the last whole line: a line being written as it was read is read again with
    # the rest of the file, should a rotation rename it before the second listing
    read[identity] = read.get(identity, 0) + data.rfind(b"\n") + 1
    return data
