"""Weekly sales of the sample catalogue: each title's expected volume week by week (its life
cycle, trend, the market, seasonality, lockdowns and slow demand shocks), negative binomial
unit sales around it, prices, and the rows in BookScan's layout, generated in chunks of titles
so that memory stays bounded at any catalogue size.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.signal import lfilter

from shelfcast.catalog.sample.additions import plan_additions
from shelfcast.catalog.sample.effects import (
    SEASON_NAMES,
    WEEKS_PER_YEAR,
    lockdown_effect,
    market_level,
    season_matrix,
)
from shelfcast.catalog.sample.layout import COLUMNS, METADATA_COLUMNS, SHEETS
from shelfcast.catalog.sample.mix import DEFAULT_MIX, scaled_mix
from shelfcast.catalog.sample.names import Namer
from shelfcast.catalog.sample.titles import (
    ALCHEMIST,
    CATERPILLAR,
    Drafter,
    Title,
    plan_titles,
    seed_titles,
)

# Bumped whenever a seed's data changes, so that copies cached by an earlier version are
# written again (`training.sources.resolve_sources`). 2: added titles and the title metadata.
GENERATOR_VERSION = 2
FIRST_WEEK = pd.Timestamp("2001-01-06")
LAST_WEEK = pd.Timestamp("2024-07-20")
WEEKS = pd.date_range(FIRST_WEEK, LAST_WEEK, freq="W-SAT")
CHUNK_TITLES = 1000  # titles simulated at once: 1,000 x 1,229 weeks is 10 MB a matrix
_BLANK_AUTHORS = 6  # titles whose sales rows lack the author (the ISBN list has it)
# Books come out on Thursdays: a publication date is this long before its week ending.
_THURSDAY = pd.Timedelta(days=2)

Progress = Callable[[int, int], None]  # (titles done, titles in all)
TEXT = pa.string()
SALES_SCHEMA = pa.schema(
    [(c, TEXT) for c in COLUMNS[:3]]
    + [("Interval", pa.int64()), ("End Date", pa.timestamp("ns")), ("Volume", pa.int64())]
    + [(c, pa.float64()) for c in ("Value", "ASP", "RRP")]
    + [(c, TEXT) for c in COLUMNS[9:]]
)


def _columns(plan: list[Title], name: str) -> np.ndarray:
    return np.array([getattr(t, name) for t in plan])


def _expected_volume(
    plan: list[Title], weeks: pd.DatetimeIndex, seasons: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """titles x weeks: expected weekly units (0 before launch and after going out of print)."""

    def col(name: str) -> np.ndarray:
        return _columns(plan, name)[:, None]

    week = np.arange(len(weeks), dtype=np.float64)[None, :]
    launch, stop, fade = col("launch"), col("stop"), col("fade")
    age = np.maximum(week - launch, 0.0)
    log_mu = (
        np.log(col("base"))
        + np.log1p(col("boost") * np.exp(-age / col("tau")))
        + np.log1p(-np.exp(-(age + 1.0) / 1.2))  # the first week on sale is partial
        + col("trend") * (week - np.maximum(launch, 0.0)) / WEEKS_PER_YEAR
        + market_level(weeks)[None, :]
        + _columns(plan, "seasons") @ seasons.T
        + col("lockdown") * lockdown_effect(weeks)[None, :]
        - np.maximum(week - stop, 0.0) / fade
        + _shocks(rng, _columns(plan, "shock_sd"), len(weeks))
    )  # fmt: skip
    on_sale = (week >= launch) & (week <= stop + 4.0 * fade)
    return np.where(on_sale, np.exp(np.minimum(log_mu, np.log(1e5))), 0.0)


def _shocks(rng: np.random.Generator, sd: np.ndarray, n_weeks: int, phi: float = 0.9) -> np.ndarray:
    """titles x weeks: slow AR(1) demand shocks on the log scale, started in equilibrium."""
    burn = 100
    eps = rng.standard_normal((len(sd), n_weeks + burn)) * sd[:, None]
    return lfilter([1.0], [1.0, -phi], eps, axis=1)[:, burn:]


@dataclass
class Catalogue:
    """A planned sample catalogue: every title's metadata and sales parameters, and the states
    of the random streams their sales are drawn from once planned."""

    core: list[Title]  # seed titles and the core archetypes (`titles`)
    core_stream: np.random.Generator
    added: list[Title]  # the added groups (`additions`)
    added_stream: np.random.Generator

    @property
    def titles(self) -> list[Title]:
        return self.core + self.added

    def sales(self, progress: Progress | None = None) -> Iterator[pa.Table]:
        """BookScan rows chunk by chunk: the core titles', then the added titles' (each sorted
        by sheet and ISBN, a title's rows by week). The same every time it is called.

        Each chunk's sales continue its part's random stream, so the data depend on
        `CHUNK_TITLES` once a part has more titles than that. The first chunk of a part takes
        the remainder and the last is whole: the titles lacking authors come from it."""
        seasons = season_matrix(WEEKS)
        parts = [(self.core, self.core_stream, True), (self.added, self.added_stream, False)]
        done, total = 0, len(self.core) + len(self.added)
        for plan, stream, blank_authors in parts:
            rng = copy.deepcopy(stream)
            for end in range(len(plan), 0, -CHUNK_TITLES)[::-1]:  # the last chunk is whole
                chunk = plan[max(end - CHUNK_TITLES, 0) : end]
                last = end == len(plan)
                yield _simulate(chunk, WEEKS, seasons, rng, blank_authors=blank_authors and last)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)

    def title_list(self) -> pd.DataFrame:
        """Every title's metadata (`METADATA_COLUMNS`), sorted by ISBN."""
        plan = self.titles
        launch = np.ceil(_columns(plan, "launch"))
        published = FIRST_WEEK + pd.to_timedelta(launch * 7, unit="D") - _THURSDAY
        values = [
            [t.isbn for t in plan],
            [t.title for t in plan],
            [t.author for t in plan],
            [t.binding for t in plan],
            [t.imprint for t in plan],
            [t.group for t in plan],
            [t.product_class for t in plan],
            _columns(plan, "rrp"),
            published,
        ]
        frame = pd.DataFrame(dict(zip(METADATA_COLUMNS, values, strict=True)))
        return frame.sort_values("ISBN", ignore_index=True)


def plan_catalogue(seed: int = 42, titles: int | None = None) -> Catalogue:
    """The catalogue of a seed: the default mix of archetypes, or `titles` ISBNs in its
    proportions.

    The core titles (seed titles, backlist, frontlist, edition pairs, low sellers) and their
    sales come from `default_rng(seed)`, the added titles (`additions`) from
    `default_rng([seed, 1])`, so adding titles leaves the core's sales as they were.
    """
    mix = scaled_mix(titles)
    n_weeks = len(WEEKS)
    seeds = seed_titles()
    rng = np.random.default_rng(seed)
    namer = Namer(
        rng,
        titles=tuple(t.title for t in seeds),
        isbns=tuple(t.isbn for t in seeds),
        scale=mix.titles / DEFAULT_MIX.titles,
    )
    core = plan_titles(Drafter(rng, namer), n_weeks, mix.core)
    added_rng = np.random.default_rng([seed, 1])
    added = plan_additions(Drafter(added_rng, namer.fork(added_rng)), n_weeks, mix.added, core)

    def by_sheet(plan: list[Title]) -> list[Title]:
        return sorted(plan, key=lambda t: (t.sheet, t.isbn))

    return Catalogue(by_sheet(core), rng, by_sheet(added), added_rng)


def _simulate(
    plan: list[Title],
    weeks: pd.DatetimeIndex,
    seasons: np.ndarray,
    rng: np.random.Generator,
    *,
    blank_authors: bool,
) -> pa.Table:
    """The BookScan rows of `plan`'s titles; with `blank_authors`, a few of them (never the
    seed titles) lack the author."""
    mu = _expected_volume(plan, weeks, seasons, rng)
    dispersion = _columns(plan, "dispersion")[:, None]
    volume = rng.poisson(mu * rng.gamma(np.broadcast_to(dispersion, mu.shape)) / dispersion)

    # Prices: an RRP that rises by a pound once for a third of titles, and a selling price
    # discounted from it by a title-level rate, weekly noise and deeper Christmas promotions.
    n_titles, n_weeks = mu.shape
    rrp = _columns(plan, "rrp")[:, None] + np.where(
        (rng.random(n_titles) < 1 / 3)[:, None]
        & (np.arange(n_weeks)[None, :] >= rng.integers(0, n_weeks, n_titles)[:, None]),
        1.0,
        0.0,
    )
    discount = (
        _columns(plan, "discount")[:, None]
        + 0.03 * rng.standard_normal(mu.shape)
        + 0.08 * seasons[:, SEASON_NAMES.index("christmas")][None, :]
    )
    asp = np.minimum(np.round(rrp * (1.0 - np.clip(discount, 0.0, 0.6)), 2), rrp)

    blank: set[str] = set()
    if blank_authors:
        others = [i for i, t in enumerate(plan) if t.isbn not in (ALCHEMIST, CATERPILLAR)]
        size = min(_BLANK_AUTHORS, len(others))
        blank = {plan[i].isbn for i in rng.choice(others, size=size, replace=False)}

    rows, cols = np.nonzero(volume)
    index = pa.array(rows)

    def per_title(values: list[str | None]) -> pa.Array:
        return pa.array(values, TEXT).take(index)

    iso = weeks.isocalendar()
    interval = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
    vol = volume[rows, cols].astype(np.int64)
    price = asp[rows, cols]
    columns = {
        "ISBN": per_title([t.isbn for t in plan]),
        "Title": per_title([t.title for t in plan]),
        "Author": per_title([None if t.isbn in blank else t.author for t in plan]),
        "Interval": interval[cols],
        "End Date": pa.array(weeks.to_numpy()[cols]),
        "Volume": vol,
        "Value": np.round(vol * price, 2),
        "ASP": price,
        "RRP": np.round(rrp[rows, cols], 2),
        "Binding": per_title([t.binding for t in plan]),
        "Imprint": per_title([t.imprint for t in plan]),
        "Publisher Group": per_title([t.group for t in plan]),
        "Product Class": per_title([t.product_class for t in plan]),
        "Source": per_title([SHEETS[t.sheet] for t in plan]),
    }
    return pa.table(columns, schema=SALES_SCHEMA)


def sample_catalogue(seed: int = 42, titles: int | None = None) -> pd.DataFrame:
    """The sample catalogue's weekly sales rows in BookScan layout, plus a Source column.

    Deterministic for a seed: by default 597 ISBNs (25 of them not yet published, so without
    rows), week endings (Saturdays) 2001-01-06 to 2024-07-20, one row per title and week with
    sales (about 400,000 rows); `titles` ISBNs in the same mix otherwise.
    """
    tables = list(plan_catalogue(seed, titles).sales())
    return pa.concat_tables(tables).to_pandas()
