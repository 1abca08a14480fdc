import dataclasses
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from statsforecast.models import AutoTheta as SfAutoTheta
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries, weekly_dates
from shelfcast.errors import ForecastError
from shelfcast.forecasting import Bundle, seasonal_index, write_bundle
from shelfcast.forecasting import families as fam
from shelfcast.forecasting.families import FitContext, SpecError, spec_from_dict
from shelfcast.forecasting.families.autotheta import FAMILY, MODELS, AutoThetaSpec

CONTEXT = FitContext(season_length=52)
LEVELS = (80, 95)


@pytest.fixture(scope="module")
def series() -> TitleSeries:
    return seasonal_series(208, seed=3)


@pytest.fixture(scope="module")
def spec(series) -> AutoThetaSpec:
    return FAMILY.fit(series, CONTEXT)


SHORT = TitleSeries("x", "2024-01-06", np.array([3.0, 9, 4, 12, 6, 5, 14, 8, 7, 15, 9, 11, 18, 10]))


@pytest.mark.parametrize("model", MODELS)
def test_each_model_forecasts_as_statsforecast_does_on_the_adjusted_series(series, spec, model):
    for history, like in [(series, spec), (SHORT, FAMILY.fit(SHORT, CONTEXT))]:
        fitted = FAMILY.fit(history, CONTEXT, like=dataclasses.replace(like, model=model))
        assert fitted.model == model
        indices = np.asarray(fitted.seasonal_indices or (1.0,))
        adjusted = history.values / seasonal_index.cycle(indices, len(history), 0)
        reference = SfAutoTheta(season_length=1, model=model).fit(adjusted).predict(30)["mean"]
        season = seasonal_index.cycle(indices, 30, len(history))
        out = FAMILY.forecast(fitted, history, 30, LEVELS)
        np.testing.assert_allclose(out.mean, reference * season, rtol=1e-6)


def test_the_fit_takes_the_model_of_least_in_sample_error(series, spec):
    from statsforecast.theta import thetamodel

    adjusted = series.values / seasonal_index.cycle(np.asarray(spec.seasonal_indices), 208, 0)
    errors = {m: thetamodel(adjusted, 1, m, np.nan, np.nan, np.nan, nmse=3)["mse"] for m in MODELS}
    assert spec.model == min(errors, key=errors.__getitem__)


def test_two_and_a_half_seasons_are_deseasonalised_and_peak_at_christmas():
    history = seasonal_series(130)
    spec = FAMILY.fit(history, CONTEXT)
    assert spec.params() == {"family": "autotheta", "model": spec.model, "seasonal": True}
    out = fam.forecast(spec, history, 52, LEVELS)
    weeks = weekly_dates(history.end + pd.Timedelta(weeks=1), 52)
    assert weeks[np.argmax(out.mean)] == pd.Timestamp("2014-12-27")  # the week of the 24th
    assert out.mean.max() > 2 * np.median(out.mean)
    assert FAMILY.fit(history, FitContext(season_length=1)).seasonal_indices is None


def test_a_refit_like_an_earlier_one_keeps_its_model_and_seasonal_flag(series, spec):
    earlier = series.head(150)
    like = dataclasses.replace(FAMILY.fit(earlier, CONTEXT), model="DSTM")
    again = FAMILY.fit(series, CONTEXT, like=like)
    assert (again.model, again.seasonal_indices is not None) == ("DSTM", True)
    assert again.alpha != like.alpha
    flat = FAMILY.fit(series, CONTEXT, like=dataclasses.replace(spec, seasonal_indices=None))
    assert flat.seasonal_indices is None


def test_intervals_widen_with_the_step_from_the_one_step_error(series, spec):
    out = FAMILY.forecast(spec, series, 10, LEVELS)
    season = seasonal_index.cycle(np.asarray(spec.seasonal_indices), 10, len(series))
    half = (out.upper[95] - out.mean) / season
    np.testing.assert_allclose(half[0], 1.959964 * np.sqrt(spec.sigma2), rtol=1e-6)
    assert np.all(np.diff(half) > 0)


def test_the_spec_round_trips_through_json_and_refuses_unknown_models(spec):
    data = json.loads(json.dumps(spec.to_dict(), allow_nan=False))
    assert spec_from_dict(data) == spec
    with pytest.raises(SpecError, match="model 'ETS' is not one of"):
        spec_from_dict({**data, "model": "ETS"})


def test_short_histories_are_refused_with_their_length():
    with pytest.raises(ForecastError, match="at least 8 weeks, got 7"):
        FAMILY.fit(TitleSeries("x", "2024-01-06", np.ones(7)), CONTEXT)


def test_a_bundle_forecasts_without_any_fitting_library(series, spec, tmp_path):
    folder = write_bundle(Bundle(model=spec, history=series), tmp_path / "b")
    code = f"""
import sys
from shelfcast.forecasting.bundle import read_bundle
print(read_bundle({str(folder)!r}).forecast(8)["mean"].round(6).tolist())
print(sorted({{m.split(".")[0] for m in sys.modules}} & {{"statsforecast", "statsmodels"}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    means, libraries = done.stdout.strip().splitlines()
    assert libraries == "[]"
    expected = fam.forecast(spec, series, 8, LEVELS).mean.round(6).tolist()
    assert json.loads(means) == pytest.approx(expected)
