"""The settings tree: the root and its sections, the names of before the sections, the
environments' defaults, and the checks of names and values every layer goes through."""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shelfcast.settings.sections import (
    DELIMITER,
    PREFIX,
    BacktestSettings,
    DataSettings,
    EndpointSettings,
    Environment,
    Flat,
    GcpSettings,
    MonitoringSettings,
    RegistrySettings,
    Section,
    SelectionSettings,
    ServingSettings,
    SettingsError,
    TrainingSettings,
    blank_is_none,
    explain,
    merge,
)


def default_home() -> Path:
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
    home: Path = Field(default_factory=default_home)  # the project folder
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
                explain(exc.errors(include_url=False), lambda _: "settings")
            ) from None

    @model_validator(mode="before")
    @classmethod
    def _blanks(cls, data: Any) -> Any:
        return blank_is_none(cls, data)

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
        check_names(changes, "changes")
        return Settings(**merge(self.model_dump(), changes))


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


def refuse_unknown(names: list[str], where: str) -> None:
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


def check_names(values: Mapping[str, Any], where: str) -> None:
    """Root fields and sections (a section as a dict of its fields, or its model) only."""
    shaped = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in values.items()}
    refuse_unknown(_unknown(shaped, Settings), where)


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
    check_names(nested, where)
    return merge(flat, nested)


def validated(values: dict[str, Any], where: Callable[[tuple[str, ...]], str]) -> dict[str, Any]:
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
        raise SettingsError(explain(errors, where))
    return values
