"""Reading the prediction log that the server writes (`shelfcast.serving.prediction_log`,
whose docstring gives the format): a folder of JSONL files, one line per logged request,
rotated and swept by the servers (`shelfcast.serving.log_files`)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shelfcast.serving.log_files import log_files
from shelfcast.serving.prediction_log import COLUMNS, PredictionLogError

ATTEMPTS = 5  # listings tried when a server rotates a file while it is read


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
    """The bytes of every file that may hold a record from `since` on: one consistent view.

    A rotation renames an open file, so a file listed as open may be gone when read, or be
    the new, empty one: the folder is listed again after reading, and the read repeated when
    a rotated file appeared meanwhile. A rotated file that vanished was deleted by retention.
    """
    for _ in range(ATTEMPTS):
        listed = log_files(folder)
        contents: list[bytes] = []
        moved = False
        for entry in listed:
            if since is not None and entry.rotated_at is not None and entry.rotated_at < since:
                continue
            try:
                contents.append(entry.path.read_bytes())
            except FileNotFoundError:
                moved = moved or entry.rotated_at is None
            except OSError as exc:
                raise PredictionLogError(
                    f"cannot read the prediction log {entry.path}: {exc}"
                ) from None
        before = {e.path for e in listed if e.rotated_at is not None}
        after = {e.path for e in log_files(folder) if e.rotated_at is not None}
        if not moved and after <= before:
            return contents
    raise PredictionLogError(f"the prediction log {folder} kept rotating while it was read")
