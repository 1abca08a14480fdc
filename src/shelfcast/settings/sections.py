"""The settings' sections: one frozen model a concern, and how their values are checked."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from shelfcast.errors import ShelfcastError

Environment = Literal["development", "testing", "production"]
ENVIRONMENTS: tuple[str, ...] = typing.get_args(Environment)
EndpointBackend = Literal["local", "vertex"]
ENDPOINT_BACKENDS: tuple[str, ...] = typing.get_args(EndpointBackend)

PREFIX = "SHELFCAST_"
DELIMITER = "__"
SETTINGS_VARIABLE = "SHELFCAST_SETTINGS"  # the settings file; a variable of ours, not a field
# Variables other tools know, each the path of the setting it sets (below `SHELFCAST_*`).
WELL_KNOWN_VARIABLES: Mapping[str, tuple[str, ...]] = types.MappingProxyType(
    {
        "DEPLOYMENT_ENV": ("environment",),
        "MLFLOW_TRACKING_URI": ("registry", "mlflow_tracking_uri"),
        "GCP_PROJECT": ("gcp", "project"),
        "GCP_REGION": ("gcp", "region"),
    }
)


class SettingsError(ShelfcastError):
    """A setting is unknown or has a value of the wrong kind."""


@dataclass(frozen=True)
class Flat:
    """Marks a section's field that was a top-level setting before sections, by its old name
    (the field's own name when not given): `FLAT_NAMES` is made from these marks."""

    name: str | None = None


def _items(value: Any) -> Any:
    """A list from comma-separated text (a variable), as from a TOML array."""
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    return value


def _levels(value: tuple[int, ...]) -> tuple[int, ...]:
    if any(not 0 < level < 100 for level in value):
        raise ValueError(f"interval levels must be between 1 and 99, got {list(value)}")
    return tuple(sorted(set(value)))


Items = Annotated[tuple[str, ...], BeforeValidator(_items)]
Levels = Annotated[tuple[int, ...], BeforeValidator(_items)]
Quantiles = Annotated[tuple[float, ...], BeforeValidator(_items)]


def _may_be_none(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def blank_is_none(model: type[BaseModel], data: Any) -> Any:
    """'' (an empty variable or file value) for a setting that may be unset means unset."""
    if not isinstance(data, Mapping):
        return data
    fields = model.model_fields
    return {
        k: None if v == "" and k in fields and _may_be_none(fields[k].annotation) else v
        for k, v in data.items()
    }


class Section(BaseModel):
    """A frozen group of settings; unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return blank_is_none(cls, data)


class DataSettings(Section):
    """Where the sales come from, and from when."""

    # sales files or URIs (xlsx, csv, parquet; local, gs://); empty: the sample catalogue
    paths: Annotated[Items, Flat("data")] = ()
    # weeks before this date are left out; '' (the default) keeps all history
    start_date: Annotated[str, Flat()] = ""
    sample_seed: int = 42  # the built-in sample catalogue's random seed
    # the title list beside the sales files (ISBN, Title, Author, Binding, Imprint, Product
    # Class, RRP, Publication Date): fills blank names and announces titles not yet on sale;
    # '' none (the sample catalogue has its own)
    isbn_list: str = ""


class SelectionSettings(Section):
    """Which titles are trained when none are named."""

    max_seasonal_books: Annotated[int, Field(ge=1), Flat()] = 15
    # always selected when in the data (The Alchemist; The Very Hungry Caterpillar)
    default_test_isbns: Annotated[Items, Flat()] = ("9780722532935", "9780241003008")


class TrainingSettings(Section):
    """How titles are fitted, and where."""

    workers: Annotated[int | None, Field(ge=1), Flat()] = None  # None: one per CPU
    dask_scheduler: Annotated[str | None, Flat()] = None  # a dask.distributed address
    # each model is fitted on the last this many weeks (four years); None: every week
    max_train_weeks: Annotated[int | None, Field(ge=1), Flat()] = 208
    season_length: Annotated[int, Field(ge=1)] = 52  # weeks in a seasonal period


class BacktestSettings(Section):
    """How candidates are compared: rolling origins, then a holdout."""

    split_size: Annotated[int, Field(ge=1), Flat()] = 32  # weeks per origin and of the holdout
    n_origins: Annotated[int, Field(ge=1), Flat()] = 3


class RegistrySettings(Section):
    """The MLflow tracking server and registry, and when a new version becomes champion."""

    mlflow_tracking_uri: Annotated[str | None, Flat()] = None  # None: SQLite in the project
    experiment_prefix: Annotated[str, Flat()] = "book_sales"  # + "_<environment>"
    promotion_min_improvement: Annotated[float, Flat()] = 0.0  # relative MASE gain needed
    # the registered model whose versions hold the whole catalogue (`train --all`)
    catalogue_model: Annotated[str, Field(min_length=1)] = "book_sales_catalogue"


class ServingSettings(Section):
    """The prediction server, and what a forecast covers when the request does not say."""

    # bearer token; required when a server binds beyond loopback
    server_token: Annotated[str | None, Flat()] = None
    # share of predictions written to the prediction log
    prediction_log_sample_rate: Annotated[float, Field(ge=0.0, le=1.0), Flat()] = 1.0
    # a server's log file is rotated past this size (bytes) or this age (hours)...
    prediction_log_max_bytes: Annotated[int, Field(ge=4096)] = 64 * 2**20
    prediction_log_rotate_hours: Annotated[float, Field(gt=0.0)] = 24.0
    # ...and rotated files are deleted after this many days, or beyond this many in the folder
    prediction_log_retention_days: Annotated[float, Field(gt=0.0)] = 30.0
    prediction_log_max_files: Annotated[int, Field(ge=1)] = 100
    horizon: Annotated[int, Field(ge=1)] = 32  # weeks ahead
    # interval levels, percent: of a forecast, and those backtests score
    levels: Annotated[Levels, Field(min_length=1)] = (80, 95)
    # quantiles of a forecast (columns p10, p50, p90)
    quantiles: Annotated[Quantiles, Field(min_length=1)] = (0.1, 0.5, 0.9)

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _levels(value)

    @field_validator("quantiles")
    @classmethod
    def _check_quantiles(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0.005 <= q <= 0.995 for q in value):
            raise ValueError(f"quantiles must be between 0.005 and 0.995, got {list(value)}")
        return tuple(sorted(set(value)))


class EndpointSettings(Section):
    """Named endpoints and their backend; the Vertex AI deployment."""

    backend: Annotated[EndpointBackend, Flat("endpoint_backend")] = "local"
    name: Annotated[str, Flat("endpoint_name")] = "book-sales"
    # the server image, e.g. europe-west2-docker.pkg.dev/P/shelfcast/server:0.1.0
    serving_image_uri: Annotated[str | None, Flat()] = None
    # server processes per deployed model of a local endpoint, kept running by its router
    # (Vertex AI's own floor is `vertex_min_replicas`: billed machines, not processes)
    min_replicas: Annotated[int, Field(ge=1)] = 2
    vertex_machine_type: Annotated[str, Flat()] = "n1-standard-2"
    vertex_min_replicas: Annotated[int, Field(ge=1), Flat()] = 1
    vertex_max_replicas: Annotated[int, Field(ge=1), Flat()] = 2
    vertex_cpu_target: Annotated[int, Field(ge=1, le=100), Flat()] = 60  # percent CPU
    vertex_service_account: Annotated[str | None, Flat()] = None


class AlertRules(Section):
    """The thresholds of the monitoring alerts (`shelfcast.monitoring.alerts`)."""

    error_ratio: float = 1.5
    error_weeks: int = 4
    coverage_level: int = 95
    coverage_min: float = 80.0  # percent
    coverage_weeks: int = 8
    shift_weeks: int = 4
    bias_max: float = 0.3
    bias_weeks: int = 8
    rollback_ratio: float = 1.2
    rollback_weeks: int = 4


class MonitoringSettings(Section):
    """When monitoring raises an alert, and how a retrained version is judged."""

    alerts: AlertRules = AlertRules()
    # how much worse on the newest window a retrained version may do and still take over
    retrain_tolerance: Annotated[float, Field(ge=0.0)] = 0.05


class GcpSettings(Section):
    """The Google Cloud project and region."""

    project: Annotated[str | None, Flat("gcp_project")] = None
    region: Annotated[str, Flat("gcp_region")] = "europe-west2"


DESCRIBE = {
    "int": "a whole number",
    "float": "a number",
    "string": "text",
    "path": "a path",
    "tuple": "a list (or comma-separated text)",
    "bool": "true or false",
}


def explain(errors: list[Any], where: Callable[[tuple[str, ...]], str]) -> str:
    """Each problem (pydantic's errors) as `<source>: <setting> <what is wrong>, got <value>`."""
    lines = []
    for error in errors:
        path = tuple(str(p) for p in error["loc"] if isinstance(p, str))
        name = ".".join(path) or "settings"
        kind, ctx, value = error["type"], error.get("ctx", {}), error.get("input")
        if kind == "extra_forbidden":
            text = f"unknown setting(s) {name}"
        elif kind == "literal_error":
            text = f"unknown {name} {value!r}; choose one of {ctx.get('expected')}"
        elif kind in ("greater_than_equal", "greater_than"):
            text = f"{name} must be at least {ctx.get('ge', ctx.get('gt'))}, got {value!r}"
        elif kind in ("less_than_equal", "less_than"):
            text = f"{name} must be at most {ctx.get('le', ctx.get('lt'))}, got {value!r}"
        elif kind.split("_")[0] in DESCRIBE:
            text = f"{name} must be {DESCRIBE[kind.split('_')[0]]}, got {value!r}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            text = f"{name}: {message}, got {value!r}"
        lines.append(f"{where(path)}: {text}")
    return "; ".join(lines)


def merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `changes`, tables merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
