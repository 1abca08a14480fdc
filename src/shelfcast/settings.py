"""One settings object: defaults in code, then the environment's defaults, then a settings
file, then environment variables. Unknown environments and settings are errors naming them.

The settings file is TOML: `SHELFCAST_SETTINGS`, else `shelfcast.toml` in the working
directory, else `settings.toml` in the project folder. Top-level keys apply to every
environment; a table named after an environment (`[production]`) applies to that one only.
Every field can be set by `SHELFCAST_<FIELD>` (upper case); the well-known variables
`DEPLOYMENT_ENV`, `MLFLOW_TRACKING_URI`, `GCP_PROJECT` and `GCP_REGION` are read too.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from shelfcast.errors import ShelfcastError

ENVIRONMENTS = ("development", "testing", "production")
ENDPOINT_BACKENDS = ("local", "vertex")
SAMPLE_SEED = 42

# Differences between environments: how hard models are backtested, how much better a new
# version must be before it takes the `champion` alias.
ENVIRONMENT_DEFAULTS: dict[str, dict[str, Any]] = {
    "development": {},
    "testing": {"promotion_min_improvement": 0.01},
    "production": {
        "n_origins": 4,
        "promotion_min_improvement": 0.02,
        "endpoint_backend": "vertex",
    },
}
WELL_KNOWN_VARIABLES = {
    "DEPLOYMENT_ENV": "environment",
    "MLFLOW_TRACKING_URI": "mlflow_tracking_uri",
    "GCP_PROJECT": "gcp_project",
    "GCP_REGION": "gcp_region",
    "SHELFCAST_ARTIFACT_URI": "artifact_uri",
}
NOT_SETTINGS = {"SHELFCAST_SETTINGS"}  # variables of ours that are not fields


class SettingsError(ShelfcastError):
    """A setting is unknown or has a value of the wrong kind."""


@dataclass(frozen=True)
class Settings:
    """Everything Shelfcast can be configured with."""

    environment: str = "development"
    home: Path = field(default_factory=lambda: Path.cwd() / ".shelfcast")
    # data and title selection (the seed's defaults)
    data: tuple[str, ...] = ()  # sales files or URIs; empty means the sample catalogue
    start_date: str = "2012-01-01"
    split_size: int = 32
    max_seasonal_books: int = 15
    default_test_isbns: tuple[str, ...] = ("9780722532935", "9780241003008")
    # training
    n_origins: int = 3
    max_train_weeks: int | None = None
    workers: int | None = None
    dask_scheduler: str | None = None  # a dask.distributed address; None: a process pool
    # tracking and registry
    mlflow_tracking_uri: str | None = None  # None: a SQLite store in the project folder
    experiment_prefix: str = "book_sales"
    promotion_min_improvement: float = 0.0  # relative MASE gain a challenger needs
    # artifact store: releases and model bundles (a local folder, gs:// or s3://)
    artifact_uri: str | None = None  # None: <home>/artifacts
    # serving and endpoints
    endpoint_backend: str = "local"  # local | vertex
    endpoint_name: str = "book-sales"
    serving_image_uri: str | None = (
        None  # e.g. europe-west2-docker.pkg.dev/P/shelfcast/server:0.1.0
    )
    server_token: str | None = None  # bearer token; required when a server binds beyond loopback
    prediction_log_sample_rate: float = 1.0  # share of predictions written to the prediction log
    # Vertex AI deployment
    vertex_machine_type: str = "n1-standard-2"
    vertex_min_replicas: int = 1
    vertex_max_replicas: int = 2
    vertex_cpu_target: int = 60  # autoscaling target, percent CPU utilisation
    vertex_service_account: str | None = None
    # cloud
    gcp_project: str | None = None
    gcp_region: str = "europe-west2"

    def __post_init__(self) -> None:
        if self.environment not in ENVIRONMENTS:
            raise SettingsError(
                f"unknown environment {self.environment!r}; choose one of {', '.join(ENVIRONMENTS)}"
            )
        if self.endpoint_backend not in ENDPOINT_BACKENDS:
            raise SettingsError(
                f"unknown endpoint_backend {self.endpoint_backend!r}; "
                f"choose one of {', '.join(ENDPOINT_BACKENDS)}"
            )
        if not 0.0 <= self.prediction_log_sample_rate <= 1.0:
            raise SettingsError(
                "prediction_log_sample_rate must be between 0 and 1, "
                f"got {self.prediction_log_sample_rate}"
            )
        for name in ("split_size", "max_seasonal_books", "n_origins", "vertex_min_replicas"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1, got {getattr(self, name)}")

    @property
    def experiment_name(self) -> str:
        return f"{self.experiment_prefix}_{self.environment}"

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        """The artifact store's root URI (a local path or gs://, s3://)."""
        return self.artifact_uri or str(self.home / "artifacts")

    def sample_path(self, seed: int = SAMPLE_SEED) -> Path:
        """Where the sample catalogue for `seed` is written on first use."""
        return self.home / "sample" / f"seed-{seed}" / "bookscan_weekly.parquet"

    def as_dict(self) -> dict[str, Any]:
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def _plain(value: Any) -> Any:
    return (
        str(value)
        if isinstance(value, Path)
        else list(value)
        if isinstance(value, tuple)
        else value
    )


