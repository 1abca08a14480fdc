"""Fixtures of the dashboard tests, reused from the serving tests: `bundles` (two titles fitted
once per session) and `release` (a release of them in a local artifact store); and a helper
that ingests actual weeks into the monitoring store."""

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.monitoring.actuals import ingest_actuals
from shelfcast.monitoring.paths import actuals_path
from shelfcast.settings import Settings

TESTS = Path(__file__).parents[1]
sys.path.insert(0, str(TESTS / "endpoints"))  # memory_backend


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


serving = _load("serving_conftest", TESTS / "serving" / "conftest.py")
bundles = serving.bundles
release = serving.release
ISBN_A, ISBN_B, NAME_A, NAME_B = serving.ISBN_A, serving.ISBN_B, serving.NAME_A, serving.NAME_B


def ingest_after(
    settings: Settings, history: TitleSeries, volumes: Sequence[float], folder: Path
) -> list[str]:
    """Ingest `volumes` as the actual sales of the weeks after `history`; their week endings."""
    dates = pd.date_range(history.end + pd.Timedelta(weeks=1), periods=len(volumes), freq="7D")
    sales = folder / f"actuals-{history.key}.csv"
    frame = pd.DataFrame({"ISBN": history.key, "End Date": dates, "Volume": list(volumes)})
    frame.to_csv(sales, index=False, date_format="%Y-%m-%d")
    ingest_actuals([str(sales)], actuals_path(settings))
    return [f"{d:%Y-%m-%d}" for d in dates]
