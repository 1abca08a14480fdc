"""Fixtures of the registry tests (fits, stores and `train` are in support.registry)."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import pytest
from mlflow import MlflowClient


@pytest.fixture
def client(settings) -> MlflowClient:
    """A client on the test's store, for checking what the registry wrote."""
    return MlflowClient(settings.tracking_uri, settings.tracking_uri)
