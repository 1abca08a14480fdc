"""The champions' succession: the registered-model tag `champion_history`.

A JSON list of entries, oldest first: `{"version", "at", "reason"[, "source"]}`. The newest
entry is the current champion (`promotion.move_champion` moves the alias and the list
together); `rollback` pops it and goes back to the one before. The tag keeps the newest
MAX_HISTORY entries (a registered-model tag holds 100 kB). Plain data: no MLflow here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from shelfcast.registry.values import now_iso

HISTORY_TAG = "champion_history"
MAX_HISTORY = 50  # champions remembered for rollback
MAX_REASON = 300  # characters of a reason kept in an entry


def parse(tags: Mapping[str, str]) -> list[dict]:
    """The history in a registered model's tags (empty when absent or unreadable)."""
    try:
        entries = json.loads(tags.get(HISTORY_TAG, "[]"))
    except (json.JSONDecodeError, TypeError):
        return []
    if not isinstance(entries, list):
        return []
    return [e for e in entries if isinstance(e, dict) and "version" in e]


def pushed(entries: list[dict], version: str, source: str | None, reason: str) -> list[dict]:
    """`entries` with `version` on top as the new champion (now, for `reason`)."""
    entry = {"version": str(version), "at": now_iso(), "reason": reason[:MAX_REASON]}
    if source:
        entry["source"] = source
    return [*entries, entry]


def popped(entries: list[dict], current: str | None) -> list[dict]:
    """`entries` without the current champion on top (when it is there)."""
    if entries and current is not None and entries[-1]["version"] == current:
        return entries[:-1]
    return list(entries)


def encode(entries: list[dict]) -> str:
    """The tag value: the newest MAX_HISTORY entries as compact JSON."""
    return json.dumps(entries[-MAX_HISTORY:], separators=(",", ":"))
