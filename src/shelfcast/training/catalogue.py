"""Training the whole catalogue: which titles to refit.

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

from collections.abc import Sequence
from dataclasses import dataclass

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.content_hash import content_hash, settings_digest
from shelfcast.forecasting.fit import FitConfig
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
