"""Artifact transfer: a title's files into its run, a registered model's bundle files out.

Sources and destinations are artifact URIs (a local folder's `file:` URI, `mlflow-artifacts:`
through a tracking server, `gs://`, ...). Local folders are read and written directly;
anything else goes through MLflow (`mlflow.artifacts.download_artifacts` down, the artifact
repository of the run's URI up).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from shelfcast.errors import BundleError
from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle, read_model
from shelfcast.forecasting.families import Spec
from shelfcast.registry.connection import not_found
from shelfcast.registry.pyfunc import DATA_SUBPATH


def local_folder(uri: str) -> Path | None:
    """The folder of a local artifact URI (`file:` or a bare path), else None."""
    parsed = urllib.parse.urlparse(uri)
    return Path(urllib.parse.unquote(parsed.path)) if parsed.scheme in ("", "file") else None


def read_files(source: str, paths: Sequence[str], tracking_uri: str) -> dict[str, bytes]:
    """Files under an artifact location, as bytes by file name (downloaded to a temporary
    folder unless the location is a local folder)."""
    local = local_folder(source)
    if local is not None and local.is_dir():
        return {Path(p).name: (local / p).read_bytes() for p in paths}
    import mlflow.artifacts  # here, not with the module: local reads need no MLflow

    out = {}
    root = source.rstrip("/")
    with tempfile.TemporaryDirectory(prefix="shelfcast-download-") as tmp:
        for p in paths:
            path = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{root}/{p}", dst_path=tmp, tracking_uri=tracking_uri
            )
            out[Path(p).name] = Path(path).read_bytes()
    return out


def bundle_files(source: str, tracking_uri: str, names: Sequence[str]) -> dict[str, bytes]:
    """The bundle's files in a model; a missing file is a BundleError, while a store that
    cannot be reached raises as it is (so that the gate never mistakes one for the other)."""
    import requests
    from mlflow.exceptions import MlflowException

    missing: Any = None
    try:
        return read_files(source, [f"{DATA_SUBPATH}/{n}" for n in names], tracking_uri)
    except FileNotFoundError as exc:
        missing = exc
    except MlflowException as exc:  # downloads wrap a 404 in a generic MlflowException
        text = str(exc.message)
        if not (not_found(exc) or "RESOURCE_DOES_NOT_EXIST" in text or "404" in text):
            raise
        missing = exc.message.strip().splitlines()[-1][:300]
    except requests.HTTPError as exc:
        if exc.response is None or exc.response.status_code != 404:
            raise
        missing = exc
    raise BundleError(f"{source} holds no Shelfcast bundle ({missing})")


def bundle_at(source: str, tracking_uri: str) -> Bundle:
    """The bundle of the model at `source` (bundle.json and history.csv; nothing unpickled)."""
    return Bundle.from_files(bundle_files(source, tracking_uri, [BUNDLE_FILE, HISTORY_FILE]))


def model_spec(source: str, tracking_uri: str) -> Spec:
    """Only the model spec of a bundle (bundle.json): all the gate needs of a champion."""
    files = bundle_files(source, tracking_uri, [BUNDLE_FILE])
    return read_model(files[BUNDLE_FILE], f"{source}/{BUNDLE_FILE}")


def upload(artifact_uri: str, folder: Path, tracking_uri: str) -> None:
    """A run's files into its artifacts at `artifact_uri`: for a local artifact folder a
    rename of `folder` into place (no copy, no clean-up), else one `log_artifacts` call."""
    target = local_folder(artifact_uri)
    if target is not None and not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(folder, target)
            return
        except OSError:  # another file system: copy as MLflow does
            pass
    _artifact_repository(artifact_uri, tracking_uri).log_artifacts(str(folder))


def _artifact_repository(artifact_uri: str, tracking_uri: str) -> Any:
    """MLflow's artifact repository for `artifact_uri` (an internal of MLflow, isolated here).

    Why: the public `MlflowClient.log_artifacts(run_id, folder)` first fetches the run
    (`get_run`) to learn its artifact URI, one more request per title over HTTP; the
    training run has that URI from `create_run` already, and uploads through the repository
    for it, as `log_artifacts` does after that fetch. Pinned by
    tests/registry/test_mlflow_internals.py on the installed MLflow.
    """
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
