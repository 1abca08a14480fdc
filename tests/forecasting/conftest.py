import pytest
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries


@pytest.fixture
def series() -> TitleSeries:
    return seasonal_series()
