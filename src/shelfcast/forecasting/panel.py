"""Many titles' weekly histories side by side, for forecasts computed over titles at once.

A `Panel` lays each history right-aligned in one (titles x weeks) array: every title's last
week is the last column, and the weeks before a shorter title's first are zeros (`valid`
says which cells are weeks of a history). Week clocks are days since 1970, so that dates of
any row are arithmetic, not pandas objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.fourier import EPOCH


@dataclass(frozen=True)
class Panel:
    """`histories` as arrays: `values` (titles x `width` weeks, right-aligned, zero-padded)."""

    histories: tuple[TitleSeries, ...]

    def __len__(self) -> int:
        return len(self.histories)

    @cached_property
    def lengths(self) -> np.ndarray:
        return np.array([len(h) for h in self.histories], dtype=np.int64)

    @cached_property
    def width(self) -> int:
        return int(self.lengths.max(initial=1))

    @cached_property
    def values(self) -> np.ndarray:
        out = np.zeros((len(self), self.width))
        for i, h in enumerate(self.histories):
            out[i, self.width - len(h) :] = h.values
        return out

    @cached_property
    def valid(self) -> np.ndarray:
        """True where a cell is a week of its title's history."""
        return np.arange(self.width) >= (self.width - self.lengths)[:, None]

    @cached_property
    def start_days(self) -> np.ndarray:
        """Days since 1970 of each title's first week."""
        return np.array([(h.start - EPOCH).days for h in self.histories], dtype=np.int64)

    @cached_property
    def days(self) -> np.ndarray:
        """Days since 1970 of every cell's week (before a title's first week: extrapolated)."""
        end = self.start_days + 7 * (self.lengths - 1)
        return end[:, None] + 7 * (np.arange(self.width) - (self.width - 1))

    def future_days(self, horizon: int) -> np.ndarray:
        """Days since 1970 of the `horizon` weeks after each title's last."""
        last = self.start_days + 7 * (self.lengths - 1)
        return last[:, None] + 7 * np.arange(1, horizon + 1)

    def peaks(self) -> np.ndarray:
        """Each title's largest week (0 for none)."""
        return np.max(self.values, axis=1, initial=0.0)

    def take(self, rows: Sequence[int]) -> Panel:
        return Panel(tuple(self.histories[i] for i in rows))


def week_numbers(days: np.ndarray) -> np.ndarray:
    """`fourier.week_number` of days since 1970."""
    return np.asarray(days, dtype=np.float64) / 7.0


def day_of(day: str | pd.Timestamp) -> int:
    """Days since 1970 of one day (an ISO date such as a spec's time origin)."""
    return int((pd.Timestamp(day) - EPOCH).days)
