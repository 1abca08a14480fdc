"""The clock of the solar year: weeks since 1970 and Fourier terms of a 52.18-week year.

An absolute clock keeps trends and seasonal terms put when a history grows or is cut: a spec
records the first week it was fitted on (`time_origin`), and Fourier terms of the solar year
keep Christmas in place in 53-week years.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd

YEAR_WEEKS = 365.2425 / 7.0
EPOCH = pd.Timestamp("1970-01-01")


def week_number(dates: pd.DatetimeIndex) -> np.ndarray:
    """Weeks since 1970-01-01 as floats: an absolute clock for trends and Fourier terms."""
    days = np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[D]")
    return days.astype(np.int64).astype(np.float64) / 7.0


def weekly_numbers(start: pd.Timestamp, count: int) -> np.ndarray:
    """`week_number` of `count` weeks from `start`, by day arithmetic (no dates built)."""
    first = (pd.Timestamp(start) - EPOCH).days
    return (first + 7 * np.arange(count, dtype=np.int64)).astype(np.float64) / 7.0


@lru_cache(maxsize=4096)
def week_of(day: str | pd.Timestamp) -> float:
    """`week_number` of one day, such as a spec's time origin (an ISO date)."""
    return float(week_number(pd.DatetimeIndex([pd.Timestamp(day)]))[0])


def fourier_terms(weeks: np.ndarray, harmonics: int, period: float = YEAR_WEEKS) -> np.ndarray:
    """Columns sin(2πkt/P), cos(2πkt/P) for k = 1..harmonics."""
    k = np.arange(1, harmonics + 1)
    angle = 2.0 * np.pi * np.outer(weeks, k) / period
    return np.column_stack([np.sin(angle), np.cos(angle)])
