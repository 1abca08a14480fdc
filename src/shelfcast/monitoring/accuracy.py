"""Accuracy of compared weeks (rows of `comparison.compare`): the figures of a report.

- `wape`: sum |a - f| / sum a, in percent (`forecasting.metrics.wape`);
- `mase`: the mean over weeks of |a - f| / scale, where scale is the judging bundle's
  in-sample seasonal-naive MAE (period 52); for one bundle this is `metrics.mase`, and over
  several titles it weights each title by its weeks;
- `bias`: mean (f - a) / mean a, a ratio: +0.3 means forecasts 30% above what sold;
- `coverage_80`, `coverage_95`: share of actuals inside the 80% and 95% intervals, in percent;
- `expected_mase`: the judging bundles' backtest MASE (mean over weeks), the error the title
  was expected to have; `mase_ratio` = mase / expected_mase.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shelfcast.forecasting import metrics


def scaled_errors(rows: pd.DataFrame) -> np.ndarray:
    """|a - f| / scale per week; NaN where the scale is zero or unknown."""
    scale = rows["scale"].to_numpy(dtype=np.float64)
    error = np.abs(rows["actual"].to_numpy(dtype=np.float64) - rows["mean"].to_numpy(np.float64))
    usable = np.isfinite(scale) & (scale > 0)
    return np.divide(error, scale, out=np.full_like(error, np.nan), where=usable)


def bias_ratio(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean signed error (forecast minus actual) over the mean actual; NaN if nothing sold."""
    level = float(np.mean(actual)) if len(actual) else 0.0
    return math.nan if level == 0 else metrics.bias(actual, forecast) / level


def accuracy(rows: pd.DataFrame) -> dict[str, float | int]:
    """The figures above for a set of compared weeks."""
    if rows.empty:
        return {"weeks": 0}
    a = rows["actual"].to_numpy(dtype=np.float64)
    f = rows["mean"].to_numpy(dtype=np.float64)
    scaled = scaled_errors(rows)
    mase = float(np.mean(scaled)) if np.isfinite(scaled).all() else math.nan
    expected = rows["expected_mase"].to_numpy(dtype=np.float64)
    expected_mase = float(np.mean(expected)) if np.isfinite(expected).all() else math.nan
    ratio = mase / expected_mase if expected_mase > 0 else math.nan
    return {
        "weeks": len(rows),
        "actual": float(a.sum()),
        "forecast": float(f.sum()),
        "wape": metrics.wape(a, f),
        "mae": metrics.mae(a, f),
        "mase": mase,
        "expected_mase": expected_mase,
        "mase_ratio": ratio,
        "bias": bias_ratio(a, f),
        "coverage_80": metrics.coverage(a, rows["lo_80"].to_numpy(), rows["hi_80"].to_numpy()),
        "coverage_95": metrics.coverage(a, rows["lo_95"].to_numpy(), rows["hi_95"].to_numpy()),
    }
