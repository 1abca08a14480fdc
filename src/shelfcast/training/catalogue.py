"""Training the whole catalogue: which titles to refit, and the version's summary metrics.

Incremental training. Each title's series and fit settings are hashed
(`forecasting.content_hash`); a title is refitted when its hash differs from the one the
champion catalogue version records for it, or when the catalogue has no row of it. The others
are carried over by the registry (their champion rows copied, not refitted). A full refit
(`full`) refits every title.

Pooled families (gbm, launch, profile) are trained across titles (`train_pools`). A refitted
title is fitted against pools trained on every title of this run's data, changed or not (as a
full refit would be), and its quantiles are calibrated with the other titles refitted in the
same run. A carried-over title keeps everything its row holds: its spec with the pooled arrays
and the calibration it was fitted with (the table's shared values), until its series or the
settings change, or a full refit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.content_hash import content_hash, settings_digest
from shelfcast.forecasting.fit import FitConfig
from shelfcast.monitoring.segment_accuracy import ALL, segment_accuracy
from shelfcast.settings import Settings


@dataclass(frozen=True)
class RefitPlan:
    """The titles to refit, every title's content hash, and the version they build on."""

    base_version: str | None
    refit: list[str]
    hashes: dict[str, str]
    settings_digest: str


def plan_refit(
    settings: Settings, series: Sequence[TitleSeries], config: FitConfig, full: bool = False
) -> RefitPlan:
    """Which of `series` to refit on top of the champion catalogue version."""
    from shelfcast.registry.catalogue import fitted_hashes

    digest = settings_digest(config)
    hashes = {s.key: content_hash(s, digest) for s in series}
    base, fitted = fitted_hashes(settings)
    refit = [k for k, h in hashes.items() if full or fitted.get(k) != h]
    return RefitPlan(base, refit, hashes, digest)


def summary_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """Run-level metrics of a catalogue version from its per-title metrics: per segment and
    over all titles, MASE, WAPE, wQL, interval coverage and title counts, on the holdout weeks
    of the titles scored there (`monitoring.segment_accuracy`'s aggregation; wQL as a ratio
    of sums like WAPE)."""
    scored = metrics[metrics["weeks"] > 0].dropna(subset=["mae", "coverage_80", "coverage_95"])
    titles = scored.to_dict("records")
    out: dict[str, float] = {}
    if not titles:
        return out
    wql = _weighted_wql(scored)
    for row in segment_accuracy(titles):
        name = str(row["segment"])
        for key in ("titles", "mase", "wape", "coverage_80", "coverage_95"):
            value = float(row[key])
            if math.isfinite(value):
                out[f"{name}/{key}"] = value
        if name in wql:
            out[f"{name}/wql"] = wql[name]
    return out


def _weighted_wql(scored: pd.DataFrame) -> Mapping[str, float]:
    """wQL per segment and over all: each title's wQL weighted by its units sold."""
    has = scored[scored["wql"].notna() & (scored["actual"] > 0)]
    loss = has["wql"] * has["actual"]
    out = {
        str(segment): float(loss[group.index].sum() / group["actual"].sum())
        for segment, group in has.groupby("segment")
    }
    if len(has):
        out[ALL] = float(loss.sum() / has["actual"].sum())
    return out
