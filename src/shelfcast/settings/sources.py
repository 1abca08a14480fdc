"""The layers read by `load_settings`: the environment's defaults, the settings file, the
variables and the options given by the code."""

from __future__ import annotations

import copy
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
)
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
)

from shelfcast.settings.sections import (
    DELIMITER,
    ENVIRONMENTS,
    PREFIX,
    SETTINGS_VARIABLE,
    WELL_KNOWN_VARIABLES,
    Section,
    SettingsError,
    merge,
)
from shelfcast.settings.tree import (
    ENVIRONMENT_DEFAULTS,
    FLAT_NAMES,
    SECTIONS,
    Settings,
    check_names,
    default_home,
    nest_flat,
    refuse_unknown,
    validated,
)


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
                flat = merge(flat, {section: {field: value}})
                labels[(section, field)] = variable.upper()
            elif not _is_leaf(path):
                unknown.append(name.replace(DELIMITER, "."))
            else:
                labels[path] = variable.upper()
        refuse_unknown(unknown, f"environment variables {PREFIX}*")
        self.env_vars = {
            k: v for k, v in self.env_vars.items() if k.removeprefix(prefix) not in FLAT_NAMES
        }
        well_known: dict[str, Any] = {}
        for variable, path in WELL_KNOWN_VARIABLES.items():
            if os.environ.get(variable):
                well_known = merge(well_known, _tree(path, os.environ[variable]))
                labels.setdefault(path, variable)
        values = merge(merge(well_known, flat), super().__call__())
        if "environment" in values:
            _environment_of(values["environment"], labels[("environment",)])
        return validated(values, lambda path: labels.get(path, f"environment variables {PREFIX}*"))


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
        home = Path(state.get("home") or default_home()).expanduser()
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
        validated(top, lambda _path: str(path))
        by_environment = {}
        for name in ENVIRONMENTS:
            table = document.get(name, {})
            where = f"{path} [{name}]"
            if "environment" in table:
                raise SettingsError(f"{where}: environment cannot be set inside an environment")
            by_environment[name] = validated(nest_flat(table, where), lambda _p, w=where: w)
        environment = _environment_of(
            state.get("environment") or top.get("environment") or "development", str(path)
        )
        return merge(top, by_environment[environment])


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
    check_names(overrides, "options")
    if "environment" in overrides:
        _environment_of(overrides["environment"], "options")
    validated(
        {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in overrides.items()},
        lambda _path: "options",
    )
    layered = _Layered(**overrides)
    return Settings.model_construct(
        _fields_set=layered.model_fields_set,
        **{k: getattr(layered, k) for k in Settings.model_fields},
    )
