"""The registry's errors (the CLI turns each into one clear message)."""

from __future__ import annotations

from shelfcast.errors import ShelfcastError


class RegistryError(ShelfcastError):
    """Tracking or registry operation failed (server unreachable, bad state, ...)."""


class ModelNotFound(RegistryError):
    """No registered model of that name."""


class VersionNotFound(ModelNotFound):
    """The registered model exists but has no such version or alias."""


class NoPreviousChampion(RegistryError):
    """`rollback` found no earlier champion to go back to."""
