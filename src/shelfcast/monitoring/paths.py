"""Where monitoring keeps its files under the project folder (`settings.home / "monitoring"`).

The prediction log, `<home>/monitoring/predictions`, is the server's to write: its folder is
`shelfcast.serving.prediction_log.prediction_log_path`, which the server can import.
"""

from __future__ import annotations

from pathlib import Path

from shelfcast.settings import Settings


def monitoring_dir(settings: Settings) -> Path:
    return settings.home / "monitoring"


def actuals_path(settings: Settings) -> Path:
    """The actuals store: one parquet file keyed by (isbn, week_ending)."""
    return monitoring_dir(settings) / "actuals.parquet"


def reports_dir(settings: Settings) -> Path:
    """Monitoring reports, `<timestamp>.json` each, and `latest.json`."""
    return monitoring_dir(settings) / "reports"


def training_data_dir(settings: Settings) -> Path:
    """Training data extended by the actuals, written for retraining."""
    return monitoring_dir(settings) / "training-data"
