"""Registered model versions read straight from the project's SQLite store, for lookups that
should not pay for MLflow's client (importing MLflow and creating its SQLAlchemy store, about
1.5 s: `shelfcast models show ISBN` needs two rows).

Only a store this module knows is read: a `sqlite:///` tracking URI whose file exists and whose
schema revision (alembic's, which MLflow moves with every schema change) is one of
`SCHEMA_REVISIONS`, with MLflow's workspaces off. Anything else (a server, another database,
another MLflow schema) gives None, and callers ask MLflow's client. Reads are live, never
cached, and only read: the store's rows as MLflow's own SQL store filters them (deleted
versions left out). tests/registry/test_local_store.py checks the answers against MLflow's
client, and that the installed MLflow's schema is the one pinned here.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shelfcast.settings import Settings

SQLITE_PREFIX = "sqlite:///"
# Alembic heads of MLflow's schema read here (MLflow 3.17).
SCHEMA_REVISIONS = frozenset({"dc11669786a5"})
WORKSPACE = "default"  # the one workspace when MLflow's workspaces are off
DELETED = "Deleted_Internal"  # MLflow's stage of a deleted version, kept as a row


@dataclass(frozen=True)
class VersionRow:
    """A registered version: where its run keeps its files."""

    name: str
    version: str
    run_id: str
    source: str


def database(settings: Settings) -> Path | None:
    """The store's SQLite file when this module can read it, else None (ask MLflow)."""
    uri = settings.tracking_uri
    workspaces = os.environ.get("MLFLOW_ENABLE_WORKSPACES", "").lower() in ("true", "1")
    if not uri.startswith(SQLITE_PREFIX) or workspaces:
        return None
    path = Path(uri.removeprefix(SQLITE_PREFIX))
    if not path.is_file():
        return None
    try:
        with _reading(path) as db:
            row = db.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return path if row and row[0] in SCHEMA_REVISIONS else None


def aliases(path: Path, name: str) -> dict[str, str] | None:
    """Alias -> version of registered model `name`; None when there is no such model."""
    with _reading(path) as db:
        found = db.execute(
            "SELECT 1 FROM registered_models WHERE workspace = ? AND name = ?", (WORKSPACE, name)
        ).fetchone()
        if found is None:
            return None
        rows = db.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE workspace = ? AND name = ?",
            (WORKSPACE, name),
        ).fetchall()
    return {str(alias): str(version) for alias, version in rows}


def version(path: Path, name: str, number: str) -> VersionRow | None:
    """Version `number` of `name`; None when it has none such (or it was deleted)."""
    with _reading(path) as db:
        row = db.execute(
            "SELECT run_id, source FROM model_versions WHERE workspace = ? AND name = ? "
            "AND version = ? AND (current_stage IS NULL OR current_stage != ?)",
            (WORKSPACE, name, int(number), DELETED),
        ).fetchone()
    return None if row is None else VersionRow(name, str(int(number)), row[0], row[1])


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection for reads, closed afterwards; a busy writer is waited for."""
    with contextlib.closing(sqlite3.connect(path, timeout=20)) as db:
        yield db
