"""Weekly sales of the sample catalogue: each title's expected volume week by week (its life
cycle, trend, the market, seasonality, lockdowns and slow demand shocks), negative binomial
unit sales around it, prices, and the rows in BookScan's layout.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.signal import lfilter

from shelfcast.catalog.sample.effects import (
    SEASON_NAMES,
    WEEKS_PER_YEAR,
    lockdown_effect,
    market_level,
    season_matrix,
)
from shelfcast.catalog.sample.layout import COLUMNS, SHEETS
from shelfcast.catalog.sample.titles import ALCHEMIST, CATERPILLAR, Title, plan_titles

FIRST_WEEK = pd.Timestamp("2001-01-06")
LAST_WEEK = pd.Timestamp("2024-07-20")
_BLANK_AUTHORS = 6  # titles whose sales rows lack the author (the ISBN list has it)


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


def build(seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(sales rows, ISBN list) of the sample catalogue for a seed."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range(FIRST_WEEK, LAST_WEEK, freq="W-SAT")
    plan = sorted(plan_titles(rng, len(weeks)), key=lambda t: (t.sheet, t.isbn))
    seasons = season_matrix(weeks)
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

    rows, cols = np.nonzero(volume)
    iso = weeks.isocalendar()
    interval = (iso["year"].to_numpy() * 100 + iso["week"].to_numpy()).astype(np.int64)
    blank = {
        plan[i].isbn
        for i in rng.choice(
            [i for i, t in enumerate(plan) if t.isbn not in (ALCHEMIST, CATERPILLAR)],
            size=_BLANK_AUTHORS,
            replace=False,
        )
    }

    def per_title(values: list[object]) -> np.ndarray:
        return np.array(values, dtype=object)[rows]

    vol = volume[rows, cols].astype(np.int64)
    price = asp[rows, cols]
    sales = pd.DataFrame(
        {
            "ISBN": per_title([t.isbn for t in plan]),
            "Title": per_title([t.title for t in plan]),
            "Author": per_title([None if t.isbn in blank else t.author for t in plan]),
            "Interval": interval[cols],
            "End Date": weeks[cols],
            "Volume": vol,
            "Value": np.round(vol * price, 2),
            "ASP": price,
            "RRP": np.round(rrp[rows, cols], 2),
            "Binding": per_title([t.binding for t in plan]),
            "Imprint": per_title([t.imprint for t in plan]),
            "Publisher Group": per_title([t.group for t in plan]),
            "Product Class": per_title([t.product_class for t in plan]),
            "Source": per_title([SHEETS[t.sheet] for t in plan]),
        },
        columns=COLUMNS,
    )
    isbn_list = pd.DataFrame(
        {"ISBN": [t.isbn for t in plan], "Title": [t.title for t in plan],
         "Author": [t.author for t in plan]}
    ).sort_values("ISBN", ignore_index=True)  # fmt: skip
    return sales, isbn_list


def sample_catalogue(seed: int = 42) -> pd.DataFrame:
    """The sample catalogue's weekly sales rows in BookScan layout, plus a Source column.

    Deterministic for a seed: 500 ISBNs, week endings (Saturdays) 2001-01-06 to 2024-07-20,
    one row per title and week with sales (about 380,000 rows).
    """
    return build(seed)[0]
