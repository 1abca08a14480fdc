from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting.families import FAMILIES


@pytest.fixture
def series() -> TitleSeries:
    return seasonal_series()


def synthetic_catalogue(n: int = 40, weeks: int = 400) -> list[TitleSeries]:
    """`n` seasonal titles of different sizes and ages, ending with `seasonal_series()`."""
    rng = np.random.default_rng(7)
    out = []
    for i in range(n):
        full = seasonal_series(weeks=weeks, seed=100 + i, key=f"title-{i}")
        size = rng.uniform(0.02, 1.5)  # thinned Poisson counts stay Poisson
        values = rng.binomial(full.values.astype(np.int64), min(size, 1.0)) * max(size, 1.0)
        start = int(rng.integers(0, weeks - 60))  # first sale
        out.append(full.with_values(values[start:], start=full.dates[start]))
    return out


@pytest.fixture(scope="session")
def pools() -> dict[str, Any]:
    """A pool for each pooled family, trained on synthetic titles ending no later than
    `seasonal_series()` (what `FitContext.pool` promises), one of them selling a week before
    it, so that `seasonal_series()` is a launch inside the data: table-wide tests fit with it."""
    older = seasonal_series(seed=99, key="older")
    older = older.with_values(older.values[:-1], start=older.start - pd.Timedelta(weeks=1))
    catalogue = [*synthetic_catalogue(), older]
    return {name: f.train_pool(catalogue, 52) for name, f in FAMILIES.items() if f.pooled}
