"""What the monitoring tests share: three titles fitted on 280 weeks of synthetic sales, the
12 weeks after them as actual sales (one title's shifted on purpose when a test asks), and
releases of them. The fixtures are in tests/monitoring/conftest.py; tests import these names
from here."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import Bundle, fit_title
from shelfcast.releases import ModelFiles, Release, publish
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore
from shelfcast.training.run import fit_config
from support.synthetic import seasonal_series

TRAIN_WEEKS = 280
ACTUAL_WEEKS = 12
ISBN_A, ISBN_B, ISBN_C = "9780722532935", "9780241003008", "9780000000019"
ISBNS = (ISBN_A, ISBN_B, ISBN_C)
TITLES = {ISBN_A: "The Alchemist", ISBN_B: "The Very Hungry Caterpillar", ISBN_C: "Third"}
SHIFTED = ISBN_B  # the title whose actuals tests shift on purpose
# One origin and single families: with one origin an ensemble's members are ranked on the
# origin that scores them, so its backtest MASE (what the alerts compare with) is optimistic.
CONFIG = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"), ensembles=())


def model_name(isbn: str) -> str:
    return f"arima_book_{isbn}"


@dataclass(frozen=True)
class Catalogue:
    """Each title's whole series (training weeks, then the actual weeks) and its bundle."""

    series: dict[str, TitleSeries]
    bundles: dict[str, Bundle]

    def actual_weeks(self, isbn: str) -> pd.DataFrame:
        """The weeks after training: week_ending, volume."""
        return self.series[isbn].to_frame().iloc[TRAIN_WEEKS:].reset_index(drop=True)


def make_catalogue() -> Catalogue:
    series = {
        isbn: dataclasses.replace(
            seasonal_series(TRAIN_WEEKS + ACTUAL_WEEKS, seed=seed, key=isbn), title=TITLES[isbn]
        )
        for seed, isbn in enumerate(ISBNS)
    }
    bundles = {isbn: fit_title(s.head(TRAIN_WEEKS), CONFIG).bundle for isbn, s in series.items()}
    return Catalogue(series, bundles)


def publish_release(
    settings: Settings, bundles: dict[str, Bundle], versions: dict[str, str] | None = None
) -> Release:
    """Publish the bundles as a release in the project's artifact store."""
    models = [
        ModelFiles(
            name=model_name(isbn),
            version=(versions or {}).get(isbn, "1"),
            files=bundle.to_files(),
            backtest_mase=0.5,
        )
        for isbn, bundle in bundles.items()
    ]
    return publish(ArtifactStore(settings.artifact_root), models).release


def bookscan_actuals(
    catalogue: Catalogue, shift: dict[str, float] | None = None, weeks: slice = slice(None)
) -> pd.DataFrame:
    """The actual weeks as BookScan rows (ISBN, Title, End Date, Volume); `shift` multiplies
    a title's volumes."""
    rows = []
    for isbn in ISBNS:
        frame = catalogue.actual_weeks(isbn).iloc[weeks]
        rows.append(
            pd.DataFrame(
                {
                    "ISBN": isbn,
                    "Title": TITLES[isbn],
                    "End Date": frame["week_ending"].dt.strftime("%d/%m/%Y"),
                    "Volume": (frame["volume"] * (shift or {}).get(isbn, 1.0)).round(),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def write_csv(frame: pd.DataFrame, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return str(path)
