"""The registry's errors (the CLI turns each into one clear message)."""

from __future__ import annotations

from collections.abc import Mapping

from shelfcast.errors import ShelfcastError
from shelfcast.settings import Settings


class RegistryError(ShelfcastError):
    """Tracking or registry operation failed (server unreachable, bad state, ...)."""


class ModelNotFound(RegistryError):
    """No registered model of that name."""


class VersionNotFound(ModelNotFound):
    """The registered model exists but has no such version or alias."""


class NoPreviousChampion(RegistryError):
    """`rollback` found no earlier champion to go back to."""


def model_not_found(settings: Settings, name: str) -> ModelNotFound:
    return ModelNotFound(
        f"no registered model named {name!r} at {settings.tracking_uri} "
        "(see `shelfcast models list`)"
    )


def no_version(name: str, version: str) -> VersionNotFound:
    return VersionNotFound(f"{name} has no version {version!r}")


def no_alias(name: str, alias: str, known: Mapping[str, str]) -> VersionNotFound:
    listed = ", ".join(f"{a} (v{v})" for a, v in known.items()) or "none"
    return VersionNotFound(f"{name} has no alias {alias!r} (aliases: {listed})")
