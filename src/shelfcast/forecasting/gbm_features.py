"""Features of the pooled gradient-boosting family: one function for training rows and forecasts.

A row is a title's history cut at an origin (its first `origin` weeks) and a step `s` ahead:
the target is the week `origin - 1 + s`. Every volume feature is relative to the title's recent
level at the origin, `scale` = the mean of the last 13 weeks + 1, and so is the target
(`volume / scale`), so that one model fits titles of any size and the point forecast
(`prediction * scale`) estimates the mean. Features (`FEATURES`, in this order):

- `lag_1`..`lag_8`: the last eight weeks; `mean_4`, `mean_13`, `mean_26`, `mean_52`: rolling
  means (NaN where the history is shorter than the window);
- `year_ago_m1`, `year_ago`, `year_ago_p1`: the week a year (52 weeks) before the target and its
  neighbours, where the history reaches them (NaN otherwise; a step beyond a year goes back
  whole years more); `year_ago_swing`: that year-ago week's 3-week mean over the level a year
  before the origin (+1 on both), the seasonal swing seen last year; `seasonal_swing`: the same
  swing averaged over up to `SWING_YEARS` past years (the target's week over the level at the
  origin's date, each a whole solar year back), and `seasonal_years`, how many years it saw;
- calendar of the target week (a week ending on the series' dates: it covers the 7 days up to
  its week ending): `week_of_year` (1..53), `days_to_christmas` (signed, to the nearest 25
  December), flags for the week containing Christmas Day, the week before it (containing 18
  December), New Year's Day, Black Friday (the Friday after US Thanksgiving), Easter Sunday,
  Mother's Day (US: second Sunday of May) and Father's Day (third Sunday of June);
- `h`: the step, capped at `H_MAX` (a step beyond it takes `H_MAX` with its own week's
  calendar); `age`: the weeks of history at the origin, capped at `AGE_CAP`; `log_level`: log1p
  of the 13-week mean (how big the title is).

numpy and pandas only: forecasts are computed where no fitting library is installed. Changing
the features, their order or meaning increments `LAYOUT_VERSION` (specs record it).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog import calendar

LAYOUT_VERSION = 1
H_MAX = 52
SEASON = 52
LEVEL_WEEKS = 13
AGE_CAP = 260
SWING_YEARS = 10
YEAR_WEEKS = 365.2425 / 7.0
LAGS = 8
ROLLING = (4, 13, 26, 52)
HOLIDAYS = (
    "christmas",
    "week_before_christmas",
    "new_year",
    "black_friday",
    "easter",
    "mothers_day",
    "fathers_day",
)
FEATURES: tuple[str, ...] = (
    *(f"lag_{k}" for k in range(1, LAGS + 1)),
    *(f"mean_{w}" for w in ROLLING),
    "year_ago_m1",
    "year_ago",
    "year_ago_p1",
    "year_ago_swing",
    "seasonal_swing",
    "seasonal_years",
    "week_of_year",
    "days_to_christmas",
    *HOLIDAYS,
    "h",
    "age",
    "log_level",
)
_EPOCH = np.datetime64("1970-01-01", "D")


def features(
    values: np.ndarray, start: pd.Timestamp, origins: np.ndarray, steps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The feature matrix (rows x `FEATURES`) and each row's scale.

    Row i sees only `values[:origins[i]]` (its history at the origin, at least one week) and
    describes the week `origins[i] - 1 + steps[i]` (steps from 1); `start` is the week ending
    of `values[0]`.
    """
    y = np.asarray(values, dtype=np.float64)
    first = (np.datetime64(pd.Timestamp(start).date(), "D") - _EPOCH).astype(np.int64)
    t = np.asarray(origins, dtype=np.int64)
    return panel_features(
        y[None], np.array([len(y)]), np.array([first]), np.zeros_like(t), t, steps
    )


