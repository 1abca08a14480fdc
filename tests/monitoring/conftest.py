"""Fixtures of the monitoring tests (the shared data and helpers are in support.monitoring)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.monitoring import Catalogue, make_catalogue, publish_release

from shelfcast.releases import Release
from shelfcast.settings import Settings, load_settings


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    return make_catalogue()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings of a fresh project folder (no settings file, no SHELFCAST_* variables)."""
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("SHELFCAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))
    return load_settings()


@pytest.fixture
def release(project: Settings, catalogue: Catalogue) -> Release:
    return publish_release(project, catalogue.bundles)
