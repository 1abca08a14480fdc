"""Forecast accuracy metrics. Percentages (MAPE, sMAPE, WAPE, coverage) are in percent."""

from __future__ import annotations

import numpy as np


def _pair(actual: np.ndarray, forecast: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, f = np.asarray(actual, dtype=np.float64), np.asarray(forecast, dtype=np.float64)
    if a.shape != f.shape:
        raise ValueError(f"actual has shape {a.shape}, forecast {f.shape}")
    return a, f


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = _pair(actual, forecast)
    return float(np.mean(np.abs(a - f)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    a, f = _pair(actual, forecast)
    return float(np.sqrt(np.mean((a - f) ** 2)))


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error over weeks with non-zero actuals (NaN if there are none)."""
    a, f = _pair(actual, forecast)
    keep = a != 0
    if not keep.any():
        return float("nan")
    return float(100.0 * np.mean(np.abs(a[keep] - f[keep]) / np.abs(a[keep])))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE as in M4: 200|a - f| / (|a| + |f|); a week where both are 0 scores 0."""
    a, f = _pair(actual, forecast)
    denom = np.abs(a) + np.abs(f)
    terms = np.divide(2.0 * np.abs(a - f), denom, out=np.zeros_like(a), where=denom > 0)
    return float(100.0 * np.mean(terms))


def seasonal_naive_scale(insample: np.ndarray, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast (lag 1 if the history is too short)."""
    y = np.asarray(insample, dtype=np.float64)
    m = season_length if len(y) > season_length else 1
    if len(y) <= m:
        return float("nan")
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def mase(
    actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, season_length: int
) -> float:
    """MAE scaled by the in-sample seasonal-naive MAE (NaN when that scale is 0 or unknown)."""
    scale = seasonal_naive_scale(insample, season_length)
    if not np.isfinite(scale) or scale == 0:
        return float("nan")
    return mae(actual, forecast) / scale


def wape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |a - f| / sum |a|."""
    a, f = _pair(actual, forecast)
    total = np.sum(np.abs(a))
    return float("nan") if total == 0 else float(100.0 * np.sum(np.abs(a - f)) / total)


def bias(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean error, forecast minus actual: positive means over-forecasting."""
    a, f = _pair(actual, forecast)
    return float(np.mean(f - a))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actuals inside [lower, upper], in percent."""
    a, lo = _pair(actual, lower)
    _, hi = _pair(actual, upper)
    return float(100.0 * np.mean((a >= lo) & (a <= hi)))


def quantile_loss(actual: np.ndarray, forecast: np.ndarray, q: float) -> float:
    """Summed pinball loss of the `q` quantile forecast."""
    a, f = _pair(actual, forecast)
    diff = a - f
    return float(np.sum(np.maximum(q * diff, (q - 1.0) * diff)))


def wql(actual: np.ndarray, quantiles: dict[float, np.ndarray]) -> float:
    """Weighted quantile loss: mean over quantiles of 2 x pinball loss / sum |actual|, in
    percent (NaN when the actuals sum to 0). The median's wQL equals its WAPE."""
    a = np.asarray(actual, dtype=np.float64)
    total = np.sum(np.abs(a))
    if total == 0 or not quantiles:
        return float("nan")
    losses = [2.0 * quantile_loss(a, f, q) for q, f in quantiles.items()]
    return float(100.0 * np.mean(losses) / total)


def score(
    actual: np.ndarray,
    mean: np.ndarray,
    insample: np.ndarray,
    season_length: int,
    bounds: dict[int, tuple[np.ndarray, np.ndarray]] | None = None,
) -> dict[str, float]:
    """Every metric for one forecast; `bounds` maps interval level to (lower, upper)."""
    out = {
        "mae": mae(actual, mean),
        "rmse": rmse(actual, mean),
        "mape": mape(actual, mean),
        "smape": smape(actual, mean),
        "mase": mase(actual, mean, insample, season_length),
        "wape": wape(actual, mean),
        "bias": bias(actual, mean),
    }
    for level, (lo, hi) in (bounds or {}).items():
        out[f"coverage_{level}"] = coverage(actual, lo, hi)
    if bounds and 80 in bounds:  # the 80% bounds are the 0.1 and 0.9 quantiles
        out["wql"] = wql(actual, {0.1: bounds[80][0], 0.5: mean, 0.9: bounds[80][1]})
    return out
