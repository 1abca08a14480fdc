"""Classical multiplicative seasonal indices and the M4 test for whether a series needs them.

Families that model a deseasonalised series (Theta, AutoTheta, ETS) divide the history by these
indices and multiply their forecasts back: `deseasonalised` when fitting (indices by position in
the cycle from the first week fitted on), `adjusted` and `reseasoned` when forecasting (the
indices laid on the calendar of any longer or shorter history).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.fourier import week_of
from shelfcast.forecasting.intervals import PointForecast
from shelfcast.forecasting.panel import Panel

MIN_INDEX = 0.05  # indices are floored here, so that dividing by them stays finite


def significant(y: np.ndarray, m: int, min_seasons: int = 3) -> bool:
    """The M4 Theta test: lag-`m` autocorrelation significant at 90%, on at least
    `min_seasons` seasons of a series with a positive mean."""
    if m < 2 or len(y) < min_seasons * m or y.mean() <= 0:
        return False
    x = y - y.mean()
    denom = float(np.dot(x, x))
    if denom == 0:
        return False
    acf = np.array([np.dot(x[k:], x[: len(x) - k]) / denom for k in range(1, m + 1)])
    limit = 1.645 * np.sqrt((1 + 2 * np.sum(acf[:-1] ** 2)) / len(y))
    return bool(abs(acf[-1]) > limit)


def indices(y: np.ndarray, m: int) -> np.ndarray:
    """Classical multiplicative indices by position in the cycle (mean ratio to a 2xm MA),
    normalised to mean 1."""
    kernel = np.r_[0.5, np.ones(m - 1), 0.5] / m
    trend = np.convolve(y, kernel, mode="valid")  # centred: trend[i] is at week i + m/2
    offset = m // 2
    ratio = np.full(len(y), np.nan)
    positive = trend > 0
    ratio[offset : offset + len(trend)][positive] = (
        y[offset : offset + len(trend)][positive] / (trend[positive])
    )
    idx = np.array(
        [np.nanmean(ratio[j::m]) if np.any(~np.isnan(ratio[j::m])) else 1.0 for j in range(m)]
    )
    idx = np.where(np.isfinite(idx) & (idx > MIN_INDEX), idx, MIN_INDEX)
    return idx / idx.mean()


def cycle(idx: np.ndarray, length: int, start: int) -> np.ndarray:
    """`length` indices laid along the weeks from position `start` of the cycle."""
    return idx[(start + np.arange(length)) % len(idx)]


def deseasonalised(
    y: np.ndarray, m: int, seasonal: bool
) -> tuple[tuple[float, ...] | None, np.ndarray]:
    """A fit's indices (None when not `seasonal`) and `y` divided by them, from its first week."""
    if not seasonal:
        return None, y
    idx = indices(y, m)
    return tuple(idx.tolist()), y / cycle(idx, len(y), 0)


def adjusted(
    history: TitleSeries, fitted: tuple[float, ...] | None, time_origin: str, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """`history` divided by a fit's indices (laid on the calendar from the fit's first week,
    `time_origin`), and the indices of the `horizon` weeks after it."""
    idx = np.asarray(fitted or (1.0,))
    offset = round(week_of(history.start) - week_of(time_origin))
    n = len(history)
    return history.values / cycle(idx, n, offset), cycle(idx, horizon, offset + n)


def reseasoned(out: PointForecast, ahead: np.ndarray) -> PointForecast:
    """A forecast of the deseasonalised series times the indices of its weeks."""
    return PointForecast(
        out.mean * ahead,
        {lv: b * ahead for lv, b in out.lower.items()},
        {lv: b * ahead for lv, b in out.upper.items()},
    )


def adjusted_panel(
    panel: Panel,
    fitted: Sequence[tuple[float, ...] | None],
    time_origins: Sequence[str],
    horizon: int,
) -> tuple[np.ndarray, np.ndarray]:
    """`adjusted` of many titles at once: the panel's values divided by each title's indices
    (ones before its first week), and the indices of the `horizon` weeks after each."""
    cycles = [np.asarray(f or (1.0,)) for f in fitted]
    lengths = np.array([len(c) for c in cycles])
    table = np.ones((len(cycles), lengths.max(initial=1)))
    for i, c in enumerate(cycles):
        table[i, : len(c)] = c
    offsets = np.array(
        [
            round(week_of(h.start) - week_of(t))
            for h, t in zip(panel.histories, time_origins, strict=True)
        ]
    )
    first = panel.width - panel.lengths  # the column of each title's first week
    weeks = np.arange(panel.width) - first[:, None]  # week of each column, from the first
    rows = np.arange(len(cycles))[:, None]
    idx = np.where(panel.valid, table[rows, (offsets[:, None] + weeks) % lengths[:, None]], 1.0)
    ahead_weeks = offsets[:, None] + panel.lengths[:, None] + np.arange(horizon)
    return panel.values / idx, table[rows, ahead_weeks % lengths[:, None]]
