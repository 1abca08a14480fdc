"""Two titles fitted once per test module (`fits`, and `refit` of the first), a fresh MLflow
SQLite store per test (`settings`, `cli_home`) and training runs logged into it (`train`): for
the registry and packaging tests. A plugin: its fixtures are available to every test."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import contextlib
import dataclasses
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from shelfcast import registry
from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

ISBN_A = "9780722532935"
ISBN_B = "9780241003008"
CONFIG = fit_config(Settings(), n_origins=2, candidates=("snaive", "theta"))
FINGERPRINT = "f" * 64


def weekly(isbn: str, seed: int, weeks: int = 260, title: str | None = None) -> TitleSeries:
    """Seasonal weekly sales with noise: a Christmas peak on a slowly decaying level."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2018-01-06", periods=weeks, freq="W-SAT")
    doy = dates.dayofyear.to_numpy()
    peak = np.exp(-(((doy - 358) % 365) ** 2) / 80.0)
    level = (80.0 + 20 * seed) * np.exp(-np.arange(weeks) / 700.0)
    return TitleSeries(
        isbn, dates[0], rng.poisson(level * (1 + 2 * peak)).astype(float), title=title
    )


@pytest.fixture(scope="module")
def fits():
    return [
        fit_title(weekly(ISBN_A, 1, title="The Alchemist"), CONFIG),
        fit_title(weekly(ISBN_B, 2, title="The Very Hungry Caterpillar"), CONFIG),
    ]


@pytest.fixture(scope="module")
def refit(fits):
    """The first title fitted again after a correction to its latest week: a new model."""
    series = weekly(ISBN_A, 1, title="The Alchemist")
    values = series.values.copy()
    values[-1] += 25
    refit = fit_title(series.with_values(values), CONFIG)
    assert refit.bundle.model != fits[0].bundle.model
    return refit


@pytest.fixture(scope="module")
def empty_store(tmp_path_factory) -> Path:
    """An MLflow SQLite database with its tables created once (copied into each test)."""
    home = tmp_path_factory.mktemp("template")
    registry.client_for(Settings(home=home)).search_experiments()
    db = home / "mlflow.db"
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db


@pytest.fixture
def settings(tmp_path, empty_store) -> Settings:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(empty_store, home / "mlflow.db")
    return Settings(home=home)


def frame_of(fits) -> pd.DataFrame:
    return pd.concat(
        [f.bundle.history.to_frame().assign(isbn=f.key) for f in fits], ignore_index=True
    )


def train(settings, fits, fingerprint=FINGERPRINT, **kwargs):
    return registry.log_training_run(
        settings,
        fits,
        fingerprint=fingerprint,
        dataset=frame_of(fits),
        dataset_source="/data/bookscan_weekly.parquet",
        counts={"in_data": 500, "selected": len(fits), "fitted": len(fits), "failed": 0},
        **kwargs,
    )


def with_holdout_mase(fit, value: float):
    """The same fit claiming another holdout MASE (to drive the gate either way)."""
    holdout = {k: dict(v) for k, v in fit.holdout.items()}
    holdout[fit.selected]["mase"] = value
    return dataclasses.replace(fit, holdout=holdout)


@pytest.fixture
def cli_home(settings, monkeypatch, tmp_path):
    for name in ("DEPLOYMENT_ENV", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("SHELFCAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHELFCAST_HOME", str(settings.home))
    return settings


@contextlib.contextmanager
def mlflow_uris(uri: str) -> Iterator[None]:
    """MLflow's global tracking and registry URIs set to `uri`, then restored with the
    variables `set_tracking_uri` and `set_registry_uri` export for subprocesses (left set,
    they would point later tests' subprocesses at this store)."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    saved = {name: os.environ.get(name) for name in names}
    old = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(old[0])
        mlflow.set_registry_uri(old[1])
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
