"""Numerics of the intermittent-demand methods (Croston, TSB, ADIDA, IMAPA), as statsforecast
computes them: simple exponential smoothing started at the first value, demand sizes and the
intervals between them, and temporal aggregation into buckets."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from shelfcast.forecasting.intervals import PointForecast, normal_bounds

SES_BOUNDS = (0.1, 0.3)  # where ADIDA and IMAPA search their smoothing constant


def ses(x: np.ndarray, alpha: float) -> tuple[float, np.ndarray]:
    """The one-step forecast after `x`, and the in-sample one-step forecasts (NaN first), of
    simple exponential smoothing whose level starts at `x[0]`."""
    level, fitted = float(x[0]), np.full(len(x), np.nan)
    for i in range(1, len(x)):
        fitted[i] = level
        level = alpha * float(x[i]) + (1.0 - alpha) * level
    return level, fitted


def best_alpha(x: np.ndarray) -> float:
    """The smoothing constant in `SES_BOUNDS` with the least in-sample squared error."""
    from scipy.optimize import minimize_scalar

    if len(x) < 3:
        return SES_BOUNDS[0]

    def sse(alpha: float) -> float:
        _, fitted = ses(x, alpha)
        return float(np.nansum((x - fitted) ** 2))

    res = minimize_scalar(sse, bounds=SES_BOUNDS, method="bounded", options={"xatol": 1e-5})
    return float(res.x)


def intervals(y: np.ndarray) -> np.ndarray:
    """Weeks between sales: from the start to the first, then between consecutive ones."""
    return np.diff(np.flatnonzero(y) + 1, prepend=0).astype(np.float64)


def bucket_sums(y: np.ndarray, size: int) -> np.ndarray:
    """Sums over consecutive buckets of `size` weeks ending at the last week (the oldest,
    incomplete bucket is dropped)."""
    y = y[len(y) % size :]
    return y.reshape(-1, size).sum(axis=1)


def mean_interval_level(y: np.ndarray) -> int:
    """The aggregation level ADIDA uses: the mean interval between sales, rounded."""
    return max(round(float(intervals(y).mean())), 1)


def croston(y: np.ndarray, alpha: float = 0.1) -> float:
    """Croston's weekly rate: smoothed demand size over smoothed interval between sales."""
    sizes = y[y > 0]
    if not sizes.size:
        return float(y[-1]) if len(y) else 0.0
    size, _ = ses(sizes, alpha)
    interval, _ = ses(intervals(y), alpha)
    return size / interval if interval else size


def tsb(y: np.ndarray, alpha_d: float, alpha_p: float) -> float:
    """TSB's weekly rate: smoothed probability of a sale times smoothed demand size."""
    sizes = y[y > 0]
    if not sizes.size:
        return 0.0
    probability, _ = ses((y != 0).astype(np.float64), alpha_p)
    size, _ = ses(sizes, alpha_d)
    return probability * size


def aggregated(y: np.ndarray, level: int, alpha: float) -> float:
    """The weekly rate from smoothing `level`-week bucket sums (ADIDA, one IMAPA level)."""
    sums = bucket_sums(y, level)
    if not sums.size:
        return float(y.mean()) if len(y) else 0.0
    forecast, _ = ses(sums, alpha)
    return forecast / level


def spread(y: np.ndarray, rate: float) -> float:
    """Mean squared difference between the weeks and a flat `rate`: the variance of a flat
    forecast's errors, for intervals before calibration."""
    return float(np.mean((y - rate) ** 2)) if len(y) else 0.0


def flat(rate: float, sigma2: float, horizon: int, levels: Sequence[int]) -> PointForecast:
    """A flat forecast with normal bounds of constant width."""
    return normal_bounds(np.full(horizon, rate), np.full(horizon, np.sqrt(sigma2)), levels)


def _smoothed(
    x: np.ndarray, seen: np.ndarray, alpha: np.ndarray, level: np.ndarray, started: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One step of `ses` for every row where `seen`: the first value starts a row's level."""
    moved = np.where(started, alpha * x + (1.0 - alpha) * level, x)
    return np.where(seen, moved, level), started | seen


def panel_rates(
    values: np.ndarray,
    valid: np.ndarray,
    alpha_size: np.ndarray,
    alpha_other: np.ndarray,
    tsb: np.ndarray,
) -> np.ndarray:
    """`croston` (where not `tsb`) or `tsb` rates of many series at once: row i's series is
    its `valid` weeks of `values`; `alpha_other` smooths the intervals (Croston) or the
    probability of a sale (TSB). The recursions run over columns for every row."""
    rows = len(values)
    size, interval, probability = np.zeros(rows), np.zeros(rows), np.zeros(rows)
    has_size, has_interval, has_probability = (np.zeros(rows, dtype=bool) for _ in range(3))
    since = np.zeros(rows)  # weeks since the last sale (or the series' start), this one included
    for t in range(values.shape[1]):
        week = valid[:, t]
        y = values[:, t]
        sale = week & (y > 0)
        since = since + week
        size, has_size = _smoothed(y, sale, alpha_size, size, has_size)
        interval, has_interval = _smoothed(since, sale, alpha_other, interval, has_interval)
        sold = (y != 0).astype(np.float64)
        probability, has_probability = _smoothed(
            sold, week, alpha_other, probability, has_probability
        )
        since = np.where(sale, 0.0, since)
    last = values[:, -1]
    croston = np.where(
        has_size,
        np.where(interval != 0, size / np.where(interval != 0, interval, 1.0), size),
        last,
    )
    return np.where(tsb, np.where(has_size, probability * size, 0.0), croston)


def flat_panel(
    rate: np.ndarray, sigma2: np.ndarray, horizon: int, levels: Sequence[int]
) -> PointForecast:
    """`flat` of many titles: row i at `rate[i]` with spread `sigma2[i]`."""
    mean = np.repeat(np.asarray(rate, dtype=np.float64)[:, None], horizon, axis=1)
    se = np.repeat(np.sqrt(np.asarray(sigma2, dtype=np.float64))[:, None], horizon, axis=1)
    return normal_bounds(mean, se, levels)
