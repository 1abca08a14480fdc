"""Synthetic weekly book sales for the forecasting, serving, endpoint and monitoring tests."""

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries


def seasonal_series(weeks: int = 400, seed: int = 0, key: str = "9780722532935") -> TitleSeries:
    """Weekly counts with a decaying level, a Christmas peak and a summer bump."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2012-01-07", periods=weeks, freq="W-SAT")
    doy = dates.dayofyear.to_numpy()
    christmas = np.exp(-(((doy - 358) % 365) ** 2) / 60.0)
    level = 300.0 * np.exp(-np.arange(weeks) / 900.0)
    mean = level * (1 + 3 * christmas) * (1 + 0.2 * np.sin(2 * np.pi * doy / 365.25))
    return TitleSeries(key, dates[0], rng.poisson(mean).astype(float))
