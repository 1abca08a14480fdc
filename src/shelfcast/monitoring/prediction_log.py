"""Reading the prediction log that the server writes (`shelfcast.serving.prediction_log`,
whose docstring gives the format): a folder of JSONL files, one line per logged request."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from shelfcast.serving.prediction_log import COLUMNS, PREFIX, PredictionLogError


def _timestamp(since: str | datetime | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(since)
    return stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)


def read_predictions(
    folder: str | Path, since: str | datetime | pd.Timestamp | None = None
) -> pd.DataFrame:
    """The logged requests (from `since` on, naive times being UTC), oldest first.

    Columns: `time` (UTC), `release_id`, `deployed_model_id`, `latency_ms`, `status`,
    `models` (list of [name, version]), `request` and `response` (parsed JSON). Lines that
    are not JSON (a write cut short) are skipped and counted in `attrs["skipped"]`.
    """
    target = Path(folder)
    if not target.is_dir():
        raise PredictionLogError(f"no prediction log at {target}")
    start = None if since is None else _timestamp(since)
    # a batch goes to the day of its first record: the day before may hold a few later ones
    first_day = "" if start is None else f"{start - pd.Timedelta(days=1):%Y%m%d}"
    records: list[dict[str, Any]] = []
    skipped = 0
    for path in sorted(target.glob(f"{PREFIX}*.jsonl")):
        if path.name[len(PREFIX) : len(PREFIX) + 8] < first_day:
            continue
        try:
            lines = path.read_bytes().splitlines()
        except OSError as exc:
            raise PredictionLogError(f"cannot read the prediction log {path}: {exc}") from None
        for line in lines:
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
