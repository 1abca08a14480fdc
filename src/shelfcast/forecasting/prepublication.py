"""Forecasts for titles not yet on sale, from their metadata alone.

Every title launched inside the data with `launch.NORM_WEEKS` weeks on sale gives a launch: its
shape (`launch.shape`) and its level, the log of its mean weekly sales over those first weeks.
A title to come is forecast as its comparable titles' launch curve (`comparables` groups:
category sheet, product class, binding) times a level predicted from:

- the mean log level of its most specific group, shrunk towards the wider groups;
- its author's earlier launches: the mean of how far each sold above or below its own group,
  shrunk by `n / (n + AUTHOR_SHRINK)`;
- its imprint's launches, the same way, and its price band's (RRP under 8, 8-15, over 15).

Intervals are honest about how little metadata says: the level's uncertainty is the empirical
distribution of the predictor's errors over the launches it was built on, each launch predicted
with itself left out of every mean. The mean and quantiles are those of the predicted level
times these errors, times the curve, with whole-number quantiles for counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries, weekly_dates
from shelfcast.forecasting import comparables
from shelfcast.forecasting.calibration import (
    interval_bounds,
    needed_taus,
    quantile_column,
    whole_quantiles,
)
from shelfcast.forecasting.families.launch import NORM_WEEKS, launch_shapes

NAME = "prepublication"
AUTHOR_SHRINK = 2.0  # earlier launches that weigh as much as the group's mean
IMPRINT_SHRINK = 10.0
PRICE_SHRINK = 20.0
MIN_LAUNCHES = 10


@dataclass(frozen=True)
class Announced:
    """A title known from its metadata: publication date, author, and the catalogue fields
    comparable titles are grouped by (`meta`: product_class, binding, imprint, rrp)."""

    isbn: str
    publication_date: pd.Timestamp
    title: str | None = None
    author: str | None = None
    source: str | None = None
    meta: Mapping[str, str] = field(default_factory=dict)

    def as_series(self) -> TitleSeries:
        """An empty series carrying the metadata, for the grouping of comparable titles."""
        return TitleSeries(
            self.isbn, self.publication_date, np.zeros(0), source=self.source, meta=dict(self.meta)
        )


@dataclass(frozen=True)
class Prediction:
    """A title's forecast and what it rests on."""

    isbn: str
    title: str | None
    frame: pd.DataFrame  # week_ending, mean, lo_L/hi_L, pQ
    group: str
    comparables: int
    author_launches: int
    reason: str


