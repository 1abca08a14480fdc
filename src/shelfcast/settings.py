"""One settings tree: the code's defaults, then the environment's defaults, then a settings
file, then environment variables, then options given by the code (command-line options).

The tree is a root (`environment`, `home`, `artifact_uri`) with one section a concern: `data`,
`selection`, `training`, `backtest`, `registry`, `serving`, `endpoints`, `monitoring`, `gcp`.
Every default is written once, here; the layers below the command line take the values from
`load_settings()` as parameters.

The settings file is TOML: `SHELFCAST_SETTINGS`, else `shelfcast.toml` in the working
directory, else `settings.toml` in the project folder. A table per section (`[training]`) applies
to every environment; a table named after an environment applies to that one only, with its
sections nested (`[production.training]`). Every field can be set by a variable
`SHELFCAST_<SECTION>__<FIELD>` (`SHELFCAST_TRAINING__WORKERS=4`; a root field by
`SHELFCAST_<FIELD>`); the well-known variables `DEPLOYMENT_ENV`, `MLFLOW_TRACKING_URI`,
`GCP_PROJECT` and `GCP_REGION` are read too, below the `SHELFCAST_` ones.

The settings of before the sections were flat (`n_origins = 4`, `SHELFCAST_ENDPOINT_BACKEND`).
Those names still work, in the file (at the top and in an environment's table) and as
variables: `FLAT_NAMES` maps each onto its section, derived from the `Flat` marks on the fields.

Unknown environments, tables, settings and variables are errors that name them; so is a value of
the wrong kind, with where it came from.
"""

from __future__ import annotations

import copy
import difflib
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
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


def _may_be_none(annotation: Any) -> bool:
    return type(None) in typing.get_args(annotation)


def _blank_is_none(model: type[BaseModel], data: Any) -> Any:
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
        return _blank_is_none(cls, data)


class DataSettings(Section):
    """Where the sales come from, and from when."""

    # sales files or URIs (xlsx, csv, parquet; local, gs://); empty: the sample catalogue
    paths: Annotated[Items, Flat("data")] = ()
    # weeks before this date are left out; '' keeps all history
    start_date: Annotated[str, Flat()] = "2012-01-01"
    sample_seed: int = 42  # the built-in sample catalogue's random seed


class SelectionSettings(Section):
    """Which titles are trained when none are named."""

    max_seasonal_books: Annotated[int, Field(ge=1), Flat()] = 15
    # always selected when in the data (The Alchemist; The Very Hungry Caterpillar)
    default_test_isbns: Annotated[Items, Flat()] = ("9780722532935", "9780241003008")


class TrainingSettings(Section):
    """How titles are fitted, and where."""

    workers: Annotated[int | None, Field(ge=1), Flat()] = None  # None: one per CPU
    dask_scheduler: Annotated[str | None, Flat()] = None  # a dask.distributed address
    max_train_weeks: Annotated[int | None, Field(ge=1), Flat()] = None  # None: all weeks
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


