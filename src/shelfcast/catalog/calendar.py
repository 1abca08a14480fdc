"""Dates of the movable feasts that move book sales, computed without a holiday library."""

from __future__ import annotations

import numpy as np


def easter(years: np.ndarray) -> np.ndarray:
    """Easter Sunday (Gregorian; the anonymous algorithm of Meeus, Jones and Butcher) of each
    year, as datetime64[D]."""
    y = np.asarray(years, dtype=np.int64)
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month = (h + el - 7 * m + 114) // 31
    day = (h + el - 7 * m + 114) % 31 + 1
    months = ((y - 1970) * 12 + (month - 1)).astype("datetime64[M]").astype("datetime64[D]")
    return months + (day - 1).astype("timedelta64[D]")
