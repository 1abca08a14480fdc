"""Croston-SBA, TSB, ADIDA and IMAPA forecast what statsforecast's do, in numpy."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from shelfcast.catalog.segments import adi
from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.families import FAMILIES, FitContext, spec_from_dict
from shelfcast.forecasting.intermittent import ses

CONTEXT = FitContext(season_length=1)


def slow_seller(seed: int, weeks: int = 120, p: float = 0.3) -> TitleSeries:
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(weeks) < p, rng.poisson(2.0, weeks) + 1, 0).astype(float)
    return TitleSeries("9780000000019", "2022-01-01", y)


def statsforecast_mean(name: str, y: np.ndarray) -> float:
    from statsforecast.models import ADIDA, IMAPA, TSB, CrostonSBA

    model = {
        "croston": CrostonSBA(),
        "tsb": TSB(alpha_d=0.1, alpha_p=0.1),
        "adida": ADIDA(),
        "imapa": IMAPA(),
    }[name]
    return float(model.forecast(y, h=4)["mean"][0])


def test_ses_starts_at_the_first_value():
    level, fitted = ses(np.array([3.0, 0.0, 5.0]), 0.3)
    np.testing.assert_allclose(fitted[1:], [3.0, 2.1])
    assert level == pytest.approx(0.3 * 5.0 + 0.7 * 2.1)


@pytest.mark.parametrize("name", ["croston", "tsb", "adida", "imapa"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_forecasts_equal_statsforecasts(name, seed):
    series = slow_seller(seed, p=0.15 + 0.2 * seed)
    family = FAMILIES[name]
    spec = family.fit(series, CONTEXT)
    ours = family.forecast(spec, series, 4, (80,))
    expected = statsforecast_mean(name, series.values)
    np.testing.assert_allclose(ours.mean, expected, rtol=2e-3)
    assert np.all(ours.upper[80] > ours.mean) and spec_from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize("name", ["croston", "tsb", "adida", "imapa"])
def test_newer_weeks_move_the_forecast_with_the_same_parameters(name):
    series = slow_seller(5)
    spec = FAMILIES[name].fit(series, CONTEXT)
    longer = series.with_values(np.r_[series.values, np.zeros(26)])
    before = FAMILIES[name].forecast(spec, series, 2, (80,)).mean[0]
    after = FAMILIES[name].forecast(spec, longer, 2, (80,)).mean[0]
    assert after <= before  # half a year without a sale never raises the rate


def test_tsb_decays_to_zero_after_the_last_sale_and_croston_does_not():
    y = np.r_[np.tile([0.0, 3.0], 30), np.zeros(60)]
    series = TitleSeries("9780000000019", "2022-01-01", y)
    rates = {n: FAMILIES[n].forecast(FAMILIES[n].fit(series, CONTEXT), series, 1, (80,)).mean[0]
             for n in ("tsb", "croston")}  # fmt: skip
    assert rates["tsb"] < 0.01 < rates["croston"]


@pytest.mark.parametrize("name", ["adida", "imapa"])
def test_a_title_that_never_sold_is_refused_with_a_reason(name):
    series = TitleSeries("9780000000019", pd.Timestamp("2022-01-01"), np.zeros(30))
    with pytest.raises(ForecastError, match="with a sale"):
        FAMILIES[name].fit(series, CONTEXT)


def test_adi_is_the_mean_interval_between_sales_from_the_first():
    assert adi(np.array([0.0, 0.0, 2.0, 0.0, 1.0, 0.0])) == pytest.approx(2.0)
    assert adi(np.zeros(5)) == float("inf") and adi(np.ones(5)) == 1.0


def test_only_intermittent_titles_get_the_intermittent_candidates():
    from support.synthetic import seasonal_series

    from shelfcast.forecasting import fit_title
    from shelfcast.forecasting.fit import INTERMITTENT
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    config = fit_config(Settings(), horizon=13, n_origins=2)
    chosen = replace(config, candidates=tuple(c for c in config.candidates if c != INTERMITTENT))
    slow = fit_title(slow_seller(3, weeks=150), chosen).bundle.evaluation["plan"]["candidates"]
    smooth = fit_title(seasonal_series(150), config).bundle.evaluation["plan"]["candidates"]
    assert {"croston", "tsb", "adida", "imapa"} <= set(slow)  # selected among the others
    assert not {"croston", "tsb", "adida", "imapa", INTERMITTENT} & set(smooth)
