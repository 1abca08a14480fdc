"""What a title's fit depends on, as one hash: its series and the fit configuration.

`content_hash(series, settings_digest)` is stored in the catalogue table's `content_hash`
column; a retrain refits a title only when its hash differs from the one its current row was
fitted for. The series counts whole: key, descriptive fields (title, author, source,
metadata), first week, frequency and every weekly value, so a corrected old week or a renamed
title refits it too. `settings_digest(config)` digests every `FitConfig` field (candidates,
horizon, origins, season, levels, training window), so a change to any of them refits every
title. Hashing is blake2b over the value bytes: about 2 us per 500-week series.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.fit import FitConfig

DIGEST_BYTES = 16


def settings_digest(config: FitConfig) -> str:
    """The fit configuration's digest (every field, in a canonical JSON form)."""
    text = json.dumps(asdict(config), sort_keys=True, default=list, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_BYTES).hexdigest()


def content_hash(series: TitleSeries, settings: str) -> str:
    """The hash of `series` (every field and weekly value) fitted with `settings` (a digest)."""
    h = hashlib.blake2b(digest_size=DIGEST_BYTES)
    described = [
        series.key,
        series.title,
        series.author,
        series.source,
        sorted(series.meta.items()),
        series.start.isoformat(),
        series.freq,
        settings,
    ]
    h.update(json.dumps(described, separators=(",", ":")).encode())
    h.update(np.ascontiguousarray(series.values, dtype=np.float64).tobytes())
    return h.hexdigest()
