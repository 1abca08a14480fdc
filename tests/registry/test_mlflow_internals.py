"""The two MLflow internals the registry uses (each isolated in one function, for one fewer
request per title) and the system tag names it writes, pinned on the installed MLflow. A
failure here means MLflow changed: see the function's docstring for why it is used."""

import mlflow.utils.mlflow_tags as mlflow_tags
from mlflow import MlflowClient
from mlflow.tracking._tracking_service.client import TrackingServiceClient

from shelfcast.registry import artifacts, connection


def test_our_system_tag_names_are_mlflows():
    assert connection.PARENT_RUN_ID_TAG == mlflow_tags.MLFLOW_PARENT_RUN_ID
    assert connection.GIT_COMMIT_TAG == mlflow_tags.MLFLOW_GIT_COMMIT
    assert connection.DATASET_CONTEXT_TAG == mlflow_tags.MLFLOW_DATASET_CONTEXT


def test_registry_writes_skip_the_prompt_check_the_public_client_makes(settings, monkeypatch):
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    run = client.create_run(client.create_experiment("pin", settings.home.as_uri()))
    client.create_registered_model("arima_book_pin")
    client.create_model_version("arima_book_pin", "file:///nowhere", run_id=run.info.run_id)
    fetched = []
    real = client.get_registered_model

    def counting(name):
        fetched.append(name)
        return real(name)

    monkeypatch.setattr(client, "get_registered_model", counting)

    # why: the public writes fetch the model first (one request each over HTTP)
    client.set_registered_model_alias("arima_book_pin", "challenger", "1")
    client.set_registered_model_tag("arima_book_pin", "k", "public")
    assert len(fetched) == 2, "MlflowClient no longer fetches the model: drop registry_writes"

    writes = connection.registry_writes(client)
    assert writes is not client  # the internal is there
    fetched.clear()
    writes.set_registered_model_alias("arima_book_pin", "champion", "1")
    writes.set_registered_model_tag("arima_book_pin", "k", "fast")
    writes.set_model_version_tag("arima_book_pin", "1", "vk", "vv")
    assert fetched == []
    model = real("arima_book_pin")
    assert {k: str(v) for k, v in model.aliases.items()} == {"challenger": "1", "champion": "1"}
    assert model.tags["k"] == "fast"
    assert client.get_model_version("arima_book_pin", "1").tags["vk"] == "vv"


def test_registry_writes_fall_back_to_the_client_without_the_internal():
    class Public:
        pass

    client = Public()
    assert connection.registry_writes(client) is client


def test_the_artifact_repository_uploads_a_folder_to_an_artifact_uri(tmp_path):
    folder = tmp_path / "staged"
    (folder / "model").mkdir(parents=True)
    (folder / "forecast.html").write_text("<html/>")
    (folder / "model" / "MLmodel").write_text("flavors: {}\n")
    target = tmp_path / "artifacts" / "run" / "artifacts"
    target.mkdir(parents=True)  # exists: no rename, the repository copies
    artifacts.upload(target.as_uri(), folder, "sqlite:///unused.db")
    assert (target / "forecast.html").read_text() == "<html/>"
    assert (target / "model" / "MLmodel").exists()
    assert folder.exists()  # copied, not moved

    repository = artifacts._artifact_repository(target.as_uri(), "sqlite:///unused.db")
    assert {f.path for f in repository.list_artifacts()} == {"forecast.html", "model"}


def test_the_public_upload_fetches_the_run_first(settings, monkeypatch, tmp_path):
    """Why `artifacts.upload` uses the repository: `MlflowClient.log_artifacts` looks the
    run up before it uploads (the run's artifact URI, which `create_run` already gave)."""
    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    run = client.create_run(client.create_experiment("pin-upload", settings.home.as_uri()))
    folder = tmp_path / "files"
    folder.mkdir()
    (folder / "a.txt").write_text("a")
    looked_up = []
    real = TrackingServiceClient.get_run

    def counting(self, run_id):
        looked_up.append(run_id)
        return real(self, run_id)

    monkeypatch.setattr(TrackingServiceClient, "get_run", counting)
    client.log_artifacts(run.info.run_id, str(folder))
    assert looked_up == [run.info.run_id], "log_artifacts no longer fetches the run"
    looked_up.clear()
    artifacts.upload(run.info.artifact_uri, folder, settings.tracking_uri)
    assert looked_up == []
