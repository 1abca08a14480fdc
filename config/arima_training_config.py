"""The seed's configuration names, kept importable; every value comes from `shelfcast.settings`.

    from config.arima_training_config import get_arima_config, DEFAULT_TEST_ISBNS

    config = get_arima_config()                      # DEPLOYMENT_ENV, else development
    config = get_production_config(n_origins=4)      # any Shelfcast setting, by name
    config.environment, config.split_size, config.to_dict(), config.settings

The seed's Optuna knobs (`n_trials`, `patience`, `force_retrain`, ...) are gone with its Optuna
search: passing one is an error that names it, like any unknown setting. Run from the
repository root (the seed's layout), or with the repository root on `sys.path`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

_SRC = Path(__file__).resolve().parents[1] / "src"
try:
    import shelfcast  # noqa: F401
except ImportError:  # a checkout without `pip install -e .`
    sys.path.insert(0, str(_SRC))

from shelfcast.settings import FIELDS, Settings, load_settings  # noqa: E402

_DEFAULTS = Settings()
DEFAULT_TEST_ISBNS: list[str] = list(_DEFAULTS.default_test_isbns)
DEFAULT_SPLIT_SIZE: int = _DEFAULTS.split_size  # 32
DEFAULT_MAX_SEASONAL_BOOKS: int = _DEFAULTS.max_seasonal_books  # 15


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Values as the settings' types: paths from text, tuples from lists (as `to_dict` gives)."""
    out = {}
    for name, value in values.items():
        default = getattr(_DEFAULTS, name, None)
        if isinstance(default, Path) and isinstance(value, str):
            value = Path(value)
        elif isinstance(default, tuple) and isinstance(value, list | str):
            value = tuple(value.split(",")) if isinstance(value, str) else tuple(value)
        out[name] = value
    return out


class ARIMATrainingConfig:
    """The seed's configuration object, now a view of Shelfcast's `Settings`.

    Attributes are the settings' fields (`environment`, `split_size`, `max_seasonal_books`,
    `default_test_isbns`, `n_origins`, `tracking_uri`, ...). Environments are development,
    testing and production, chosen by `environment` or `DEPLOYMENT_ENV`.
    """

    def __init__(self, environment: str | None = None, **overrides: Any) -> None:
        self.settings: Settings = load_settings(environment=environment, **_coerce(overrides))

    @property
    def environment(self) -> str:
        return self.settings.environment

    def __getattr__(self, name: str) -> Any:
        if name != "settings" and (name in FIELDS or hasattr(Settings, name)):
            return getattr(self.settings, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        return self.settings.as_dict()

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any]) -> ARIMATrainingConfig:
        values = dict(config_dict)
        return cls(environment=values.pop("environment", None), **values)

    @classmethod
    def from_json_file(cls, file_path: str | Path) -> ARIMATrainingConfig:
        return cls.from_dict(json.loads(Path(file_path).read_text()))

    def save_to_json_file(self, file_path: str | Path) -> None:
        Path(file_path).write_text(json.dumps(self.to_dict(), indent=2))

    def log_configuration(self, logger: Any) -> None:
        s = self.settings
        logger.info(
            f"Training configuration ({s.environment}): split {s.split_size} weeks, "
            f"{s.n_origins} backtest origins, at most {s.max_seasonal_books} seasonal titles, "
            f"MLflow {s.tracking_uri} (experiment {s.experiment_name})"
        )

    def __repr__(self) -> str:
        return f"ARIMATrainingConfig(environment={self.environment!r})"


def get_arima_config(environment: str | None = None, **overrides: Any) -> ARIMATrainingConfig:
    """The configuration of `environment` (default: `DEPLOYMENT_ENV`, else development)."""
    return ARIMATrainingConfig(environment=environment, **overrides)


def get_development_config(**overrides: Any) -> ARIMATrainingConfig:
    return get_arima_config(environment="development", **overrides)


def get_testing_config(**overrides: Any) -> ARIMATrainingConfig:
    return get_arima_config(environment="testing", **overrides)


def get_production_config(**overrides: Any) -> ARIMATrainingConfig:
    return get_arima_config(environment="production", **overrides)
