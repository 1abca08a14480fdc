"""The MLflow connection and its defaults: the client for the settings, where a store without
a server keeps its files, the experiment, and how MLflow errors become registry errors.

MLflow's environment defaults are set here, when this module is first imported, before
MLflow itself is (the package imports this module first): no telemetry (read when `mlflow`
is imported), no uv.lock copied into models, no run URL printed (which over HTTP fetches the
run again) and no progress bar per download. Variables already set win.

Without a tracking URI the store is SQLite in the project folder (`<home>/mlflow.db`, see
`Settings.tracking_uri`), put in write-ahead-log mode on first use, with artifacts beside it
in `mlartifacts/`.
"""

from __future__ import annotations

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_UV_AUTO_DETECT", "false")
# `set_terminated` otherwise fetches the run again, to print its URL, over HTTP.
os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # a bar per download

import contextlib
import functools
import logging
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shelfcast.registry.errors import RegistryError
from shelfcast.settings import Settings

if TYPE_CHECKING:  # MLflow is imported where a client is made, not with this module
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.exceptions import MlflowException

# MLflow's system tags (documented names).
PARENT_RUN_ID_TAG = "mlflow.parentRunId"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
DATASET_CONTEXT_TAG = "mlflow.data.context"

DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
SQLITE_PREFIX = "sqlite:///"
# MLflow's limits per `log_batch` call.
BATCH_METRICS, BATCH_PARAMS, BATCH_TAGS = 1000, 100, 100

log = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------ client


def client_for(settings: Settings) -> MlflowClient:
    """An MLflow client on the settings' tracking URI (also the registry URI)."""
    from mlflow import MlflowClient

    uri = settings.tracking_uri
    if uri.startswith(SQLITE_PREFIX):
        _prepare_sqlite(uri.removeprefix(SQLITE_PREFIX))
        _quiet_mlflow_logs()
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def is_remote(uri: str) -> bool:
    """Whether the tracking URI is a server (requests may go in parallel) rather than a file."""
    return uri.startswith(("http://", "https://", "databricks"))


def _quiet_mlflow_logs() -> None:
    # Database set-up messages from alembic on the first use of a SQLite store.
    for name in ("alembic", "alembic.runtime.migration", "mlflow.store.db.utils"):
        logging.getLogger(name).setLevel(logging.WARNING)


@functools.cache
def _prepare_sqlite(path: str) -> None:
    """Create the store's folder and put its database in write-ahead-log mode.

    WAL is a property of the database file: commits then cost one fsync instead of three
    (3.5 ms instead of 14 ms here; a title's logging commits 7-9 times), and readers (the
    CLI, the dashboard) no longer block the writer. MLflow creates its tables in the file.
    """
    import sqlite3

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=20)) as db:
            db.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:  # a read-only or network location: MLflow's defaults apply
        log.debug("could not switch %s to WAL: %s", path, exc)


def local_artifact_location(settings: Settings) -> str | None:
    """Where a new experiment's artifacts go when MLflow is used without a server: beside a
    SQLite database, else in the project folder (MLflow's default is ./mlruns wherever the
    process happens to run). A tracking server decides for itself (None)."""
    uri = settings.tracking_uri
    if uri.startswith(SQLITE_PREFIX):
        return (Path(uri.removeprefix(SQLITE_PREFIX)).parent / "mlartifacts").resolve().as_uri()
    if uri.split(":", 1)[0].split("+", 1)[0] in DATABASE_SCHEMES:
        return (Path(settings.home) / "mlartifacts").resolve().as_uri()
    return None


def staging_parent(settings: Settings) -> str | None:
    """Where titles' files are staged: beside a local store's artifacts (so that they are
    renamed into place), else the system's temporary folder (None)."""
    location = local_artifact_location(settings)
    if location is None:
        return None
    parent = Path(urllib.parse.unquote(urllib.parse.urlparse(location).path))
    parent.mkdir(parents=True, exist_ok=True)
    return str(parent)


def experiment_id(client: MlflowClient, settings: Settings) -> str:
    """The environment's experiment, created (or restored) on first use."""
    from mlflow.exceptions import MlflowException

    name = settings.experiment_name
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(
                name,
                artifact_location=local_artifact_location(settings),
                tags={"environment": settings.environment, "created_by": "shelfcast"},
            )
        except MlflowException as exc:
            if not already_exists(exc):
                raise
            experiment = client.get_experiment_by_name(name)
            assert experiment is not None
    if experiment.lifecycle_stage == "deleted":
        client.restore_experiment(experiment.experiment_id)
    return experiment.experiment_id


# ------------------------------------------------------------------------------------ errors


def not_found(exc: MlflowException) -> bool:
    return exc.error_code == "RESOURCE_DOES_NOT_EXIST"


def already_exists(exc: MlflowException) -> bool:
    return exc.error_code == "RESOURCE_ALREADY_EXISTS"


def registry_error(exc: MlflowException, settings: Settings, what: str) -> RegistryError:
    """An MLflow error as a RegistryError naming what failed and where (first line only)."""
    message = str(exc.message).strip().splitlines()[0] if exc.message else str(exc)
    return RegistryError(f"{what} failed at {settings.tracking_uri}: {message}")


# ------------------------------------------------------------------------------------ writes


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def log_batch(
    client: MlflowClient,
    run_id: str,
    metrics: list[Metric],
    params: list[Param],
    tags: list[RunTag],
) -> None:
    """One `log_batch` call when within MLflow's limits (1000 metrics, 100 params/tags)."""
    metric_chunks = list(_chunks(metrics, BATCH_METRICS)) or [[]]
    param_chunks = list(_chunks(params, BATCH_PARAMS)) or [[]]
    tag_chunks = list(_chunks(tags, BATCH_TAGS)) or [[]]
    for i in range(max(len(metric_chunks), len(param_chunks), len(tag_chunks))):
        client.log_batch(
            run_id,
            metrics=metric_chunks[i] if i < len(metric_chunks) else [],
            params=param_chunks[i] if i < len(param_chunks) else [],
            tags=tag_chunks[i] if i < len(tag_chunks) else [],
        )


def registry_writes(client: MlflowClient) -> Any:
    """Where alias and tag writes go for models the training run created or read: MLflow's
    registry client behind `client` (an internal of MLflow, isolated here).

    Why: `MlflowClient.set_registered_model_alias` and `set_registered_model_tag` first fetch
    the model (`_raise_if_prompt`: is it a prompt?) - one more request each, three per
    promoted title over HTTP. The training run writes only to `arima_book_*` models it has
    just created or read as models, so it writes through the registry client, which does the
    same write without that check (same arguments: name, alias, version; name, key, value).
    Without the internal (another MLflow), the public client: the same writes, slower.
    Pinned by tests/registry/test_mlflow_internals.py on the installed MLflow.
    """
    registry_client = getattr(client, "_get_registry_client", None)
    return registry_client() if registry_client is not None else client
