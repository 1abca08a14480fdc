"""The promotion gate by hand: move a registered model's `champion` alias, or roll it back.

The gate itself runs in training (`lifecycle.train`): each new version is compared with the
champion and takes the alias only when it does better. These are the manual overrides, both
recorded in the model's champion history.
"""

from __future__ import annotations

from dataclasses import dataclass

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

    name = registry.resolve_name(name)
    before = _champion(settings, name)
    registry.promote(settings, name, version, reason=reason)
    return ChampionChange(name, before, _champion(settings, name), reason)


def rollback_model(settings: Settings, name: str) -> ChampionChange:
    """Move `champion` of model `name` (or ISBN) back to the previous champion;
    `NoPreviousChampion` when there is none."""
    from shelfcast import registry

    name = registry.resolve_name(name)
    before = _champion(settings, name)
    after = registry.rollback(settings, name)
    return ChampionChange(name, before, after, "rollback")


def _champion(settings: Settings, name: str) -> str | None:
    from shelfcast import registry

    return registry.show_model(settings, name)["aliases"].get(registry.CHAMPION)
