"""Two titles fitted once per session with cheap settings (`bundles`) and releases of them in
local artifact stores (`release`, `publish_release`): for the serving, dashboard and endpoint
tests. A plugin: its fixtures are available to every test."""

from dataclasses import replace
from pathlib import Path

import pytest

from shelfcast.forecasting import Bundle, fit_title
from shelfcast.forecasting.families.theta import ThetaSpec
from shelfcast.releases import ModelFiles, Release, ReleaseModel, publish
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore
from shelfcast.training.run import fit_config
from support.synthetic import seasonal_series

ISBN_A = "9780722532935"
ISBN_B = "9780241003008"
NAME_A = f"arima_book_{ISBN_A}"
NAME_B = f"arima_book_{ISBN_B}"


@pytest.fixture(scope="session")
def bundles() -> dict[str, Bundle]:
    """{model name: bundle}: a Theta-or-naive title and a seasonal ARIMA-or-naive title."""
    a = fit_title(
        seasonal_series(300, seed=0, key=ISBN_A),
        fit_config(Settings(), n_origins=1, candidates=("snaive", "theta")),
    )
    b = fit_title(
        seasonal_series(300, seed=1, key=ISBN_B),
        fit_config(Settings(), n_origins=1, candidates=("snaive", "sarima")),
    )
    return {NAME_A: a.bundle, NAME_B: b.bundle}


def unforecastable(bundle: Bundle, key: str) -> Bundle:
    """`bundle` under `key`, its model a Theta whose drift puts every forecast beyond the
    plausible (refused, with or without actual weeks)."""
    model = ThetaSpec(0.5, 10.0, 1e6, 1.0, None, "2012-01-07")
    return replace(bundle, model=model, history=replace(bundle.history, key=key))


def publish_release(root: Path, bundles: dict[str, Bundle]) -> Release:
    """A release of `bundles` (version 1 each) in a local artifact store at `root`."""
    models = [ModelFiles(name, "1", bundle.to_files()) for name, bundle in bundles.items()]
    return publish(ArtifactStore(root), models).release


@pytest.fixture(scope="session")
def release(tmp_path_factory, bundles) -> Release:
    return publish_release(tmp_path_factory.mktemp("store"), bundles)


def described_release(
    release_id: str,
    version: int,
    isbns: tuple[str, ...],
    store: str,
    created: str = "2026-11-20T10:00:00+00:00",
) -> Release:
    """A release as its manifest describes it (no files behind it): for code that only
    reads the description, such as rollouts and Vertex AI plans."""
    return Release(
        release_id=release_id,
        created=created,
        store=store,
        uri=f"{store}/releases/{release_id}",
        models=tuple(
            ReleaseModel(
                name=f"arima_book_{isbn}",
                version=str(version),
                isbn=isbn,
                title=f"Title {isbn}",
                model_family="sarima",
                path=f"models/arima_book_{isbn}/{version}",
                files={},
                run_id=None,
                backtest_mase=0.8,
            )
            for isbn in isbns
        ),
    )
