"""Pools kept from one training run to the next: rows of JSON, and the hashes that say when a
kept pool may stand in for training it again.

What pooled families train across titles (`parallel.train_pools`) depends on settings (the
pooled candidates and the layout of their pools, the season, the training window, the
cut-offs they are trained up to) and on the titles' data. `settings_hash` digests the
settings; `data_hash` the content hashes of the titles trained on. A retrain may reuse kept
pools whose settings hash equals its own: a changed title is then fitted against pools trained
on the catalogue as it was, and its spec copies from them what it uses, as from fresh pools.

`to_rows` and `from_rows` turn `Pools` into rows (cut-off, family, the pool as JSON) and back:
plain values only, so a pool read back fits a title exactly as the pool it was written from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.backtest import Pools
from shelfcast.forecasting.families import FAMILIES
from shelfcast.forecasting.fit import FitConfig
from shelfcast.forecasting.parallel import pool_cutoffs

FORMAT_VERSION = 1
DIGEST_BYTES = 16


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).hexdigest()


def pool_settings(config: FitConfig, series: Sequence[TitleSeries]) -> dict[str, Any]:
    """What pools trained across `series` with `config` depend on besides the data."""
    pooled = [FAMILIES[n] for n in config.candidates if FAMILIES[n].pooled]
    cutoffs = pool_cutoffs(series, config) if pooled and series else []
    return {
        "format_version": FORMAT_VERSION,
        "families": {f.name: f.pool_version for f in pooled},
        "season_length": config.season_length,
        "max_train_weeks": config.max_train_weeks,
        "cutoffs": [c.date().isoformat() for c in cutoffs],
    }


def settings_hash(config: FitConfig, series: Sequence[TitleSeries]) -> str:
    """The digest of `pool_settings`: equal for pools that may stand in for each other."""
    return _digest(pool_settings(config, series))


def data_hash(content_hashes: Mapping[str, str]) -> str:
    """The digest of the titles pools are trained on (key -> `content_hash.content_hash`)."""
    return _digest(sorted(content_hashes.items()))


def _plain(pool: Any) -> Any:
    return dataclasses.asdict(pool) if dataclasses.is_dataclass(pool) else pool


def to_rows(pools: Pools) -> list[dict[str, Any]]:
    """A row per cut-off and family: `cutoff` (a date), `family`, `pool` (JSON text)."""
    return [
        {
            "cutoff": cut.date(),
            "family": name,
            "pool": json.dumps(_plain(pool), separators=(",", ":"), allow_nan=False),
        }
        for cut, found in pools.items()
        for name, pool in sorted(found.items())
    ]


def from_rows(rows: Iterable[Mapping[str, Any]]) -> Pools:
    """`Pools` from `to_rows`'s rows: each pool as the plain JSON values families read."""
    trained: dict[pd.Timestamp, dict[str, Any]] = {}
    for row in rows:
        cutoff = row["cutoff"]
        cut = pd.Timestamp(cutoff.isoformat() if isinstance(cutoff, date) else cutoff)
        trained.setdefault(cut, {})[str(row["family"])] = json.loads(row["pool"])
    return Pools(trained)