class ServingSettings(Section):
    """The prediction server, and what a forecast covers when the request does not say."""

    # bearer token; required when a server binds beyond loopback
    server_token: Annotated[str | None, Flat()] = None
    # share of predictions written to the prediction log
    prediction_log_sample_rate: Annotated[float, Field(ge=0.0, le=1.0), Flat()] = 1.0
    horizon: Annotated[int, Field(ge=1)] = 32  # weeks ahead
    # interval levels, percent: of a forecast, and those backtests score
    levels: Annotated[Levels, Field(min_length=1)] = (80, 95)

    @field_validator("levels")
    @classmethod
    def _check_levels(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        return _levels(value)


class EndpointSettings(Section):
    """Named endpoints and their backend; the Vertex AI deployment."""

    backend: Annotated[EndpointBackend, Flat("endpoint_backend")] = "local"
    name: Annotated[str, Flat("endpoint_name")] = "book-sales"
    # the server image, e.g. europe-west2-docker.pkg.dev/P/shelfcast/server:0.1.0
    serving_image_uri: Annotated[str | None, Flat()] = None
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


def _default_home() -> Path:
    return Path.cwd() / ".shelfcast"


class Settings(BaseSettings):
    """Everything Shelfcast can be configured with.

    `Settings(...)` holds the values given over the code's defaults, nothing else (to restore
    settings, or in tests); `load_settings()` reads every layer.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        env_prefix=PREFIX,
        env_nested_delimiter=DELIMITER,
        case_sensitive=False,
        enable_decoding=False,  # lists are comma-separated text, as before
    )

    environment: Environment = "development"
    home: Path = Field(default_factory=_default_home)  # the project folder
    artifact_uri: str | None = None  # releases and bundles; None: <home>/artifacts
    data: DataSettings = DataSettings()
    selection: SelectionSettings = SelectionSettings()
    training: TrainingSettings = TrainingSettings()
    backtest: BacktestSettings = BacktestSettings()
    registry: RegistrySettings = RegistrySettings()
    serving: ServingSettings = ServingSettings()
    endpoints: EndpointSettings = EndpointSettings()
    monitoring: MonitoringSettings = MonitoringSettings()
    gcp: GcpSettings = GcpSettings()

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(
                _explain(exc.errors(include_url=False), lambda _: "settings")
            ) from None

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return _blank_is_none(cls, data)

    @field_validator("home")
    @classmethod
    def _expand_home(cls, value: Path) -> Path:
        return value.expanduser()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """`Settings(...)`: the values given, over the code's defaults."""
        return (init_settings,)

    @property
    def experiment_name(self) -> str:
        return f"{self.registry.experiment_prefix}_{self.environment}"

    @property
    def tracking_uri(self) -> str:
        return self.registry.mlflow_tracking_uri or f"sqlite:///{self.home / 'mlflow.db'}"

    @property
    def artifact_root(self) -> str:
        """The artifact store's root URI (a local path or gs://, s3://)."""
        return self.artifact_uri or str(self.home / "artifacts")

    def sample_path(self, seed: int | None = None) -> Path:
        """Where the sample catalogue for `seed` (default `data.sample_seed`) is written on
        first use."""
        seed = self.data.sample_seed if seed is None else seed
        return self.home / "sample" / f"seed-{seed}" / "bookscan_weekly.parquet"

    def as_dict(self) -> dict[str, Any]:
        """Every setting as plain JSON values, nested by section."""
        return self.model_dump(mode="json")

    def as_flat_dict(self) -> dict[str, Any]:
        """Every setting by its dotted name (`backtest.n_origins`), as plain JSON values."""

        def flat(values: Mapping[str, Any], prefix: str) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for key, value in values.items():
                if isinstance(value, Mapping):
                    out.update(flat(value, f"{prefix}{key}."))
                else:
                    out[f"{prefix}{key}"] = value
            return out

        return flat(self.as_dict(), "")

    def replace(self, **changes: Any) -> Settings:
        """These settings with `changes` (root fields, or a section's fields as a dict:
        `replace(training={"workers": 2})`), validated."""
        _check_names(changes, "changes")
        return Settings(**_merge(self.model_dump(), changes))


# ------------------------------------------------------------------------- the layers


SECTIONS: Mapping[str, type[Section]] = types.MappingProxyType(
    {
        name: info.annotation
        for name, info in Settings.model_fields.items()
        if isinstance(info.annotation, type) and issubclass(info.annotation, Section)
    }
)
ROOT_FIELDS = tuple(name for name in Settings.model_fields if name not in SECTIONS)


def _flat_names() -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for section, model in SECTIONS.items():
        for name, info in model.model_fields.items():
            for mark in info.metadata:
                if isinstance(mark, Flat):
                    old = mark.name or name
                    if old in table or old in ROOT_FIELDS:
                        raise TypeError(f"the flat setting name {old!r} is given twice")
                    table[old] = (section, name)
    return table


# Each setting's name from before the sections (`n_origins`) -> (section, field).
FLAT_NAMES: Mapping[str, tuple[str, str]] = types.MappingProxyType(_flat_names())

# Differences between environments: how hard models are backtested, how much better a new
# version must be before it takes the `champion` alias, where endpoints are served.
ENVIRONMENT_DEFAULTS: Mapping[str, Mapping[str, Any]] = types.MappingProxyType(
    {
        "development": {},
        "testing": {"registry": {"promotion_min_improvement": 0.01}},
        "production": {
            "backtest": {"n_origins": 4},
            "registry": {"promotion_min_improvement": 0.02},
            "endpoints": {"backend": "vertex"},
        },
    }
)


def _merge(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` updated by `changes`, tables merged key by key."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _known_names(model: type[BaseModel] = Settings, prefix: str = "") -> list[str]:
    """Every setting's dotted name, sections' fields included."""
    out = []
    for name, info in model.model_fields.items():
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            out += _known_names(annotation, f"{prefix}{name}.")
        else:
            out.append(f"{prefix}{name}")
    return out


def _unknown(values: Mapping[str, Any], model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted names in `values` that `model` has no field for."""
    out = []
    for key, value in values.items():
        info = model.model_fields.get(key)
        if info is None:
            out.append(f"{prefix}{key}")
        elif (
            isinstance(info.annotation, type)
            and issubclass(info.annotation, Section)
            and isinstance(value, Mapping)
        ):
            out += _unknown(value, info.annotation, f"{prefix}{key}.")
    return out


def _refuse_unknown(names: list[str], where: str) -> None:
    if not names:
        return
    known = _known_names() + list(FLAT_NAMES)
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    raise SettingsError(
        f"{where}: unknown setting(s) {', '.join(hints)}; settings are "
        f"{', '.join(ROOT_FIELDS)} and the sections {', '.join(SECTIONS)} (README: Configuration)"
    )


def _check_names(values: Mapping[str, Any], where: str) -> None:
    """Root fields and sections (a section as a dict of its fields, or its model) only."""
    shaped = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in values.items()}
    _refuse_unknown(_unknown(shaped, Settings), where)


def nest_flat(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Settings by their names of before the sections (`{"n_origins": 4}`) mixed with root
    fields and sections, as a tree (`{"backtest": {"n_origins": 4}}`). A section given as a table
    wins over flat names for the same field. Unknown names are an error naming `where`."""
    flat: dict[str, Any] = {}
    nested: dict[str, Any] = {}
    for key, value in values.items():
        if key in FLAT_NAMES and not (key in SECTIONS and isinstance(value, Mapping)):
            section, name = FLAT_NAMES[key]
            flat.setdefault(section, {})[name] = value
        else:
            nested[key] = value
    _check_names(nested, where)
    return _merge(flat, nested)


_DESCRIBE = {
    "int": "a whole number",
    "float": "a number",
    "string": "text",
    "path": "a path",
    "tuple": "a list (or comma-separated text)",
    "bool": "true or false",
}


def _explain(errors: list[Any], where: Callable[[tuple[str, ...]], str]) -> str:
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
        elif kind.split("_")[0] in _DESCRIBE:
            text = f"{name} must be {_DESCRIBE[kind.split('_')[0]]}, got {value!r}"
        else:
            message = error["msg"].removeprefix("Value error, ")
            text = f"{name}: {message}, got {value!r}"
        lines.append(f"{where(path)}: {text}")
    return "; ".join(lines)


def _validated(values: dict[str, Any], where: Callable[[tuple[str, ...]], str]) -> dict[str, Any]:
    """`values` (part of the tree, from one source) if they are valid settings, else a
    `SettingsError` naming the source, the setting and the value."""
    errors = []
    for key, value in values.items():
        info = Settings.model_fields[key]
        try:
            kind = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
            TypeAdapter(kind).validate_python(value)
        except ValidationError as exc:
            errors += [{**e, "loc": (key, *e["loc"])} for e in exc.errors(include_url=False)]
    if errors:
        raise SettingsError(_explain(errors, where))
    return values


def _environment_of(value: Any, where: str) -> str:
    if value not in ENVIRONMENTS:
        raise SettingsError(
            f"{where}: unknown environment {value!r}; choose one of {', '.join(ENVIRONMENTS)}"
        )
    return value


def settings_file(home: Path) -> Path | None:
    """The settings file: `SHELFCAST_SETTINGS`, `./shelfcast.toml` or `<home>/settings.toml`."""
    explicit = os.environ.get(SETTINGS_VARIABLE)
    if explicit:
        if not Path(explicit).is_file():
            raise SettingsError(f"{SETTINGS_VARIABLE} points to {explicit}, which does not exist")
        return Path(explicit)
    for candidate in (Path.cwd() / "shelfcast.toml", home / "settings.toml"):
        if candidate.is_file():
            return candidate
    return None


class _Variables(EnvSettingsSource):
    """`SHELFCAST_<SECTION>__<FIELD>` and `SHELFCAST_<FIELD>` variables (pydantic-settings'
    nested variables), the flat names of before the sections (`SHELFCAST_N_ORIGINS`), and below
    them the well-known variables. Unknown `SHELFCAST_*` variables are an error."""

    def __call__(self) -> dict[str, Any]:
        prefix = PREFIX.lower()
        ours = {
            k: v
            for k, v in self.env_vars.items()
            if k.startswith(prefix) and k != SETTINGS_VARIABLE.lower()
        }
        labels: dict[tuple[str, ...], str] = {}
        flat: dict[str, Any] = {}
        unknown = []
        for variable, value in ours.items():
            name = variable.removeprefix(prefix)
            path = tuple(name.split(DELIMITER))
            if name in FLAT_NAMES:
                section, field = FLAT_NAMES[name]
                flat = _merge(flat, {section: {field: value}})
                labels[(section, field)] = variable.upper()
            elif not _is_leaf(path):
                unknown.append(name.replace(DELIMITER, "."))
            else:
                labels[path] = variable.upper()
        _refuse_unknown(unknown, f"environment variables {PREFIX}*")
        self.env_vars = {
            k: v for k, v in self.env_vars.items() if k.removeprefix(prefix) not in FLAT_NAMES
        }
        well_known: dict[str, Any] = {}
        for variable, path in WELL_KNOWN_VARIABLES.items():
            if os.environ.get(variable):
                well_known = _merge(well_known, _tree(path, os.environ[variable]))
                labels.setdefault(path, variable)
        values = _merge(_merge(well_known, flat), super().__call__())
        if "environment" in values:
            _environment_of(values["environment"], labels[("environment",)])
        return _validated(values, lambda path: labels.get(path, f"environment variables {PREFIX}*"))


def _is_leaf(path: tuple[str, ...]) -> bool:
    """Whether `path` names one setting (a root field, or a field in a section)."""
    model: type[BaseModel] = Settings
    for i, key in enumerate(path):
        info = model.model_fields.get(key)
        if info is None:
            return False
        annotation = info.annotation
        is_section = isinstance(annotation, type) and issubclass(annotation, Section)
        if i == len(path) - 1:
            return not is_section
        if not is_section:
            return False
        model = annotation
    return False


def _tree(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    for key in reversed(path[1:]):
        value = {key: value}
    return {path[0]: value}


class _SettingsFile(PydanticBaseSettingsSource):
    """The settings file: the top level and sections for every environment, then the table of
    the environment chosen (by a higher layer, else by the file's `environment`)."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # the file is read whole in __call__

    def __call__(self) -> dict[str, Any]:
        state = self.current_state
        home = Path(state.get("home") or _default_home()).expanduser()
        path = settings_file(home)
        if path is None:
            return {}
        try:
            document = tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings: {exc}") from None
        tables = {k for k, v in document.items() if isinstance(v, dict)}
        unknown_tables = sorted(tables - set(ENVIRONMENTS) - set(SECTIONS))
        if unknown_tables:
            raise SettingsError(
                f"{path}: unknown table(s) {', '.join(unknown_tables)}; tables are the sections "
                f"({', '.join(SECTIONS)}) and the environments ({', '.join(ENVIRONMENTS)})"
            )
        top = nest_flat({k: v for k, v in document.items() if k not in ENVIRONMENTS}, str(path))
        _validated(top, lambda _path: str(path))
        by_environment = {}
        for name in ENVIRONMENTS:
            table = document.get(name, {})
            where = f"{path} [{name}]"
            if "environment" in table:
                raise SettingsError(f"{where}: environment cannot be set inside an environment")
            by_environment[name] = _validated(nest_flat(table, where), lambda _p, w=where: w)
        environment = _environment_of(
            state.get("environment") or top.get("environment") or "development", str(path)
        )
        return _merge(top, by_environment[environment])


class _EnvironmentDefaults(PydanticBaseSettingsSource):
    """`ENVIRONMENT_DEFAULTS` of the environment the layers above chose."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        environment = self.current_state.get("environment") or "development"
        return copy.deepcopy(dict(ENVIRONMENT_DEFAULTS[environment]))


class _Layered(Settings):
    """The settings as `load_settings` reads them: every layer, highest first."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            _Variables(settings_cls),
            _SettingsFile(settings_cls),
            _EnvironmentDefaults(settings_cls),
        )


def _given(values: Mapping[str, Any]) -> dict[str, Any]:
    """Options that were given: None (an option left out) is dropped, in sections too."""
    out = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            value = _given(value)
            if not value:
                continue
        if value is not None:
            out[key] = value
    return out


def load_settings(**overrides: Any) -> Settings:
    """Settings from every layer; `overrides` (for example command-line options) win. They
    are root fields and sections, a section as a dict of the fields given:
    `load_settings(environment="testing", training={"workers": 2})`. None means not given."""
    overrides = _given(overrides)
    _check_names(overrides, "options")
    if "environment" in overrides:
        _environment_of(overrides["environment"], "options")
    _validated(
        {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in overrides.items()},
        lambda _path: "options",
    )
    layered = _Layered(**overrides)
    return Settings.model_construct(
        _fields_set=layered.model_fields_set,
        **{k: getattr(layered, k) for k in Settings.model_fields},
    )
