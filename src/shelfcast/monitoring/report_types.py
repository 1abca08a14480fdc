"""The monitoring report's content (`MonitoringReport`), its JSON format and its error.

Apart from `report`, which builds and writes reports, so that the page (`charts`) and the
report can both use these without importing each other.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.errors import ShelfcastError
from shelfcast.monitoring.alerts import Alert

FORMAT_VERSION = 1


class ReportError(ShelfcastError):
    """A report cannot be made or read."""


@dataclass
class MonitoringReport:
    """A report's content; `to_dict()` is the JSON written."""

    created: str
    since: str | None
    releases: list[dict[str, Any]]
    actuals: dict[str, Any]
    overall: dict[str, Any]
    titles: list[dict[str, Any]]
    segments: list[dict[str, Any]]  # `segment_accuracy` of the titles
    alerts: list[Alert]
    weeks: pd.DataFrame = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        weeks = self.weeks.assign(
            week_ending=pd.to_datetime(self.weeks["week_ending"]).dt.strftime("%Y-%m-%d")
        )
        return _plain(
            {
                "format_version": FORMAT_VERSION,
                "created": self.created,
                "since": self.since,
                "releases": self.releases,
                "actuals": self.actuals,
                "overall": self.overall,
                "titles": self.titles,
                "segments": self.segments,
                "alerts": [a.to_dict() for a in self.alerts],
                "weeks": weeks.to_dict("records"),
            }
        )


def _plain(value: Any) -> Any:
    """JSON-ready: NaN and infinities become null, numpy scalars Python numbers."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value
