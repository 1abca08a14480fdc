"""Accuracy per demand segment, aggregated from the report's per-title figures (`accuracy`).

A title counts in the segment its judging bundle records (`Bundle.segment`, the title
entry's `segment`). Per segment, and over all titles (segment `all`):

- `titles`, `weeks` and `actual` (units sold), summed;
- `wape`: sum |a - f| / sum a over the segment's titles and weeks, in percent, from each
  title's MAE times its weeks (a ratio of sums, not a mean of the titles' ratios);
- `mase`: the mean of the titles' MASE, over the titles that have one (a zero error scale
  leaves a title without); the report's `overall.mase` is a mean over weeks instead;
- `coverage_80`, `coverage_95`: the share of all the segment's weeks inside the interval,
  in percent, from each title's coverage times its weeks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from shelfcast.catalog.segments import DEMAND_CLASSES, STAGES

ALL = "all"


def segment_order(name: str) -> tuple[int, int, str]:
    """Sort key of segment names: by stage through a title's life, then by demand class."""
    stage, _, demand = name.partition("/")
    return (
        STAGES.index(stage) if stage in STAGES else len(STAGES),
        DEMAND_CLASSES.index(demand) if demand in DEMAND_CLASSES else -1,
        name,
    )


def segment_accuracy(titles: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One row per segment (in `segment_order`), then the row of all titles."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for title in titles:
        groups.setdefault(str(title["segment"]), []).append(title)
    ordered = sorted(groups, key=segment_order)
    rows = [{"segment": name, **_figures(groups[name])} for name in ordered]
    return [*rows, {"segment": ALL, **_figures(titles)}]


def _figures(titles: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    weeks = sum(int(t["weeks"]) for t in titles)
    actual = sum(float(t["actual"]) for t in titles)
    error = sum(float(t["mae"]) * int(t["weeks"]) for t in titles)
    mases = [float(t["mase"]) for t in titles if _finite(t.get("mase"))]

    def weekly_share(key: str) -> float:
        inside = sum(float(t[key]) * int(t["weeks"]) for t in titles)
        return inside / weeks if weeks else math.nan

    return {
        "titles": len(titles),
        "weeks": weeks,
        "actual": actual,
        "wape": 100.0 * error / actual if actual > 0 else math.nan,
        "mase": sum(mases) / len(mases) if mases else math.nan,
        "coverage_80": weekly_share("coverage_80"),
        "coverage_95": weekly_share("coverage_95"),
    }


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)
