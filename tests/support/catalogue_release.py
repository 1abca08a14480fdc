"""Catalogue releases for tests: a table of many cheap bundles (seasonal naive specs, each
title with a history of its own) and its release in a local artifact store."""

from pathlib import Path

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.catalogue_releases import CatalogueSource, publish_catalogue
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.bundle_table import BundleTable
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.releases import PublishResult
from shelfcast.storage import ArtifactStore

MODEL = "book_sales_catalogue"
SNAIVE = SnaiveSpec(season_length=52, sigma2=90.0)


def isbn(index: int) -> str:
    return f"97823{index:08d}"


def catalogue_table(titles: int, extra: dict[str, Bundle] | None = None) -> BundleTable:
    """`titles` seasonal naive bundles, each on its own 156-week history, and `extra`."""
    rng = np.random.default_rng(3)
    bundles = [
        Bundle(
            model=SNAIVE,
            history=TitleSeries(
                isbn(i), pd.Timestamp("2021-01-02"), rng.poisson(20, 156).astype(float)
            ),
        )
        for i in range(titles)
    ]
    return bundle_table.from_bundles([*bundles, *(extra or {}).values()])


def versions_of(table: BundleTable) -> dict[str, str]:
    """Titles' catalogue versions: every third title's row from version 2, the rest 3."""
    return {k: ("2" if i % 3 == 0 else "3") for i, k in enumerate(table.keys)}


def publish_table(root: Path | str, table: BundleTable) -> PublishResult:
    source = CatalogueSource(MODEL, "3", run_id="run-3", versions=versions_of(table))
    return publish_catalogue(ArtifactStore(root), table, source)
