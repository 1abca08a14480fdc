"""Quantiles calibrated by conformal prediction on backtest residuals, by horizon step.

Each backtest forecast of a title's selected model leaves, per step h, a score: the error
divided by the model's own spread at that step, `(actual - mean) / spread`, where spread is the
half-width of the model's 80% interval over its normal quantile (at least `MIN_SPREAD` of the
mean, so that a flat zero forecast still has one). The scores of every title fitted together
are pooled by step, and their empirical quantiles (with the finite-sample correction of split
conformal prediction) become the calibration: the forecast's tau quantile at step h is
`max(0, mean + spread * Q_tau(h))`. Quantiles are monotone in tau (so are Q_tau), never
negative, asymmetric where errors are, and as wide as the title's own model says, scaled to the
coverage the backtest measured. A step with fewer than `MIN_SCORES` scores uses every step's
scores; steps beyond the backtest horizon use its last step.

Slow sellers' weeks are counts, mostly zeros: their calibration (`CountCalibration`) is a
negative binomial around the mean instead (`forecasting.counts`), with the model's own variance,
and the mean corrected by how far the titles' backtest forecasts were from their actual sales
in sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from shelfcast.errors import ForecastError
from shelfcast.forecasting import counts
from shelfcast.forecasting.intervals import PointForecast, normal_quantile, z

# The quantile levels a calibration keeps; others are interpolated between them.
TAUS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TAUS += (0.95, 0.975, 0.99, 0.995)
SCORED = (0.1, 0.5, 0.9)  # the quantiles weighted quantile loss is reported on
MIN_SCORES = 30
MIN_SPREAD = 0.05  # of the mean forecast
SPREAD_LEVEL = 80
METHOD = "conformal"
COUNT_METHOD = "negative-binomial"


def spread(forecast: PointForecast) -> np.ndarray:
    """The model's own scale per step: its `SPREAD_LEVEL` interval's half-width (the lowest
    level's if it has none) over the normal quantile, floored at `MIN_SPREAD` of the mean."""
    level = SPREAD_LEVEL if SPREAD_LEVEL in forecast.lower else min(forecast.lower)
    half = (forecast.upper[level] - forecast.lower[level]) / (2.0 * z(level))
    return np.maximum(np.maximum(half, MIN_SPREAD * np.abs(forecast.mean)), 1e-6)


def scores(actual: np.ndarray, forecast: PointForecast) -> np.ndarray:
    """The conformity scores of one backtest forecast, by step."""
    n = len(actual)
    return (np.asarray(actual, dtype=np.float64) - forecast.mean[:n]) / spread(forecast)[:n]


@lru_cache(maxsize=1024)
def quantile_column(tau: float) -> str:
    """The column of the `tau` quantile in forecast tables: p10 for 0.1, p2.5 for 0.025."""
    return f"p{round(tau * 100, 3):g}"


def level_taus(level: int) -> tuple[float, float]:
    """The quantile levels of a central `level`% interval's bounds."""
    return (0.5 - level / 200.0, 0.5 + level / 200.0)


@dataclass(frozen=True)
class Calibration:
    """Score quantiles by step (`table[h - 1]`, one column per `TAUS`), from `n_scores`
    scores of `n_titles` titles."""

    table: tuple[tuple[float, ...], ...]
    n_scores: int
    n_titles: int

    def quantiles(
        self, forecast: PointForecast, taus: Sequence[float], integer: bool = False
    ) -> dict[float, np.ndarray]:
        """The calibrated `taus` quantiles of `forecast`, each never negative; whole numbers
        for `integer` series (`whole_quantiles`)."""
        check_taus(taus)
        horizon = forecast.mean.shape[-1]  # one forecast, or titles x weeks
        rows = np.asarray(self.table)[np.minimum(np.arange(horizon), len(self.table) - 1)]
        width = spread(forecast)
        out = {}
        for tau in taus:  # linear between the two kept levels around tau, every step at once
            j = min(int(np.searchsorted(TAUS, tau, side="right")) - 1, len(TAUS) - 2)
            w = (tau - TAUS[j]) / (TAUS[j + 1] - TAUS[j])
            q = rows[:, j] + w * (rows[:, j + 1] - rows[:, j])
            out[tau] = np.maximum(forecast.mean + width * q, 0.0)
        return whole_quantiles(out) if integer else out

    def columns(
        self,
        forecast: PointForecast,
        levels: Sequence[int],
        quantiles: Sequence[float],
        whole: bool,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The mean, and `lo_L`, `hi_L` per level and a column per quantile (`calibrated`)."""
        values = self.quantiles(forecast, needed_taus(levels, quantiles), whole)
        out = interval_bounds(forecast.mean, values, levels, whole)
        out.update((quantile_column(q), values[q]) for q in quantiles)
        return forecast.mean, out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": METHOD,
            "taus": list(TAUS),
            "steps": [list(row) for row in self.table],
            "n_scores": self.n_scores,
            "n_titles": self.n_titles,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Calibration:
        if data.get("method") != METHOD or list(data.get("taus", ())) != list(TAUS):
            raise ForecastError(f"calibration: expected method {METHOD!r} with taus {TAUS}")
        steps = data.get("steps")
        if not isinstance(steps, list) or not steps:
            raise ForecastError("calibration: steps must be a non-empty list")
        table = []
        for i, row in enumerate(steps, start=1):
            values = np.asarray(row, dtype=np.float64) if isinstance(row, list) else None
            if values is None or values.shape != (len(TAUS),) or not np.all(np.isfinite(values)):
                raise ForecastError(f"calibration: step {i} must hold {len(TAUS)} numbers")
            if np.any(np.diff(values) < 0):
                raise ForecastError(f"calibration: step {i} quantiles are not increasing")
            table.append(tuple(float(v) for v in values))
        return cls(tuple(table), int(data.get("n_scores", 0)), int(data.get("n_titles", 0)))


@dataclass(frozen=True)
class CountCalibration:
    """Quantiles of weekly sales counts: a negative binomial (`counts`) with the forecast's
    mean times `scale` and the model's own variance (its `SPREAD_LEVEL` interval's upper
    half-width over the normal quantile, squared; the lowest level's without one), its excess
    over the mean times `scale` squared, so that the dispersion stays the model's. `scale` is
    the correction of the mean: the summed actual weeks over the summed forecasts of the
    backtests of `n_titles` titles (`n_weeks` weeks), Poisson regression's estimate of a
    constant ratio of sales to forecasts (corrected, the forecasts sum to the sales)."""

    scale: float
    n_weeks: int
    n_titles: int

    def columns(
        self,
        forecast: PointForecast,
        levels: Sequence[int],
        quantiles: Sequence[float],
        whole: bool,
    ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The corrected mean, and whole-number quantiles and bounds (`whole` is not needed:
        counts are whole). A count's interval whose lower quantile is zero is one-sided,
        [0, q], q the whole number whose probability of sales at most q is nearest the level
        (of a slow seller, the level's quantile often holds far more: a title selling no copy
        in 75% of its weeks and at most one in 95% has the 80% quantile 1); every interval
        holds the mean (where q is below it, the bound is the mean itself)."""
        check_taus(quantiles)
        mean = self.scale * forecast.mean
        own = SPREAD_LEVEL if SPREAD_LEVEL in forecast.upper else min(forecast.upper)
        half = (forecast.upper[own] - forecast.mean) / z(own)
        excess = np.maximum(half**2 - forecast.mean, 0.0)
        var = mean + self.scale**2 * excess
        values = counts.quantiles(mean, var, needed_taus(levels, quantiles))
        out: dict[str, np.ndarray] = {}
        hi = mean
        for level in sorted(levels):
            lo_tau, hi_tau = level_taus(level)
            upper = np.where(
                values[lo_tau] <= 0, counts.nearest(mean, var, level / 100.0), values[hi_tau]
            )
            hi = np.maximum(upper, hi)
            out[f"lo_{level}"], out[f"hi_{level}"] = np.minimum(values[lo_tau], mean), hi
        out.update((quantile_column(q), values[q]) for q in quantiles)
        return mean, out

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": COUNT_METHOD,
            "scale": self.scale,
            "n_weeks": self.n_weeks,
            "n_titles": self.n_titles,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CountCalibration:
        scale = data.get("scale")
        if (
            not isinstance(scale, int | float)
            or isinstance(scale, bool)
            or not math.isfinite(scale)
            or scale <= 0
        ):
            raise ForecastError(f"calibration: scale must be a positive number, got {scale!r}")
        return cls(float(scale), int(data.get("n_weeks", 0)), int(data.get("n_titles", 0)))


AnyCalibration = Calibration | CountCalibration


def calibration_from_dict(data: Mapping[str, Any]) -> AnyCalibration:
    """A calibration from its dict, of either method."""
    if data.get("method") == COUNT_METHOD:
        return CountCalibration.from_dict(data)
    return Calibration.from_dict(data)


def calibrated(
    calibration: AnyCalibration | None,
    forecast: PointForecast,
    levels: Sequence[int],
    quantiles: Sequence[float],
    whole: bool,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """A forecast's published mean, and its `lo_L`, `hi_L` per level and quantile columns
    (`p10` for 0.1): by its calibration, or without one (bundles before format 3) the model's
    own bounds and normal quantiles. `forecast` holds `SPREAD_LEVEL`'s bounds besides
    `levels`'."""
    if calibration is not None:
        return calibration.columns(forecast, levels, quantiles, whole)
    out = {}
    for level in sorted(levels):
        out[f"lo_{level}"], out[f"hi_{level}"] = forecast.lower[level], forecast.upper[level]
    values = normal_quantiles(forecast, quantiles)
    out.update((quantile_column(q), values[q]) for q in quantiles)
    return forecast.mean, out


def check_taus(taus: Iterable[float]) -> None:
    """ForecastError for a quantile level outside the calibrated range."""
    for tau in taus:
        if not TAUS[0] <= tau <= TAUS[-1]:
            raise ForecastError(f"quantile {tau} is outside [{TAUS[0]}, {TAUS[-1]}]")


def whole_quantiles(quantiles: Mapping[float, np.ndarray]) -> dict[float, np.ndarray]:
    """Quantiles of a count: the upper ones (tau >= 0.5) rounded down, the lower ones up, each
    lower one at most the next higher. For whole-number actuals y this keeps every event the
    quantiles are scored on, P(y <= q) and P(y >= q), as it was, while a title that sells
    0 or 1 copy a week gets quantiles of 0, 1 or 2 copies, not 0.37."""
    out: dict[float, np.ndarray] = {}
    higher = None  # the quantile of the next higher tau
    for tau in sorted(quantiles, reverse=True):
        q = quantiles[tau]
        if tau >= 0.5:
            out[tau] = np.floor(q + 1e-9)
        else:
            rounded = np.ceil(q - 1e-9)
            out[tau] = rounded if higher is None else np.minimum(rounded, higher)
        higher = out[tau]
    return {tau: out[tau] for tau in quantiles}


def needed_taus(levels: Sequence[int], quantiles: Sequence[float]) -> list[float]:
    """The quantile levels that `levels`' interval bounds (`interval_bounds`) and `quantiles`
    need, with the median (which bounds the lower quantiles of counts), sorted."""
    bounds = {t for lv in levels for t in (*level_taus(lv), one_sided_tau(lv))}
    return sorted(bounds | {0.5} | set(quantiles))


def one_sided_tau(level: int) -> float:
    """The quantile level of a `level`% interval's upper bound when its lower one is zero."""
    return level / 100.0


def interval_bounds(
    mean: np.ndarray, values: Mapping[float, np.ndarray], levels: Sequence[int], whole: bool
) -> dict[str, np.ndarray]:
    """`lo_L` and `hi_L` per level from quantile `values`, each interval holding the mean (for
    counts, the whole number at or above it).

    A count's interval whose lower quantile is zero is one-sided, [0, the `L`% quantile]: a
    slow seller's weeks are zero more often than (100 - L) / 2 percent of the time, and the
    central interval [0, the (50 + L/2)% quantile] would cover them all and the upper tail's
    share too (90% for L = 80)."""
    top = whole_ceiling(mean) if whole else mean
    out = {}
    for level in sorted(levels):
        lo, hi = level_taus(level)
        upper = values[hi]
        if whole:
            upper = np.where(values[lo] <= 0, values[one_sided_tau(level)], upper)
        out[f"lo_{level}"] = np.minimum(values[lo], mean)
        out[f"hi_{level}"] = np.maximum(upper, top)
    return out


def whole_ceiling(mean: np.ndarray) -> np.ndarray:
    """The smallest whole number at or above each mean (never -0)."""
    return np.maximum(np.ceil(np.asarray(mean) - 1e-9), 0.0)


def is_whole(values: np.ndarray) -> bool:
    """True when every value is a whole number (counts of copies, as BookScan reports)."""
    return bool(np.all(np.asarray(values) == np.round(values)))


def normal_quantiles(forecast: PointForecast, taus: Sequence[float]) -> dict[float, np.ndarray]:
    """Uncalibrated quantiles: the mean plus the model's own spread times the normal quantile,
    never negative (for bundles without a calibration)."""
    width = spread(forecast)
    return {t: np.maximum(forecast.mean + width * normal_quantile(t), 0.0) for t in taus}


def conformal_quantiles(values: np.ndarray) -> tuple[float, ...]:
    """The `TAUS` quantiles of `values` with split conformal's finite-sample correction: the
    upper ones move up, the lower ones down, by a rank."""
    n = len(values)
    adjusted = [
        min(1.0, math.ceil((n + 1) * t) / n) if t > 0.5 else max(0.0, math.floor((n + 1) * t) / n)
        for t in TAUS
    ]
    return tuple(float(v) for v in np.quantile(values, adjusted, method="inverted_cdf"))


def fit_calibration(per_title: Iterable[Sequence[np.ndarray]]) -> Calibration | None:
    """The calibration from each title's backtest scores (one array per origin, by step);
    None when there are fewer than `MIN_SCORES` scores in all."""
    by_step: dict[int, list[float]] = {}
    titles = 0
    for origins in per_title:
        if not origins:
            continue
        titles += 1
        for row in origins:
            for h, value in enumerate(row):
                if np.isfinite(value):
                    by_step.setdefault(h, []).append(float(value))
    everything = np.array([v for values in by_step.values() for v in values])
    if len(everything) < MIN_SCORES:
        return None
    pooled = conformal_quantiles(everything)
    steps = max(by_step) + 1
    table = tuple(
        conformal_quantiles(np.array(by_step[h]))
        if len(by_step.get(h, ())) >= MIN_SCORES
        else pooled
        for h in range(steps)
    )
    return Calibration(table, len(everything), titles)


def fit_count_calibration(totals: Iterable[tuple[float, float, int]]) -> CountCalibration:
    """The count calibration from each title's backtest totals (actual sales, forecast sales,
    weeks); its mean uncorrected (`scale` 1) with fewer than `MIN_SCORES` weeks in all or no
    forecast sales."""
    actual = forecast = 0.0
    weeks = titles = 0
    for a, f, n in totals:
        if n:
            actual, forecast, weeks, titles = actual + a, forecast + f, weeks + n, titles + 1
    ok = weeks >= MIN_SCORES and forecast > 0 and actual > 0
    return CountCalibration(actual / forecast if ok else 1.0, weeks, titles)
