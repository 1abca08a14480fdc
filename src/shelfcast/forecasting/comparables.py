"""Comparable titles: the groups pooled models average over, most specific first.

A title's groups are its BookScan category sheet (`source`), product class and binding; the
same without the binding; the sheet alone; and the whole catalogue. A pooled estimate for a
group is shrunk towards its parent's by the number of titles behind it (`shrunk`), so a group
of two titles borrows most of its shape from its category, and the fit uses the most specific
group that has enough titles (`best_group`). Series without metadata (long-format data) fall
in the catalogue group.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError

ALL = "all"
SEP = "/"
SHRINK_TITLES = 5.0  # a group of this many titles weighs as much as its parent
MIN_GROUP_TITLES = 3  # fewer titles than this: the fit uses the parent group


def group_keys(series: TitleSeries) -> tuple[str, ...]:
    """The title's groups, most specific first, ending with `ALL`: paths such as
    `F Adult Fiction/F2.1 Crime, Thriller & Adventure/Paperback` and their prefixes."""
    parts = [series.source, series.meta.get("product_class"), series.meta.get("binding")]
    path = []
    for part in parts:
        if not part:
            break
        path.append(part.replace(SEP, " "))
    return (*(SEP.join(path[:i]) for i in range(len(path), 0, -1)), ALL)


def pooled(
    members: Sequence[tuple[tuple[str, ...], np.ndarray, np.ndarray]],
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per group, the mean of its members' vectors and the count behind each element.

    `members` are (group keys, values, observed) per title: `observed` marks the elements of
    `values` the title has (a young title has no value at age 100)."""
    sums: dict[str, np.ndarray] = {}
    counts: dict[str, np.ndarray] = {}
    for keys, values, seen in members:
        for key in keys:
            if key not in sums:
                sums[key] = np.zeros(len(values))
                counts[key] = np.zeros(len(values))
            sums[key] += np.where(seen, values, 0.0)
            counts[key] += seen
    return {k: (sums[k] / np.maximum(counts[k], 1.0), counts[k]) for k in sums}


def shrunk(groups: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> dict[str, np.ndarray]:
    """Each group's mean shrunk towards its parent's (itself shrunk first), element by
    element, by `count / (count + SHRINK_TITLES)`; elements no title has take the parent's."""
    out: dict[str, np.ndarray] = {}

    def resolve(key: str) -> np.ndarray:
        if key in out:
            return out[key]
        mean, count = groups[key]
        parent = _parent(key, groups)
        if parent is None:
            out[key] = mean
        else:
            weight = count / (count + SHRINK_TITLES)
            out[key] = weight * mean + (1.0 - weight) * resolve(parent)
        return out[key]

    for key in groups:
        resolve(key)
    return out


def group_means(
    members: Sequence[tuple[tuple[str, ...], np.ndarray, np.ndarray]],
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """Per group of `members` (`pooled`'s): the mean shrunk towards its parent's (`shrunk`),
    and how many titles are behind it."""
    groups = pooled(members)
    return shrunk(groups), {k: int(count[0]) for k, (_, count) in groups.items()}


def _parent(key: str, groups: Mapping[str, Any]) -> str | None:
    """The next wider group present: the path without its last part, else `ALL`."""
    if key == ALL:
        return None
    head, _, _ = key.rpartition(SEP)
    while head and head not in groups:
        head, _, _ = head.rpartition(SEP)
    if head:
        return head
    return ALL if ALL in groups else None


def best_group(series: TitleSeries, titles: Mapping[str, int]) -> str | None:
    """The most specific of the title's groups with at least `MIN_GROUP_TITLES` titles (any
    titles for `ALL`), None when the pool has none of them."""
    for key in group_keys(series):
        if titles.get(key, 0) >= (1 if key == ALL else MIN_GROUP_TITLES):
            return key
    return None


def pooled_group(
    pools: Mapping[str, Any], name: str, series: TitleSeries, what: str
) -> tuple[Mapping[str, Any], str]:
    """The pool family `name` trained (from `FitContext.pool`) and the series' best group in
    it; ForecastError naming `what` the family pools when there is none of either."""
    pool = pools.get(name)
    if pool is None:
        raise ForecastError(f"{what} are pooled: the fit context has no {name} pool")
    group = best_group(series, pool["titles"])
    if group is None:
        raise ForecastError(f"{what}: no comparable titles")
    return pool, group


def week_of_year(dates: pd.DatetimeIndex) -> np.ndarray:
    """0-51 for each week ending: its day of the year's week (the 53rd week counts as the
    52nd), so the same calendar week lines up across years."""
    return np.minimum((np.asarray(dates.dayofyear) - 1) // 7, 51)


def digest(content: object) -> str:
    """A short content hash of a pool, naming it in specs."""
    text = json.dumps(content, sort_keys=True, default=float)
    return hashlib.sha256(text.encode()).hexdigest()[:16]
