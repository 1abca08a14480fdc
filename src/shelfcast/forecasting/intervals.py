"""Forecast arrays with interval bounds: normal bounds, and the checks every forecast passes.

A family forecasts on its own scale; `normal_bounds` turns a mean and standard errors into
bounds per interval level (back-transformed from log1p where the family models log1p volumes),
and `finished` makes any family's forecast safe to publish: a mean above `PLAUSIBLE_GROWTH`
times the history's peak is a broken fit, and means and bounds are clipped at zero and ordered.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from shelfcast.errors import ForecastError

PLAUSIBLE_GROWTH = 20.0  # a mean forecast above 20x the history's peak is a broken fit
LARGEST = float(np.finfo(np.float64).max)


@dataclass(frozen=True)
class PointForecast:
    """Forecast arrays for `horizon` weeks: mean, and bounds per interval level."""

    mean: np.ndarray
    lower: dict[int, np.ndarray]
    upper: dict[int, np.ndarray]


def stacked(parts: Sequence[PointForecast]) -> PointForecast:
    """Forecasts of one horizon as one of titles x weeks arrays, in order."""
    levels = parts[0].lower if parts else {}
    return PointForecast(
        np.array([p.mean for p in parts]),
        {lv: np.array([p.lower[lv] for p in parts]) for lv in levels},
        {lv: np.array([p.upper[lv] for p in parts]) for lv in levels},
    )


def take(out: PointForecast, rows: int | Sequence[int] | np.ndarray) -> PointForecast:
    """The rows of titles x weeks forecasts (one title's arrays for an int)."""
    return PointForecast(
        out.mean[rows],
        {lv: b[rows] for lv, b in out.lower.items()},
        {lv: b[rows] for lv, b in out.upper.items()},
    )


def to_model_scale(y: np.ndarray, transform: str) -> np.ndarray:
    return np.log1p(np.maximum(y, 0.0)) if transform == "log1p" else y


def from_model_scale(x: np.ndarray, transform: str) -> np.ndarray:
    return np.expm1(x) if transform == "log1p" else x


@cache
def normal_quantile(tau: float) -> float:
    """The standard normal quantile `tau` (kept: scipy's `ppf` of one number costs tens of µs,
    a fixed cost of every forecast)."""
    from scipy.stats import norm

    return float(norm.ppf(tau))


def z(level: int) -> float:
    """The standard normal quantile of a central `level`% interval's upper bound."""
    return normal_quantile(0.5 + level / 200.0)


def normal_bounds(
    mean: np.ndarray, se: np.ndarray, levels: Sequence[int], transform: str = "none"
) -> PointForecast:
    """Mean +- z * se per level on the model scale, then back on the scale of sales."""
    lower = {lv: from_model_scale(mean - z(lv) * se, transform) for lv in levels}
    upper = {lv: from_model_scale(mean + z(lv) * se, transform) for lv in levels}
    return PointForecast(from_model_scale(mean, transform), lower, upper)


def finished(out: PointForecast, peak: float, levels: Sequence[int], family: str) -> PointForecast:
    """`out` checked against its history's `peak` (`peak_of`), clipped at zero and ordered:
    lo_95 <= lo_80 <= mean <= hi_80 <= hi_95."""
    if implausible(out.mean, peak):
        raise ForecastError(f"{family} forecast exceeds {PLAUSIBLE_GROWTH}x the history's peak")
    return clip_and_order(out, levels)


def peak_of(history: np.ndarray) -> float:
    """A history's largest week (0 for none): what `finished` checks a forecast against."""
    return float(history.max(initial=0.0))


def combine(parts: Sequence[PointForecast], method: str, levels: Sequence[int]) -> PointForecast:
    """The mean or median of finished forecasts, bound by bound: finished as it stands
    (order statistics and means keep each part's bounds ordered, non-negative and under the
    peak), but for an upper bound that overflows, which `clip_and_order` refuses."""
    how = np.median if method == "median" else _mean
    return PointForecast(
        how([p.mean for p in parts], axis=0),
        {lv: how([p.lower[lv] for p in parts], axis=0) for lv in levels},
        {lv: how([p.upper[lv] for p in parts], axis=0) for lv in levels},
    )


def finished_combination(
    parts: Iterable[tuple[str, PointForecast]],
    history: np.ndarray,
    levels: Sequence[int],
    method: str = "mean",
) -> PointForecast:
    """Members' forecasts (family, forecast) of one title, each `finished`, then combined by
    `method`, and checked finite."""
    peak = peak_of(history)
    out = combine([finished(f, peak, levels, family) for family, f in parts], method, levels)
    outer = out.upper[max(levels)] if levels else out.mean
    if not np.isfinite(outer).all():
        raise ForecastError("forecast is not finite")
    return out


def _mean(arrays: Sequence[np.ndarray], axis: int = 0) -> np.ndarray:
    """`np.mean(arrays, axis=0)`, the same sums and division, without its wrapper's cost."""
    return np.add.reduce(arrays, axis=axis) / len(arrays)


def implausible(mean: np.ndarray, peak: float | np.ndarray) -> np.ndarray:
    """Whether a forecast's `mean` (or each row of a titles x weeks array) exceeds
    `PLAUSIBLE_GROWTH` times its history's `peak` (per row): a broken fit."""
    ceiling = PLAUSIBLE_GROWTH * np.maximum(peak, 1.0)
    return (mean > ceiling[..., None]).any(axis=-1)


def clip_and_order(out: PointForecast, levels: Sequence[int]) -> PointForecast:
    """Means and bounds clipped at zero and ordered around the mean, elementwise (one forecast
    or titles x weeks arrays); a mean that is not a number is 0, an infinite one the largest
    float; ForecastError when an upper bound is not finite."""
    mean = np.minimum(np.fmax(out.mean, 0.0), LARGEST)
    lower, upper = {}, {}
    inner_lo, inner_hi = mean, mean
    for lv in sorted(levels):
        inner_lo = np.minimum(np.maximum(out.lower[lv], 0.0), inner_lo)
        inner_hi = np.maximum(out.upper[lv], inner_hi)
        lower[lv], upper[lv] = inner_lo, inner_hi
    # each upper bound is at least the one inside it, so the outermost is finite only if all are
    if not np.isfinite(inner_hi).all():
        raise ForecastError("forecast is not finite")
    return PointForecast(mean, lower, upper)
