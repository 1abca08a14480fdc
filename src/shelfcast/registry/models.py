"""Registered models, their versions and aliases: names, lookups, listing, bundles.

Each title's model is registered as `arima_book_<ISBN>`. Aliases only, no stages: the
newest version is `challenger`, the one served is `champion` (moved by `promotion`). A
version's bundle (bundle.json, history.csv) is read back byte-for-byte from its pyfunc
folder: by `load_bundle` to forecast, by `bundle_files` to package.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle
from shelfcast.registry import artifacts, history
from shelfcast.registry.connection import client_for, not_found, registry_error
from shelfcast.registry.errors import (
    RegistryError,
    VersionNotFound,
    model_not_found,
    no_alias,
    no_version,
)
from shelfcast.registry.names import (
    CHALLENGER,
    CHAMPION,
    MODEL_PREFIX,
    registered_name,
    resolve_name,
)
from shelfcast.registry.names import model_name as model_name  # also imported from here
from shelfcast.registry.values import number
from shelfcast.settings import Settings

PAGE_MODELS, PAGE_VERSIONS = 1000, 10_000  # results per search request

LIST_COLUMNS = [
    "name",
    "isbn",
    "title",
    "latest_version",
    "champion",
    "challenger",
    "family",
    "backtest_mase",
    "baseline_mase",
    "holdout_mase",
]


def aliases(model: RegisteredModel) -> dict[str, str]:
    """Alias -> version, versions as strings (stores differ: SQLite gives ints)."""
    return {str(alias): str(version) for alias, version in (model.aliases or {}).items()}


# ------------------------------------------------------------------------------------ lookups


def get_model(client: MlflowClient, settings: Settings, name: str) -> RegisteredModel:
    """The registered model `name`; ModelNotFound names the store when there is none."""
    try:
        return client.get_registered_model(name)
    except MlflowException as exc:
        if not_found(exc):
            raise model_not_found(settings, name) from None
        raise registry_error(exc, settings, f"reading {name}") from None


def get_version(client: MlflowClient, settings: Settings, name: str, version: str) -> ModelVersion:
    """Version `version` of `name`; VersionNotFound when it has none such."""
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        if not_found(exc):
            raise no_version(name, version) from None
        raise registry_error(exc, settings, f"reading {name} v{version}") from None


def resolve_version(
    client: MlflowClient, settings: Settings, name: str, alias_or_version: str
) -> ModelVersion:
    """The version of `name` a number ("3", "v3") or an alias ("champion") names."""
    model = get_model(client, settings, name)
    ref = str(alias_or_version).strip().removeprefix("v")
    if ref.isdigit():
        return get_version(client, settings, name, ref)
    if alias_or_version not in aliases(model):
        raise no_alias(name, alias_or_version, aliases(model))
    return get_version(client, settings, name, aliases(model)[alias_or_version])


def all_versions(client: MlflowClient, filter_string: str) -> list[ModelVersion]:
    """Every model version matching `filter_string`, page after page."""
    out: list[ModelVersion] = []
    token = None
    while True:
        page = client.search_model_versions(
            filter_string=filter_string, max_results=PAGE_VERSIONS, page_token=token
        )
        out.extend(page)
        token = page.token
        if not token:
            return out


def registered_models(client: MlflowClient) -> dict[str, RegisteredModel]:
    """Every `arima_book_*` registered model, with aliases and tags, in few calls."""
    out: dict[str, RegisteredModel] = {}
    token = None
    while True:
        page = client.search_registered_models(
            filter_string=f"name LIKE '{MODEL_PREFIX}%'", max_results=PAGE_MODELS, page_token=token
        )
        out.update({m.name: m for m in page if m.name.startswith(MODEL_PREFIX)})
        token = page.token
        if not token:
            return out


def _catalogue(
    client: MlflowClient, settings: Settings
) -> tuple[dict[str, RegisteredModel], dict[str, dict[str, ModelVersion]]]:
    """Every `arima_book_*` registered model, and its versions by version number."""
    try:
        models = registered_models(client)
        versions = all_versions(client, f"name LIKE '{MODEL_PREFIX}%'")
    except MlflowException as exc:
        raise registry_error(exc, settings, "listing models") from None
    by_name: dict[str, dict[str, ModelVersion]] = {}
    for v in versions:
        by_name.setdefault(v.name, {})[str(v.version)] = v
    return models, by_name


# ------------------------------------------------------------------------------------ bundles


def load_bundle(settings: Settings, name: str, alias_or_version: str = CHAMPION) -> Bundle:
    """A registered version's bundle (bundle.json and history.csv; nothing is unpickled)."""
    client = client_for(settings)
    name = resolve_name(name)
    version = resolve_version(client, settings, name, alias_or_version)
    try:
        uri = client.get_model_version_download_uri(name, version.version)
    except MlflowException as exc:
        raise registry_error(exc, settings, f"locating {name} v{version.version}") from None
    return artifacts.bundle_at(uri, settings.tracking_uri)