FIELDS = {f.name: f for f in fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def _coerce(name: str, value: Any, source: str) -> Any:
    """A value from a file or a variable, as the field's type."""
    hint = _HINTS[name]
    args = typing.get_args(hint)
    optional = isinstance(hint, types.UnionType) and type(None) in args
    base = next((a for a in args if a is not type(None)), hint) if optional else hint
    if optional and (value is None or value == ""):
        return None
    try:
        if typing.get_origin(base) is tuple:
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in items if str(v).strip())
        if base is Path:
            return Path(value).expanduser()
        if base is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if base is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{source}: {name} must be {_describe(base)}, got {value!r}") from None


def _describe(base: Any) -> str:
    names = {int: "a whole number", float: "a number", Path: "a path", str: "text"}
    return names.get(base, "a comma-separated list")


def _check_known(keys: typing.Iterable[str], source: str) -> None:
    unknown = sorted(set(keys) - set(FIELDS))
    if unknown:
        raise SettingsError(
            f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )


def settings_file(home: Path) -> Path | None:
    explicit = os.environ.get("SHELFCAST_SETTINGS")
    if explicit:
        if not Path(explicit).is_file():
            raise SettingsError(f"SHELFCAST_SETTINGS points to {explicit}, which does not exist")
        return Path(explicit)
    for candidate in (Path.cwd() / "shelfcast.toml", home / "settings.toml"):
        if candidate.is_file():
            return candidate
    return None


def _read_file(path: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Top-level settings and environment tables of a settings file, checked but not coerced."""
    try:
        document = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read settings: {exc}") from None
    tables = {k: v for k, v in document.items() if isinstance(v, dict)}
    unknown_tables = sorted(set(tables) - set(ENVIRONMENTS))
    if unknown_tables:
        raise SettingsError(f"{path}: unknown environment table(s) {', '.join(unknown_tables)}")
    top = {k: v for k, v in document.items() if k not in tables}
    _check_known(top, str(path))
    for name, table in tables.items():
        _check_known(table, f"{path} [{name}]")
    return top, tables


def _from_variables() -> dict[str, Any]:
    values: dict[str, Any] = {}
    for variable, name in WELL_KNOWN_VARIABLES.items():
        if os.environ.get(variable):
            values[name] = _coerce(name, os.environ[variable], variable)
    ours = {k for k in os.environ if k.startswith("SHELFCAST_")} - NOT_SETTINGS
    names = {k.removeprefix("SHELFCAST_").lower(): k for k in ours}
    _check_known(names, "environment variables SHELFCAST_*")
    for name, variable in names.items():
        values[name] = _coerce(name, os.environ[variable], variable)
    return values


def load_settings(**overrides: Any) -> Settings:
    """Settings from every layer; `overrides` (for example command-line options) win."""
    _check_known(overrides, "options")
    overrides = {k: v for k, v in overrides.items() if v is not None}
    variables = _from_variables()
    home = overrides.get("home") or variables.get("home") or Settings().home
    path = settings_file(Path(home))
    top, tables = _read_file(path) if path else ({}, {})
    environment = (
        overrides.get("environment")
        or variables.get("environment")
        or _coerce("environment", top.get("environment", "development"), str(path))
    )
    Settings(environment=environment)  # an unknown environment is refused before the rest
    values: dict[str, Any] = dict(ENVIRONMENT_DEFAULTS[environment])
    values.update({k: _coerce(k, v, str(path)) for k, v in top.items()})
    section = tables.get(environment, {})
    values.update({k: _coerce(k, v, f"{path} [{environment}]") for k, v in section.items()})
    values.update(variables)
    values.update(overrides)
    values["environment"] = environment
    return dataclasses.replace(Settings(), **values)
