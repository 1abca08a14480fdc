"""The seed's configuration names, kept importable; every value comes from `shelfcast.settings`.

    from config.arima_training_config import get_arima_config, DEFAULT_TEST_ISBNS

    config = get_arima_config()                      # DEPLOYMENT_ENV, else development
    config = get_production_config(n_origins=4)      # any Shelfcast setting, by its flat name
    config.environment, config.split_size, config.to_dict(), config.settings

The seed's names are flat (`split_size`, `n_origins`); Shelfcast's settings are sections
(`settings.backtest.split_size`). `shelfcast.settings.FLAT_NAMES` maps one onto the other, for
overrides and attributes alike; sections may be given as dicts too (`training={"workers": 2}`).

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

from shelfcast.settings import FLAT_NAMES, Settings, load_settings, nest_flat  # noqa: E402

_DEFAULTS = Settings()
DEFAULT_TEST_ISBNS: list[str] = list(_DEFAULTS.selection.default_test_isbns)
DEFAULT_SPLIT_SIZE: int = _DEFAULTS.backtest.split_size
DEFAULT_MAX_SEASONAL_BOOKS: int = _DEFAULTS.selection.max_seasonal_books


class ARIMATrainingConfig:
    """The seed's configuration object, now a view of Shelfcast's `Settings`.

    Attributes are the settings by their flat names (`environment`, `split_size`,
    `max_seasonal_books`, `default_test_isbns`, `n_origins`, ...), the root's (`tracking_uri`,
    `experiment_name`, ...) and the sections (`backtest`, ...). Environments are development,
    testing and production, chosen by `environment` or `DEPLOYMENT_ENV`.
    """

    def __init__(self, environment: str | None = None, **overrides: Any) -> None:
        nested = nest_flat(overrides, "options")
        self.settings: Settings = load_settings(environment=environment, **nested)

    @property
    def environment(self) -> str:
        return self.settings.environment

    def __getattr__(self, name: str) -> Any:
        if name == "settings":
            raise AttributeError(name)
        if name in FLAT_NAMES:
            section, field = FLAT_NAMES[name]
            return getattr(getattr(self.settings, section), field)
        if name in Settings.model_fields or hasattr(Settings, name):
            return getattr(self.settings, name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON, nested by section (`from_dict` takes it back)."""
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
            f"Training configuration ({s.environment}): split {s.backtest.split_size} weeks, "
            f"{s.backtest.n_origins} backtest origins, "
            f"at most {s.selection.max_seasonal_books} seasonal titles, "
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
