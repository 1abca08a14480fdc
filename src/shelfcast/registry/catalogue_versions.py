"""The catalogue model's versions: finding one, its files, its champion map, and making one.

The registered model (`registry.catalogue_model`, `book_sales_catalogue`) has the aliases of
every model: `challenger` is the newest version, `champion` the version whose champion map is
in force (its `decisions.parquet`: for every title, the version whose row is its champion).
A version is one MLflow run of the environment's experiment (tag `run_kind`: `catalogue` for
a training run, `champion-change` for a title promoted or rolled back by hand) whose files
are under its artifacts' `catalogue/` (`catalogue_files`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from mlflow import MlflowClient
from mlflow.entities import Metric, RunTag
from mlflow.entities.model_registry import RegisteredModel
from mlflow.exceptions import MlflowException

from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.registry import artifacts, catalogue_files, history
from shelfcast.registry.catalogue_files import DECISIONS
from shelfcast.registry.catalogue_lookup import CatalogueVersion
from shelfcast.registry.connection import (
    already_exists,
    experiment_id,
    log_batch,
    not_found,
    registry_error,
    staging_parent,
)
from shelfcast.registry.models import CHALLENGER, CHAMPION, aliases, get_model, resolve_version
from shelfcast.registry.promotion import move_champion
from shelfcast.registry.runs import git_commit
from shelfcast.registry.values import MAX_TAG, now_ms
from shelfcast.settings import Settings

MAP_COLUMNS = ["isbn", "champion_version", "previous_version", "content_hash"]


def catalogue_name(settings: Settings) -> str:
    return settings.registry.catalogue_model


def locate(
    client: MlflowClient, settings: Settings, alias_or_version: str = CHAMPION
) -> CatalogueVersion:
    """The version a number or an alias names, with its files (VersionNotFound, ModelNotFound)."""
    name = catalogue_name(settings)
    found = resolve_version(client, settings, name, alias_or_version)
    folder = catalogue_files.version_folder(settings, found.source, found.run_id)
    return CatalogueVersion(name, str(found.version), found.run_id, folder)


def champion_version(client: MlflowClient, settings: Settings) -> CatalogueVersion | None:
    """The version whose map is in force; None before the first catalogue version."""
    name = catalogue_name(settings)
    try:
        model = client.get_registered_model(name)
    except MlflowException as exc:
        if not_found(exc):
            return None
        raise registry_error(exc, settings, f"reading {name}") from None
    current = aliases(model).get(CHAMPION)
    return locate(client, settings, current) if current else None


def champion_map(
    version: CatalogueVersion | None, isbns: list[str] | None = None
) -> dict[str, dict[str, Any]]:
    """ISBN -> its champion row's version, the one before it and its content hash."""
    if version is None:
        return {}
    table = catalogue_files.read_parquet(version.folder, DECISIONS, isbns, MAP_COLUMNS)
    rows = table.to_pydict()
    return {
        isbn: {name: rows[name][i] for name in MAP_COLUMNS[1:]}
        for i, isbn in enumerate(rows["isbn"])
    }


def ensure_model(client: MlflowClient, settings: Settings) -> RegisteredModel:
    """The catalogue's registered model, created on first use."""
    name = catalogue_name(settings)
    try:
        return client.create_registered_model(
            name,
            tags={"kind": "catalogue", "created_by": "shelfcast"},
            description="Every title's forecasting model: one version per training run.",
        )
    except MlflowException as exc:
        if not already_exists(exc):
            raise registry_error(exc, settings, f"creating {name}") from None
    return get_model(client, settings, name)


@dataclass
class NewVersion:
    """A version being made: its run and number; `publish` writes its files and makes it
    champion."""

    client: MlflowClient
    settings: Settings
    model: RegisteredModel
    run_id: str
    artifact_uri: str
    version: str

    @property
    def source(self) -> str:
        return f"{self.artifact_uri.rstrip('/')}/{catalogue_files.FOLDER}"

    def publish(
        self,
        table: BundleTable,
        metrics: Any,
        decisions: pa.Table,
        info: Mapping[str, Any],
        run_metrics: Mapping[str, float],
        reason: str,
        pools: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Write the files (`pools`: the kept pools' rows, if any), log `run_metrics`, then
        move `challenger` and `champion` here."""
        client, name = self.client, self.model.name
        with _staging(self.settings) as staging:
            manifest = catalogue_files.write_version(
                staging / catalogue_files.FOLDER, table, metrics, decisions, info, pools
            )
            artifacts.upload(
                self.source, staging / catalogue_files.FOLDER, self.settings.tracking_uri
            )
        stamp = now_ms()
        log_batch(
            client,
            self.run_id,
            [Metric(k, float(v), stamp, 0) for k, v in run_metrics.items() if v == v],
            [],
            [RunTag("catalogue_counts", str(manifest.get("counts", {}))[:MAX_TAG])],
        )
        for key, value in manifest.get("counts", {}).items():
            client.set_model_version_tag(name, self.version, f"count_{key}", str(value))
        kept = manifest.get("pools")
        if kept:
            origin = f"reused from v{kept['reused_from']}, " if kept.get("reused_from") else ""
            told = f"{origin}trained in v{kept['trained_in']}"
            client.set_model_version_tag(name, self.version, "pools", told)
        client.set_registered_model_alias(name, CHALLENGER, self.version)
        entries = history.pushed(history.parse(self.model.tags), self.version, self.source, reason)
        move_champion(client, name, entries)
        client.set_terminated(self.run_id, "FINISHED")
        return manifest


@contextmanager
def new_version(
    client: MlflowClient, settings: Settings, kind: str, description: str, tags: Mapping[str, str]
) -> Iterator[NewVersion]:
    """A run and a registered version for a new catalogue version; both are removed (the
    version) and marked FAILED (the run) when the block raises, so no version without files
    is left behind."""
    model = ensure_model(client, settings)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    try:
        run = client.create_run(
            experiment_id(client, settings),
            tags={
                "run_kind": kind,
                "git_commit": git_commit(),
                "environment": settings.environment,
                **tags,
            },
            run_name=f"{kind}-{stamp}",
        )
    except MlflowException as exc:
        raise registry_error(exc, settings, f"starting a {kind} run") from None
    run_id = run.info.run_id
    made: str | None = None
    try:
        source = f"{run.info.artifact_uri.rstrip('/')}/{catalogue_files.FOLDER}"
        made = str(
            client.create_model_version(
                model.name,
                source,
                run_id=run_id,
                tags={"run_kind": kind},
                description=description[:MAX_TAG],
                await_creation_for=0,
            ).version
        )
        yield NewVersion(client, settings, model, run_id, run.info.artifact_uri, made)
    except BaseException as exc:
        with contextlib.suppress(MlflowException):
            client.set_terminated(run_id, "FAILED")
        if made is not None:
            with contextlib.suppress(MlflowException):
                client.delete_model_version(model.name, made)
        if isinstance(exc, MlflowException):
            raise registry_error(exc, settings, f"registering a {model.name} version") from None
        raise


@contextmanager
def _staging(settings: Settings) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(
        prefix=".shelfcast-catalogue-", dir=staging_parent(settings)
    ) as tmp:
        yield Path(tmp)