def select_versions(
    settings: Settings,
    names: Sequence[str] | None = None,
    version: str | None = None,
    every: bool = False,
) -> list[ModelVersion]:
    """Registered versions to package: every model's champion; with `every`, the latest
    version of models without one too; with `names`, those models' `version` (a number or
    an alias), else their champion, else their latest version."""
    client = client_for(settings)
    if names:
        if version is not None and len(names) != 1:
            raise RegistryError(f"a version applies to one model, got {len(names)} models")
        return [_version_of(client, settings, resolve_name(n), version) for n in names]
    models, by_name = _catalogue(client, settings)
    chosen = []
    for name in sorted(models):
        mine = by_name.get(name, {})
        champion = aliases(models[name]).get(CHAMPION)
        key = champion or (max(mine, key=int) if every and mine else None)
        if key in mine:
            chosen.append(mine[key])
    return chosen


def _version_of(
    client: MlflowClient, settings: Settings, name: str, version: str | None
) -> ModelVersion:
    if version is not None:
        return resolve_version(client, settings, name, version)
    model = get_model(client, settings, name)
    if CHAMPION in aliases(model):
        return get_version(client, settings, name, aliases(model)[CHAMPION])
    try:
        versions = all_versions(client, f"name = '{name}'")
    except MlflowException as exc:
        raise registry_error(exc, settings, f"reading {name}") from None
    if not versions:
        raise VersionNotFound(f"{name} has no versions")
    return max(versions, key=lambda v: int(v.version))


def bundle_files(settings: Settings, version: ModelVersion) -> dict[str, bytes]:
    """A registered version's bundle files (bundle.json, history.csv), byte-for-byte."""
    try:
        return artifacts.bundle_files(
            version.source, settings.tracking_uri, [BUNDLE_FILE, HISTORY_FILE]
        )
    except MlflowException as exc:
        raise registry_error(exc, settings, f"reading {version.name} v{version.version}") from None


# ------------------------------------------------------------------------------------ listing


def list_models(settings: Settings) -> pd.DataFrame:
    """Every `arima_book_*` model: latest version, aliases, and the champion's (else the
    latest version's) family and MASE."""
    client = client_for(settings)
    models, by_name = _catalogue(client, settings)
    rows = []
    for name in sorted(models):
        model = models[name]
        mine = by_name.get(name, {})
        latest = max(mine, key=int) if mine else None
        champion = aliases(model).get(CHAMPION)
        shown = mine.get(champion or "") or (mine.get(latest) if latest else None)
        vt = shown.tags if shown else {}
        rows.append(
            {
                "name": name,
                "isbn": model.tags.get("isbn") or name.removeprefix(MODEL_PREFIX),
                "title": model.tags.get("title") or vt.get("title", ""),
                "latest_version": latest,
                "champion": champion,
                "challenger": aliases(model).get(CHALLENGER),
                "family": vt.get("model_family"),
                "backtest_mase": number(vt.get("backtest_mase")),
                "baseline_mase": number(vt.get("baseline_mase")),
                "holdout_mase": number(vt.get("holdout_mase")),
            }
        )
    return pd.DataFrame(rows, columns=LIST_COLUMNS)


def show_model(settings: Settings, name: str) -> dict:
    """A registered model: its tags, aliases, every version (tags, aliases, run) and the
    champions' succession (oldest first)."""
    client = client_for(settings)
    name = registered_name(settings, name)
    model = get_model(client, settings, name)
    try:
        versions = all_versions(client, f"name = '{name}'")
    except MlflowException as exc:
        raise registry_error(exc, settings, f"reading {name}") from None
    aliases_of: dict[str, list[str]] = {}
    for alias, version in aliases(model).items():
        aliases_of.setdefault(str(version), []).append(alias)
    return {
        "name": name,
        "isbn": model.tags.get("isbn") or name.removeprefix(MODEL_PREFIX),
        "title": model.tags.get("title", ""),
        "description": model.description or "",
        "tracking_uri": settings.tracking_uri,
        "aliases": aliases(model),
        "tags": {k: v for k, v in model.tags.items() if k != history.HISTORY_TAG},
        "champion_history": history.parse(model.tags),
        "versions": [
            {
                "version": str(v.version),
                "created": datetime.fromtimestamp(v.creation_timestamp / 1000, UTC).isoformat(
                    timespec="seconds"
                ),
                "run_id": v.run_id,
                "source": v.source,
                "status": v.status,
                "aliases": sorted(aliases_of.get(str(v.version), [])),
                "tags": dict(v.tags),
            }
            for v in sorted(versions, key=lambda v: int(v.version), reverse=True)
        ],
    }
