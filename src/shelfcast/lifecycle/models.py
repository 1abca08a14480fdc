"""The promotion gate by hand: move a registered model's `champion` alias, or roll it back;
and one title inside the catalogue model: look it up, extract it, move its champion row.

The gate itself runs in training (`lifecycle.train`): each new version is compared with the
champion and takes the alias only when it does better. These are the manual overrides, all
recorded: in the model's champion history, and for a title of the catalogue as a version of
the catalogue model that changes that title's champion row alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shelfcast.settings import Settings


@dataclass(frozen=True)
class ChampionChange:
    """Where `champion` pointed before and after (None: no champion)."""

    model_name: str
    before: str | None
    after: str | None
    reason: str = ""

    @property
    def moved(self) -> bool:
        return self.before != self.after


def promote_model(
    settings: Settings, name: str, version: str, reason: str = "manual"
) -> ChampionChange:
    """Make `version` of model `name` (or ISBN) the champion, recording `reason`."""
    from shelfcast import registry

    name = registry.registered_name(settings, name)
    before = _champion(settings, name)
    registry.promote(settings, name, version, reason=reason)
    return ChampionChange(name, before, _champion(settings, name), reason)


def rollback_model(settings: Settings, name: str) -> ChampionChange:
    """Move `champion` of model `name` (or ISBN) back to the previous champion;
    `NoPreviousChampion` when there is none."""
    from shelfcast import registry

    name = registry.registered_name(settings, name)
    before = _champion(settings, name)
    after = registry.rollback(settings, name)
    return ChampionChange(name, before, after, "rollback")


def _champion(settings: Settings, name: str) -> str | None:
    from shelfcast import registry

    return registry.show_model(settings, name)["aliases"].get(registry.CHAMPION)


def catalogue_title(
    settings: Settings, isbn: str, version: str | None = None, history: bool = False
) -> dict[str, Any]:
    """Where the title's champion row is in catalogue version `version` (default: champion):
    the decision, the holding version, its metrics; with `history`, its decision in every
    version, newest first."""
    from shelfcast.registry.catalogue_lookup import title_record

    record = title_record(settings, isbn, version)
    if history:
        from shelfcast.registry import catalogue_titles

        record["history"] = catalogue_titles.title_history(settings, isbn)
    return record


def title_model(settings: Settings, isbn: str) -> dict[str, Any]:
    """The title's own registered model (`registry.show_model`); ModelNotFound, without
    MLflow's client, when the local store has none (`registry.local_store`)."""
    from shelfcast import registry
    from shelfcast.registry import local_store
    from shelfcast.registry.errors import model_not_found

    name = registry.resolve_name(isbn)
    path = local_store.database(settings)
    if path is not None and local_store.aliases(path, name) is None:
        raise model_not_found(settings, name)
    return registry.show_model(settings, name)


def extract_title(
    settings: Settings, isbn: str, out: str | Path, version: str | None = None
) -> Path:
    """The title's champion row in the catalogue, written as a bundle folder at `out`."""
    from shelfcast.registry import catalogue_titles

    return catalogue_titles.extract_title(settings, isbn, out, version)


def promote_title(
    settings: Settings, isbn: str, version: str, reason: str = "manual"
) -> ChampionChange:
    """Make catalogue version `version`'s row of the title its champion."""
    from shelfcast.registry import catalogue_titles

    before = catalogue_titles.promote_title(settings, isbn, version, reason)
    return ChampionChange(
        _in_catalogue(settings, isbn), before, str(version).removeprefix("v"), reason
    )


def rollback_title(settings: Settings, isbn: str) -> ChampionChange:
    """Make the title's previous champion row in the catalogue its champion again."""
    from shelfcast.registry import catalogue_titles

    before, after = catalogue_titles.rollback_title(settings, isbn)
    return ChampionChange(_in_catalogue(settings, isbn), before, after, "rollback")


def _in_catalogue(settings: Settings, isbn: str) -> str:
    return f"{settings.registry.catalogue_model} ({isbn})"
