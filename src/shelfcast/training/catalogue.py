"""Training the whole catalogue: which titles to refit.

Incremental training. Each title's series and fit settings are hashed
(`forecasting.content_hash`); a title is refitted when its hash differs from the one the
champion catalogue version records for it, or when the catalogue has no row of it. The others
are carried over by the registry (their champion rows copied, not refitted). A full refit
(`full`) refits every title.

Pooled families (gbm, launch, profile, zero) are trained across titles (`train_pools`), and
each catalogue version keeps the pools its titles were fitted against (`pools.parquet`), with
the hash of their settings (`pool_state.settings_hash`: pooled families, season, training
window, cut-offs) and of the data they were trained on. A retrain reuses the champion
version's pools when their settings hash is this run's, so that only the changed titles are
fitted, against pools trained on the catalogue as it was; a full refit, changed pool settings
(a new last week moves the cut-offs) or a champion without kept pools trains them again on
every title of this run's data. Refitted titles' quantiles are calibrated with the other
titles refitted in the same run. A carried-over title keeps everything its row holds: its spec
with the pooled arrays and the calibration it was fitted with (the table's shared values),
until its series or the settings change, or a full refit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import pool_state
from shelfcast.forecasting.backtest import Pools
from shelfcast.forecasting.content_hash import content_hash, settings_digest
from shelfcast.forecasting.fit import FitConfig
from shelfcast.settings import Settings


@dataclass(frozen=True)
class PoolPlan:
    """Whether the pools are trained or reused: `reused_from` names the version whose kept
    pools (file digest `file_sha256`, trained in version `trained_in`) stand in; `reason`
    says why. `data_hash`: of the titles the pools used were (or will be) trained on."""

    settings_hash: str
    data_hash: str
    reused_from: str | None
    trained_in: str | None
    file_sha256: str | None
    reason: str

    def to_dict(self) -> dict[str, str | None]:
        return dict(vars(self))


@dataclass(frozen=True)
class RefitPlan:
    """The titles to refit, every title's content hash, the version they build on, and
    whether the pools are trained or reused."""

    base_version: str | None
    refit: list[str]
    hashes: dict[str, str]
    settings_digest: str
    pools: PoolPlan


def plan_refit(
    settings: Settings, series: Sequence[TitleSeries], config: FitConfig, full: bool = False
) -> RefitPlan:
    """Which of `series` to refit on top of the champion catalogue version, and whether its
    kept pools may be reused (see the module docstring)."""
    from shelfcast.registry.catalogue import fitted_hashes
    from shelfcast.registry.catalogue_pools import kept_pools

    digest = settings_digest(config)
    hashes = {s.key: content_hash(s, digest) for s in series}
    base, fitted = fitted_hashes(settings)
    refit = [k for k, h in hashes.items() if full or fitted.get(k) != h]
    wanted = pool_state.settings_hash(config, series)
    kept = kept_pools(settings, base) if base else None
    reuse = None
    if full:
        reason = "full refit: pools trained on every title"
    elif kept is None:
        reason = "no kept pools in the champion version: pools trained on every title"
    elif kept.settings_hash != wanted:
        reason = "pool settings changed (pooled families, season, window or cut-offs): trained"
    else:
        reuse = base
        reason = f"pool settings unchanged: reused from v{base} (trained in v{kept.trained_in})"
    if reuse and kept:
        pools = PoolPlan(wanted, kept.data_hash, reuse, kept.trained_in, kept.file_sha256, reason)
    else:
        pools = PoolPlan(wanted, pool_state.data_hash(hashes), None, None, None, reason)
    return RefitPlan(base, refit, hashes, digest, pools)


def plan_pools(
    settings: Settings,
    plan: Mapping[str, Any],
    series: Sequence[TitleSeries],
    config: FitConfig,
) -> tuple[Pools, list[dict[str, Any]]]:
    """The pools a catalogue retrain fits against, and their rows to keep with the version:
    the kept pools `plan` (`PoolPlan.to_dict`) reuses, read from the registry and verified,
    else pools trained across `series`."""
    from shelfcast.forecasting.parallel import train_pools
    from shelfcast.registry.catalogue_pools import read_pools

    if plan.get("reused_from"):
        rows = read_pools(settings, str(plan["reused_from"]), str(plan["file_sha256"]))
        return pool_state.from_rows(rows), rows
    pools = train_pools(series, config)
    return pools, pool_state.to_rows(pools)