def panel_features(
    panel: np.ndarray,
    lengths: np.ndarray,
    first_days: np.ndarray,
    titles: np.ndarray,
    origins: np.ndarray,
    steps: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """`features` of rows of many titles: title k's history is the last `lengths[k]` weeks of
    `panel[k]` (right-aligned, zeros before), its first week ending `first_days[k]` days after
    1970; row i is title `titles[i]` at origin `origins[i]` (counted from its first week), step
    `steps[i]`."""
    t = np.asarray(origins, dtype=np.int64)
    s = np.asarray(steps, dtype=np.int64)
    k = np.asarray(titles, dtype=np.int64)
    if t.shape != s.shape or t.shape != k.shape or t.ndim != 1:
        raise ValueError("origins and steps must be 1-d arrays of one length")
    n = lengths[k]
    if len(t) and (t.min() < 1 or np.any(t > n) or s.min() < 1):
        raise ValueError("origins must lie in 1..len(values) and steps be >= 1")
    width = panel.shape[1]
    first = width - n  # the panel column of each row's first week
    cum = np.concatenate([np.zeros((len(panel), 1)), np.cumsum(panel, axis=1)], axis=1)

    def window_mean(end: np.ndarray, weeks: int) -> np.ndarray:
        """Mean of y[end - weeks : end]; NaN where that is not inside the history."""
        ok = (end - weeks >= 0) & (end <= n)
        hi = first + np.where(ok, end, 0)
        return np.where(ok, (cum[k, hi] - cum[k, hi - weeks * ok]) / weeks, np.nan)

    def value(index: np.ndarray) -> np.ndarray:
        """y[index], clipped into the history."""
        return panel[k, first + np.clip(index, 0, n - 1)]

    def at(index: np.ndarray) -> np.ndarray:
        """y[index] where 0 <= index < origin, else NaN."""
        ok = (index >= 0) & (index < t)
        return np.where(ok, value(index), np.nan)

    n_level = np.minimum(t, LEVEL_WEEKS)
    level = (cum[k, first + t] - cum[k, first + t - n_level]) / n_level
    scale = level + 1.0
    cols: list[np.ndarray] = [at(t - lag) for lag in range(1, LAGS + 1)]
    cols += [window_mean(t, w) for w in ROLLING]
    target = t - 1 + s
    year_ago = target - SEASON * -(-s // SEASON)  # whole years back, into the history
    neighbours = [at(year_ago + d) for d in (-1, 0, 1)]
    cols += neighbours
    units = np.column_stack(cols) / scale[:, None]
    near = np.column_stack(neighbours) if len(t) else np.zeros((0, 3))
    seen = np.sum(~np.isnan(near), axis=1)
    around = np.where(seen > 0, np.nansum(near, axis=1) / np.maximum(seen, 1), np.nan)
    swing = (around + 1.0) / (window_mean(t - SEASON, LEVEL_WEEKS) + 1.0)
    seasonal, years = _seasonal_swing(value, t, target, window_mean)
    calendar = calendar_features(first_days[k] + 7 * target)
    h = np.minimum(s, H_MAX).astype(np.float64)
    age = np.minimum(t, AGE_CAP).astype(np.float64)
    out = np.column_stack([units, swing, seasonal, years, calendar, h, age, np.log1p(level)])
    return out, scale


def _seasonal_swing(
    value: Any, t: np.ndarray, target: np.ndarray, window_mean: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Over up to `SWING_YEARS` past years: the target's week over the level at the origin's
    date (their means over the years, +1 on both), and how many years that is. Whole solar
    years back (52 or 53 weeks), so that a date stays in its week."""
    week_sum = np.zeros(len(t))
    level_sum = np.zeros(len(t))
    years = np.zeros(len(t))
    for k in range(1, SWING_YEARS + 1):
        back = round(k * YEAR_WEEKS)
        week = target - back
        ok = (week >= 0) & (week < t) & (t - back - LEVEL_WEEKS >= 0)
        week_sum += np.where(ok, value(np.where(ok, week, 0)), 0.0)
        level = window_mean(np.where(ok, t - back, LEVEL_WEEKS), LEVEL_WEEKS)
        level_sum += np.where(ok, level, 0.0)
        years += ok
    n = np.maximum(years, 1.0)
    swing = np.where(years > 0, (week_sum / n + 1.0) / (level_sum / n + 1.0), np.nan)
    return swing, years


def calendar_features(days: np.ndarray) -> np.ndarray:
    """Week of year, days to Christmas and the holiday flags of the weeks ending on `days`
    (days since 1970-01-01): columns in `FEATURES` order."""
    days = np.asarray(days, dtype=np.int64)
    dates = days.astype("datetime64[D]")
    years = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    day_of_year = days - _day(years, 1, 1)
    week_of_year = day_of_year // 7 + 1.0
    to_christmas = np.stack([_day(years + k, 12, 25) - days for k in (-1, 0, 1)])
    nearest = np.take_along_axis(to_christmas, np.abs(to_christmas).argmin(axis=0)[None], 0)[0]
    span = np.arange(years.min() - 1, years.max() + 2) if len(days) else np.zeros(0, np.int64)
    flags = [_contains(days, holiday_days(name, span)) for name in HOLIDAYS]
    return np.column_stack([week_of_year, nearest.astype(np.float64), *flags])


def holiday_days(name: str, years: np.ndarray) -> np.ndarray:
    """Days since 1970 of holiday `name` (one of `HOLIDAYS`) in each of `years`."""
    years = np.asarray(years, dtype=np.int64)
    if name == "christmas":
        return _day(years, 12, 25)
    if name == "week_before_christmas":
        return _day(years, 12, 18)
    if name == "new_year":
        return _day(years, 1, 1)
    if name == "black_friday":  # the day after the fourth Thursday of November
        return _nth_weekday(years, 11, 3, 4) + 1
    if name == "easter":
        return calendar.easter(years).astype(np.int64)
    if name == "mothers_day":  # US: second Sunday of May
        return _nth_weekday(years, 5, 6, 2)
    if name == "fathers_day":  # third Sunday of June
        return _nth_weekday(years, 6, 6, 3)
    raise ValueError(f"unknown holiday {name!r}")


def _contains(week_endings: np.ndarray, holidays: np.ndarray) -> np.ndarray:
    """1.0 where the week ending on a day holds one of `holidays` (its 7 days up to it)."""
    sorted_days = np.sort(holidays)
    first = np.searchsorted(sorted_days, week_endings - 6, side="left")
    hit = first < len(sorted_days)
    hit[hit] = sorted_days[first[hit]] <= week_endings[hit]
    return hit.astype(np.float64)


def _day(years: np.ndarray, month: int, day: int | np.ndarray) -> np.ndarray:
    """Days since 1970 of the given day of each year."""
    months = (np.asarray(years) - 1970) * 12 + (month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]")
    return (first - _EPOCH).astype(np.int64) + np.asarray(day, dtype=np.int64) - 1


def _nth_weekday(years: np.ndarray, month: int, weekday: int, n: int) -> np.ndarray:
    """Days of the `n`-th `weekday` (Monday 0) of `month` in each year."""
    first = _day(years, month, 1)
    first_weekday = (first + 3) % 7  # 1970-01-01 was a Thursday
    return first + (weekday - first_weekday) % 7 + 7 * (n - 1)
