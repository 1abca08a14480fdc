"""The local backend's state files: whole-file writes, the lock, names (no processes)."""

import json
import threading

import pytest

from shelfcast.endpoints.base import EndpointError, EndpointNotFound
from shelfcast.endpoints.local_state import (
    HISTORY_KEPT,
    EndpointRecord,
    ModelRecord,
    ReplicaRecord,
    StateStore,
    now,
)


def record(name: str = "book-sales") -> EndpointRecord:
    replicas = [ReplicaRecord(port=2, pid=3), ReplicaRecord(port=4, pid=5, restarts=1)]
    model = ModelRecord("dm-1", "r-1", "/store/releases/r-1", now(), 2, replicas)
    return EndpointRecord(name, port=1, created=now(), models=[model], traffic={"dm-1": 100})


def test_a_record_survives_a_round_trip_and_leaves_no_temporary_file(tmp_path):
    store, written = StateStore(tmp_path), record()
    store.write(written)
    assert StateStore(tmp_path).read("book-sales") == written
    assert [p.name for p in (tmp_path / "book-sales").iterdir()] == ["state.json"]
    assert store.names() == ["book-sales"]
    assert store.ports() == {1, 2, 4}


def test_a_state_file_of_one_server_per_model_reads_as_one_replica_each(tmp_path):
    old = {
        "format_version": 1,
        "name": "book-sales",
        "port": 1,
        "created": now(),
        "router_pid": 7,
        "models": [
            {
                "id": "dm-1",
                "release_id": "r-1",
                "release_uri": "/r-1",
                "created": now(),
                "port": 2,
                "pid": 3,
                "started": 10.0,
            }
        ],
        "traffic": {"dm-1": 100},
        "history": [],
        "next_id": 2,
    }
    (tmp_path / "book-sales").mkdir()
    (tmp_path / "book-sales" / "state.json").write_text(json.dumps(old))
    model = StateStore(tmp_path).read("book-sales").models[0]
    assert (model.replica_count, model.replicas) == (1, [ReplicaRecord(2, 3, 10.0)])


def test_concurrent_updates_are_not_lost(tmp_path):
    StateStore(tmp_path).write(record())

    def bump() -> None:
        store = StateStore(tmp_path)  # its own lock file handle, as another command has
        for _ in range(25):
            with store.update("book-sales") as state:
                state.next_id += 1

    threads = [threading.Thread(target=bump) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert StateStore(tmp_path).read("book-sales").next_id == 101


def test_a_failed_update_writes_nothing(tmp_path):
    store = StateStore(tmp_path)
    store.write(record())
    with pytest.raises(RuntimeError), store.update("book-sales") as state:
        state.traffic = {}
        raise RuntimeError
    assert store.read("book-sales").traffic == {"dm-1": 100}


def test_unknown_endpoints_and_unsafe_names_are_refused(tmp_path):
    store = StateStore(tmp_path)
    with pytest.raises(EndpointNotFound):
        store.read("book-sales")
    for name in ("../etc", "a/b", ".hidden", ""):
        with pytest.raises(EndpointError, match="endpoint name"):
            store.read(name)


def test_the_traffic_history_keeps_the_newest_changes(tmp_path):
    state = record()
    for n in range(HISTORY_KEPT + 5):
        state.log_traffic(f"change {n}")
    assert len(state.history) == HISTORY_KEPT
    assert [h["note"] for h in state.history[:1] + state.history[-1:]] == [
        "change 5",
        f"change {HISTORY_KEPT + 4}",
    ]
    assert state.history[-1]["traffic"] == {"dm-1": 100}
