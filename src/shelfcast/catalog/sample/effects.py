"""What the calendar does to every title's weekly sales: annual seasonality by component
(Christmas, summer, Easter, ...), the book market's long-run level and the 2020-21 lockdowns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shelfcast.catalog import calendar

WEEKS_PER_YEAR = 365.2425 / 7

# Annual components, each a bump of height 1 at its peak: (name, centre, days before, days after).
# A centre is a month-day, or "easter" for Easter Sunday of each year.
SEASONS: tuple[tuple[str, str, float, float], ...] = (
    ("christmas", "12-21", 20.0, 5.0),  # gift buying builds from November, stops at Christmas
    ("summer", "08-01", 24.0, 24.0),  # holiday reading
    ("easter", "easter", 10.0, 8.0),  # Easter gifts and early-years spring buying
    ("back_to_school", "09-05", 14.0, 12.0),  # new school and university year
    ("exams", "04-25", 30.0, 18.0),  # revision season before GCSE and A-level exams
    ("new_year", "01-08", 7.0, 12.0),  # resolutions: diet, fitness, self-help
)
SEASON_NAMES = tuple(s[0] for s in SEASONS)

# Market-wide log level by year: growth to 2007, decline with e-books and recession to 2013,
# recovery, the 2021 post-lockdown boom, then a slight fall.
_MARKET = {2001: 0.0, 2004: 0.08, 2007: 0.13, 2010: 0.05, 2013: -0.12, 2016: -0.08,
           2019: -0.04, 2021: 0.06, 2022: 0.03, 2024: -0.02}  # fmt: skip

# Lockdown multipliers on volume by week ending (England): shops shut 23 March 2020 and reopened
# 15 June 2020, with online sales recovering part of the loss in between; the November 2020 and
# January-April 2021 lockdowns cost less as more buying had moved online.
_LOCKDOWN = {
    "2020-03-21": 1.08, "2020-03-28": 0.45, "2020-04-04": 0.48, "2020-04-11": 0.52,
    "2020-04-18": 0.57, "2020-04-25": 0.62, "2020-05-02": 0.66, "2020-05-09": 0.70,
    "2020-05-16": 0.73, "2020-05-23": 0.76, "2020-05-30": 0.79, "2020-06-06": 0.82,
    "2020-06-13": 0.85, "2020-06-20": 1.08, "2020-06-27": 1.03,
    "2020-11-07": 0.88, "2020-11-14": 0.85, "2020-11-21": 0.85, "2020-11-28": 0.88,
    "2021-01-09": 0.82, "2021-01-16": 0.80, "2021-01-23": 0.80, "2021-01-30": 0.82,
    "2021-02-06": 0.83, "2021-02-13": 0.84, "2021-02-20": 0.85, "2021-02-27": 0.86,
    "2021-03-06": 0.87, "2021-03-13": 0.88, "2021-03-20": 0.89, "2021-03-27": 0.90,
    "2021-04-03": 0.91, "2021-04-10": 0.92, "2021-04-17": 1.05,
}  # fmt: skip


def season_vector(amplitudes: dict[str, float]) -> tuple[float, ...]:
    """Log-amplitudes by component name as a vector in `SEASONS` order (0 where not named)."""
    return tuple(amplitudes.get(name, 0.0) for name in SEASON_NAMES)


def season_matrix(weeks: pd.DatetimeIndex) -> np.ndarray:
    """weeks x components: each component's bump (0..1) at each week ending."""
    days = weeks.values.astype("datetime64[D]")
    year = weeks.year.to_numpy()
    out = np.zeros((len(weeks), len(SEASONS)))
    for j, (_, centre, before, after) in enumerate(SEASONS):
        for shift in (-1, 0, 1):  # the nearest occurrence may fall in the adjacent year
            yrs = year + shift
            if centre == "easter":
                peak = calendar.easter(yrs)
            else:
                peak = np.array([f"{yy:04d}-{centre}" for yy in yrs], dtype="datetime64[D]")
            delta = (days - peak).astype(np.float64)
            width = np.where(delta < 0, before, after)
            out[:, j] = np.maximum(out[:, j], np.exp(-0.5 * (delta / width) ** 2))
    return out


def market_level(weeks: pd.DatetimeIndex) -> np.ndarray:
    t = weeks.year.to_numpy() + (weeks.dayofyear.to_numpy() - 1) / 365.25
    years = np.array(list(_MARKET), dtype=float) + 0.5
    return np.interp(t, years, np.array(list(_MARKET.values())))


def lockdown_effect(weeks: pd.DatetimeIndex) -> np.ndarray:
    factors = pd.Series(_LOCKDOWN, dtype=float)
    factors.index = pd.to_datetime(factors.index)
    return np.log(factors.reindex(weeks, fill_value=1.0).to_numpy())
