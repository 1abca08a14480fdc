"""The registry read straight from a local SQLite store: the same answers as MLflow's client,
and MLflow's client wherever the store is not one it knows."""

import sqlite3

import pytest
from mlflow.store.db.utils import _get_latest_schema_revision

from shelfcast.registry import local_store
from shelfcast.settings import Settings


def test_the_installed_mlflow_schema_is_the_one_read():
    # An MLflow whose schema moved fails here: check local_store's queries, then pin the head.
    assert _get_latest_schema_revision() in local_store.SCHEMA_REVISIONS


def test_aliases_and_versions_as_mlflow_gives_them(settings, client, tmp_path):
    run = client.create_run(client.create_experiment("e", (tmp_path / "a").as_uri()))
    client.create_registered_model("m")
    for n in range(3):
        client.create_model_version("m", f"{run.info.artifact_uri}/v{n}", run.info.run_id)
    client.set_registered_model_alias("m", "champion", "2")
    client.delete_model_version("m", "3")
    client.create_registered_model("bare")

    path = local_store.database(settings)
    assert path == settings.home / "mlflow.db"
    assert local_store.aliases(path, "m") == {"champion": "2"}
    assert local_store.aliases(path, "bare") == {}
    assert local_store.aliases(path, "nope") is None
    for number in ("1", "2"):
        expected = client.get_model_version("m", number)
        found = local_store.version(path, "m", number)
        assert found == local_store.VersionRow("m", number, expected.run_id, expected.source)
    assert local_store.version(path, "m", "3") is None  # deleted
    assert local_store.version(path, "m", "4") is None


def test_stores_it_does_not_know_are_left_to_mlflow(settings, tmp_path, monkeypatch):
    assert local_store.database(Settings(registry={"mlflow_tracking_uri": "http://x:5000"})) is None
    missing = f"sqlite:///{tmp_path / 'none.db'}"
    assert local_store.database(Settings(registry={"mlflow_tracking_uri": missing})) is None
    assert not (tmp_path / "none.db").exists()  # looking did not create it

    monkeypatch.setenv("MLFLOW_ENABLE_WORKSPACES", "true")
    assert local_store.database(settings) is None
    monkeypatch.delenv("MLFLOW_ENABLE_WORKSPACES")
    assert local_store.database(settings) is not None

    with sqlite3.connect(settings.home / "mlflow.db") as db:
        db.execute("UPDATE alembic_version SET version_num = 'a-later-schema'")
    assert local_store.database(settings) is None


@pytest.mark.parametrize("uri", ["postgresql://u@h/db", "file:///tmp/mlruns"])
def test_other_backends_are_left_to_mlflow(uri):
    assert local_store.database(Settings(registry={"mlflow_tracking_uri": uri})) is None
