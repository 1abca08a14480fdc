"""Fixtures of the local endpoint tests (real router and server processes on 127.0.0.1):
releases in a module's artifact store and a backend in a fresh project folder, after which
no process may be left behind."""

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.processes import processes_naming

from shelfcast.endpoints.local import LocalBackend
from shelfcast.releases import ModelFiles, Release, publish
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore


@pytest.fixture(scope="module")
def store_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("store")


@pytest.fixture(scope="module")
def releases(store_root, bundles) -> dict[str, Release]:
    """Releases "1" to "3" (the two titles as model versions 1 to 3), and "bad": version 4
    with a history file changed after publishing (its checksum no longer matches)."""
    store = ArtifactStore(store_root)
    out = {}
    for version in ("1", "2", "3", "bad"):
        models = [ModelFiles(name, version, b.to_files()) for name, b in bundles.items()]
        out[version] = publish(store, models).release
    corrupt = Path(out["bad"].store, out["bad"].models[0].path, "history.csv")
    corrupt.chmod(0o644)
    corrupt.write_bytes(corrupt.read_bytes().replace(b"1", b"2", 1))
    return out


@pytest.fixture(scope="module")
def backend(tmp_path_factory, store_root) -> Iterator[LocalBackend]:
    """A backend in a fresh project folder; every endpoint is stopped at the end, and no
    router or server process may be left behind."""
    home = tmp_path_factory.mktemp("home")
    backend = LocalBackend(Settings(home=home))
    yield backend
    for name in backend.store.names():
        backend.stop(name)
    left = processes_naming(home, store_root)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes outlived stop(): {left}"
