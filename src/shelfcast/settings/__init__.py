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

from shelfcast.settings.sections import (
    ENDPOINT_BACKENDS,
    ENVIRONMENTS,
    AlertRules,
    BacktestSettings,
    DataSettings,
    EndpointSettings,
    GcpSettings,
    MonitoringSettings,
    RegistrySettings,
    SelectionSettings,
    ServingSettings,
    SettingsError,
    TrainingSettings,
)
from shelfcast.settings.sources import load_settings, settings_file
from shelfcast.settings.tree import ENVIRONMENT_DEFAULTS, FLAT_NAMES, SECTIONS, Settings, nest_flat

__all__ = [
    "ENDPOINT_BACKENDS",
    "ENVIRONMENTS",
    "ENVIRONMENT_DEFAULTS",
    "FLAT_NAMES",
    "SECTIONS",
    "AlertRules",
    "BacktestSettings",
    "DataSettings",
    "EndpointSettings",
    "GcpSettings",
    "MonitoringSettings",
    "RegistrySettings",
    "SelectionSettings",
    "ServingSettings",
    "Settings",
    "SettingsError",
    "TrainingSettings",
    "load_settings",
    "nest_flat",
    "settings_file",
]
