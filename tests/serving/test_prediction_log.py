"""The prediction log: round trip through its JSONL files (written by the server's writer,
read by monitoring), sampling, the bounded queue, closing, and lines cut short."""

from __future__ import annotations

import json
import os
import time

import pandas as pd
import pytest

from shelfcast.monitoring.paths import monitoring_dir
from shelfcast.monitoring.prediction_log import read_predictions
from shelfcast.serving.log_files import open_path
from shelfcast.serving.prediction_log import (
    PredictionLog,
    PredictionLogError,
    prediction_log_path,
)
from shelfcast.settings import Settings

REQUEST = {"instances": [{"isbn": "9780722532935", "horizon": 2}], "parameters": {}}
PREDICTION = {
    "isbn": "9780722532935",
    "model_name": "arima_book_9780722532935",
    "model_version": "3",
    "model_family": "sarima",
    "weeks": [
        {"week_ending": "2024-07-27", "mean": 10.5, "lo_80": 8.0, "hi_80": 13.0},
        {"week_ending": "2024-08-03", "mean": 11.0, "lo_80": 8.5, "hi_80": 14.0},
    ],
}
RESPONSE = {
    "predictions": [PREDICTION, {"error": {"field": "instances[1].isbn", "reason": "no model"}}],
    "deployedModelId": "dm-1",
}
NEVER = 3600.0  # a flush interval the tests never reach: only flush() and close() write


def test_round_trip_of_dicts_and_of_the_bodies_bytes(tmp_path):
    path = tmp_path / "monitoring" / "predictions"
    before = pd.Timestamp.now(tz="UTC")
    with PredictionLog(path, flush_seconds=NEVER) as plog:
        assert plog.record(REQUEST, RESPONSE, "r-1", "dm-1", 12.5)
        raw = json.dumps(REQUEST, indent=2).encode()  # newlines and all, as a client sent it
        models = [("arima_book_9780722532935", "3")]
        assert plog.record(raw, json.dumps(RESPONSE).encode(), "r-1", None, 3.25, models=models)
        assert plog.flush()
        assert plog.stats().written == 2
    frame = read_predictions(path)
    assert len(frame) == 2
    first, second = frame.iloc[0], frame.iloc[1]
    assert first["request"] == REQUEST and first["response"] == RESPONSE
    assert second["request"] == REQUEST and second["response"] == RESPONSE
    assert (first["release_id"], first["deployed_model_id"], first["latency_ms"]) == (
        "r-1",
        "dm-1",
        12.5,
    )
    assert second["deployed_model_id"] is None and second["latency_ms"] == 3.25
    # read from the response when not given; the error in place of a prediction has none
    assert first["models"] == [["arima_book_9780722532935", "3"]] == second["models"]
    assert (frame["status"] == 200).all()
    assert before <= first["time"] <= pd.Timestamp.now(tz="UTC")


def test_since_keeps_later_requests_only(tmp_path):
    path = tmp_path / "log"
    with PredictionLog(path) as plog:
        plog.record(REQUEST, RESPONSE, "r-1")
        plog.flush()
        time.sleep(0.05)
        middle = pd.Timestamp.now(tz="UTC")
        plog.record(REQUEST, RESPONSE, "r-2")
    assert read_predictions(path, since=middle)["release_id"].tolist() == ["r-2"]
    naive_utc = middle.tz_localize(None)
    assert read_predictions(path, since=naive_utc)["release_id"].tolist() == ["r-2"]
    assert len(read_predictions(path)) == 2


def test_sampling_rate_keeps_that_share_of_requests(tmp_path):
    with PredictionLog(tmp_path / "none", sample_rate=0.0) as plog:
        assert not any(plog.record(REQUEST, RESPONSE, "r-1") for _ in range(100))
    assert read_predictions(tmp_path / "none").empty
    with PredictionLog(tmp_path / "some", sample_rate=0.25, seed=7) as plog:
        kept = sum(plog.record(REQUEST, RESPONSE, "r-1") for _ in range(4000))
    assert 850 <= kept <= 1150  # 1000 expected; the seed makes it the same every run
    assert len(read_predictions(tmp_path / "some")) == kept
    with PredictionLog(tmp_path / "again", sample_rate=0.25, seed=7) as plog:
        again = sum(plog.record(REQUEST, RESPONSE, "r-1") for _ in range(4000))
    assert again == kept


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path):
    path = tmp_path / "log"
    plog = PredictionLog(path, max_queue=2, flush_seconds=NEVER)
    accepted = [plog.record(REQUEST, RESPONSE, f"r-{i}") for i in range(5)]
    assert accepted == [True, True, False, False, False]
    stats = plog.stats()
    assert (stats.queued, stats.dropped, stats.written) == (2, 3, 0)
    plog.close()  # writes what was queued
    assert read_predictions(path)["release_id"].tolist() == ["r-0", "r-1"]
    assert not plog.record(REQUEST, RESPONSE, "late")  # closed: refused, counted
    assert plog.stats().dropped == 4 and plog.stats().written == 2


def test_one_file_per_process_and_lines_cut_short_are_skipped(tmp_path):
    with PredictionLog(tmp_path) as plog:
        plog.record(REQUEST, RESPONSE, "r-1")
        plog.flush()
        plog.record(REQUEST, RESPONSE, "r-2")
    (written,) = tmp_path.glob("predictions-*.jsonl")
    assert written == open_path(tmp_path)
    assert written.name.endswith(f"-{os.getpid()}.jsonl")
    lines = written.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(line)["status"] == 200 for line in lines)
    # a file of the daily layout of before, its last line cut short by a crash
    old = tmp_path / "predictions-20240801-other-host-99.jsonl"
    record = json.loads(lines[0]) | {"time": pd.Timestamp("2024-08-01T10:00Z").timestamp()}
    old.write_text(json.dumps(record) + "\n" + json.dumps(record)[:50])
    frame = read_predictions(tmp_path)
    assert frame["release_id"].tolist() == ["r-1", "r-1", "r-2"]  # oldest first
    assert frame.attrs["skipped"] == 1
    assert len(read_predictions(tmp_path, since="2024-08-02")) == 2


def test_bad_rates_and_absent_logs_are_typed_errors(tmp_path):
    with pytest.raises(PredictionLogError, match="between 0 and 1"):
        PredictionLog(tmp_path / "log", sample_rate=1.5)
    with pytest.raises(PredictionLogError, match="no prediction log"):
        read_predictions(tmp_path / "absent")


def test_a_body_that_is_not_json_is_counted_as_failed_and_the_log_goes_on(tmp_path):
    path = tmp_path / "log"
    with PredictionLog(path) as plog:
        plog.record({"instances": [float("nan")]}, RESPONSE, "r-1")  # NaN is not JSON
        plog.record(REQUEST, RESPONSE, "r-2")
        plog.flush()
        assert (plog.stats().failed, plog.stats().written) == (1, 1)
    assert read_predictions(path)["release_id"].tolist() == ["r-2"]


def test_the_log_is_where_it_always_was_under_the_monitoring_folder(tmp_path):
    settings = Settings(home=tmp_path)
    assert prediction_log_path(settings) == tmp_path / "monitoring" / "predictions"
    assert prediction_log_path(settings).parent == monitoring_dir(settings)
