"""Moving `champion`: by the gate when a version is registered, by hand (`promote`), and
back (`rollback`), all through `move_champion`, which moves the alias and the champions'
history together (the newest history entry is always the champion) and records why.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlflow.exceptions import MlflowException

from shelfcast.registry import history
from shelfcast.registry.connection import client_for, not_found, registry_error
from shelfcast.registry.errors import NoPreviousChampion
from shelfcast.registry.models import CHAMPION, aliases, get_model, get_version, registered_name
from shelfcast.registry.values import MAX_TAG, now_iso
from shelfcast.settings import Settings


def move_champion(
    writes: Any,
    name: str,
    entries: list[dict],
    version_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> str:
    """Point `champion` of `name` at the newest of `entries`, store `entries` as its history,
    then set `version_tags` (version -> tags: the reason, on the versions concerned).

    `writes` is an MlflowClient, or the training run's `connection.registry_writes(client)`
    for models it has just read. Returns the new champion's version.
    """
    version = entries[-1]["version"]
    writes.set_registered_model_alias(name, CHAMPION, version)
    writes.set_registered_model_tag(name, history.HISTORY_TAG, history.encode(entries))
    for tagged, tags in (version_tags or {}).items():
        for key, value in tags.items():
            writes.set_model_version_tag(name, tagged, key, value)
    return version


def promote(settings: Settings, name: str, version: str, reason: str = "manual") -> None:
    """Move `champion` to `version` by hand; recorded like a gate decision."""
    client = client_for(settings)
    name = registered_name(settings, name)
    model = get_model(client, settings, name)
    target = get_version(client, settings, name, str(version).removeprefix("v"))
    current = aliases(model).get(CHAMPION)
    if current == target.version:
        return
    why = f"manual: {reason}"
    entries = history.pushed(history.parse(model.tags), target.version, target.source, why)
    tags = {
        "promotion_decision": "promoted",
        "promotion_reason": why[:MAX_TAG],
        "previous_champion": current or "none",
    }
    try:
        move_champion(client, name, entries, {target.version: tags})
    except MlflowException as exc:
        raise registry_error(exc, settings, f"promoting {name} v{target.version}") from None


def rollback(settings: Settings, name: str) -> str:
    """Move `champion` back to the previous champion; returns that version."""
    client = client_for(settings)
    name = registered_name(settings, name)
    model = get_model(client, settings, name)
    current = aliases(model).get(CHAMPION)
    entries = history.popped(history.parse(model.tags), current)
    while entries:  # skip versions deleted since
        try:
            client.get_model_version(name, entries[-1]["version"])
            break
        except MlflowException as exc:
            if not not_found(exc):
                raise registry_error(exc, settings, f"reading {name}") from None
            entries.pop()
    if not entries:
        now = f"v{current}" if current else "none"
        raise NoPreviousChampion(
            f"{name} has no previous champion to roll back to (champion: {now})"
        )
    target = entries[-1]["version"]
    demoted = {current: {"rolled_back_at": now_iso(), "rolled_back_to": target}} if current else {}
    try:
        move_champion(client, name, entries, demoted)
    except MlflowException as exc:
        raise registry_error(exc, settings, f"rolling back {name}") from None
    return target
