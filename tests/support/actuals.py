"""Actual weekly sales ingested into a project's monitoring store: for the dashboard tests."""

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.monitoring.actuals import ingest_actuals
from shelfcast.monitoring.paths import actuals_path
from shelfcast.settings import Settings


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