class Launches:
    """The launches of a catalogue: their levels, the sums behind each group's, author's,
    imprint's and price band's mean, and the pooled launch curves; `predict` forecasts a title
    to come."""

    def __init__(self, histories: Sequence[TitleSeries]):
        _, launches, members = launch_shapes(histories, "pre-publication forecasts", MIN_LAUNCHES)
        keys = [groups for groups, _, _ in members]
        self.curves, self.titles = comparables.group_means(members)
        self.sources = {
            str(h.meta["product_class"]): str(h.source)
            for h in launches
            if h.source and h.meta.get("product_class")
        }
        levels = np.array([np.log(h.values[:NORM_WEEKS].mean()) for h in launches])
        self._groups = _Sums()
        for k, level in zip(keys, levels, strict=True):
            self._groups.add(k, level)
        residuals = levels - np.array([self._group_level(k) for k in keys])
        labels = [_labels(h.author, h.meta) for h in launches]
        self._effects = _Sums()
        for lab, r in zip(labels, residuals, strict=True):
            self._effects.add(lab, r)
        # Each launch predicted with itself left out of every mean: the level's honest error.
        errors = [
            self._level(k, lab, own=(level, r)) - level
            for k, lab, level, r in zip(keys, labels, levels, residuals, strict=True)
        ]
        self.errors = np.sort(np.asarray(errors))

    def _group_level(self, keys: Sequence[str], own: float | None = None) -> float:
        """The mean log level along the groups, widest first, each shrunk towards the wider;
        `own` is left out of every mean."""
        level = self._groups.mean(comparables.ALL, own)[0]
        for key in reversed(keys[:-1]):
            mean, n = self._groups.mean(key, own)
            if n:
                weight = n / (n + comparables.SHRINK_TITLES)
                level = weight * mean + (1.0 - weight) * level
        return level

    def _level(
        self, keys: Sequence[str], labels: Sequence[str], own: tuple[float, float] | None = None
    ) -> float:
        """The predicted log level of a title with these groups and labels (author, imprint,
        price band); `own` (its level and residual) is left out of every mean."""
        level = self._group_level(keys, None if own is None else own[0])
        for label in labels:
            total, n = self._effects.total(label, None if own is None else own[1])
            level += total / (n + _SHRINK[label.split(":", 1)[0]])
        return level

    def predict(
        self,
        title: Announced,
        last_week: pd.Timestamp,
        horizon: int,
        levels: Sequence[int] = (),
        quantiles: Sequence[float] = (),
    ) -> Prediction:
        """Weekly forecasts for the `horizon` weeks after `last_week` (the data's last week):
        zero before the publication week, the launch curve from it on."""
        meta = dict(title.meta)
        source = title.source or self.sources.get(meta.get("product_class", ""))
        series = replace(title, source=source).as_series()
        keys = comparables.group_keys(series)
        group = comparables.best_group(series, self.titles) or comparables.ALL
        labels = _labels(title.author, meta)
        log_level = self._level(keys, labels)
        n_author = self._effects.total(labels[0], None)[1] if title.author else 0
        dates = weekly_dates(last_week, horizon + 1)[1:]
        age = ((dates - title.publication_date).days.to_numpy() + 6) // 7  # week 0 holds the date
        curve = np.asarray(self.curves[group])
        on_sale = age >= 0
        shape_ahead = np.where(on_sale, curve[np.clip(age, 0, len(curve) - 1)], 0.0)
        scale = np.exp(log_level + self.errors)  # the levels launches like it turned out at
        mean = scale.mean() * shape_ahead
        taus = needed_taus(levels, quantiles)
        values = whole_quantiles({t: np.quantile(scale, t) * shape_ahead for t in taus})
        bounds = interval_bounds(mean, values, levels, whole=True)
        frame = pd.DataFrame({"week_ending": dates, "mean": mean, **bounds})
        for q in quantiles:
            frame[quantile_column(q)] = values[q]
        reason = (
            f"pre-publication ({title.publication_date.date().isoformat()}): the launch curve of "
            f"{self.titles.get(group, 0)} comparable titles ({group}), level from the group"
            + (f", the author's {n_author} earlier launch(es)" if n_author else "")
            + f", imprint and price band; spread from {len(self.errors)} launches"
        )
        return Prediction(
            title.isbn, title.title, frame, group, self.titles.get(group, 0), n_author, reason
        )


_SHRINK = {"author": AUTHOR_SHRINK, "imprint": IMPRINT_SHRINK, "price": PRICE_SHRINK}


def _labels(author: str | None, meta: Mapping[str, str]) -> list[str]:
    """The title's author, imprint and price band labels (those it has), author first."""
    found = [
        ("author", author or ""),
        ("imprint", meta.get("imprint", "")),
        ("price", price_band(meta.get("rrp"))),
    ]
    return [f"{kind}:{value}" for kind, value in found if value]


class _Sums:
    """Sums and counts of values by label, for means with one value left out."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, labels: Sequence[str], value: float) -> None:
        for label in labels:
            self.sums[label] = self.sums.get(label, 0.0) + float(value)
            self.counts[label] = self.counts.get(label, 0) + 1

    def total(self, label: str, own: float | None) -> tuple[float, int]:
        """The sum and count of the label's values, `own` left out."""
        total, n = self.sums.get(label, 0.0), self.counts.get(label, 0)
        if own is not None and n:
            total, n = total - own, n - 1
        return total, n

    def mean(self, label: str, own: float | None) -> tuple[float, int]:
        total, n = self.total(label, own)
        return (total / n if n else 0.0), n


def price_band(rrp: object) -> str:
    """'under 8', '8-15' or 'over 15' (pounds), '' when unknown."""
    try:
        value = float(rrp)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return ""
    if not np.isfinite(value):
        return ""
    return "under 8" if value < 8 else "8-15" if value <= 15 else "over 15"
