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


def launch_catalogue(
    n: int = 60, weeks: int = 300, seed: int = 3, first: str = "2015-01-03"
) -> list[TitleSeries]:
    """`n` titles launched at different weeks of a catalogue whose first week is `first`, in
    two product classes (Christmas gift books, summer travel guides) and two bindings: each
    sells a level times (1 + 4 exp(-age / 8)) times its class's season, Poisson; the first
    title has sold since the first week (its launch is not in the data)."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(first, periods=weeks, freq="W-SAT")
    doy = dates.dayofyear.to_numpy()
    seasons = {
        "T4.1 Humour & Gift": 1 + 3 * np.exp(-(((doy - 355) % 365) ** 2) / 80.0),
        "T5.1 Travel & Holiday Guides": 1 + 1.5 * np.exp(-(((doy - 200) % 365) ** 2) / 300.0),
    }
    out = []
    for i in range(n):
        product_class = list(seasons)[i % 2]
        launch = 0 if i == 0 else int(rng.integers(1, weeks - 30))
        age = np.arange(weeks - launch)
        level = rng.lognormal(np.log(20.0), 0.5)
        mean = level * (1 + 4 * np.exp(-age / 8.0)) * seasons[product_class][launch:]
        out.append(
            TitleSeries(
                f"title-{i:03d}",
                dates[launch],
                rng.poisson(mean).astype(float),
                source="T Adult Non-Fiction Trade",
                author=f"Author {i % 20}",
                meta={
                    "product_class": product_class,
                    "binding": ("Hardback", "Paperback")[i % 4 // 2],
                    "imprint": ("Harbourside", "Fellgate")[i % 3 % 2],
                    "rrp": "9.99",
                },
            )
        )
    return out
