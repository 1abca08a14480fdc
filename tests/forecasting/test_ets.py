import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
from statsforecast.ets import _compute_pred_intervals
from statsforecast.models import AutoETS
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import families as fam
from shelfcast.forecasting import seasonal_index
from shelfcast.forecasting.families import FitContext
from shelfcast.forecasting.families.ets import FAMILY, EtsSpec, _final_state, _variance

LEVELS = (80, 95)
WEEKLY = FitContext(season_length=52)
START = "2020-01-04"


def _trending(kind: str, weeks: int = 150, seed: int = 0) -> TitleSeries:
    """A linear trend with additive noise, or exponential growth with relative noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(weeks)
    if kind == "additive":
        y = 200 + 1.5 * t + rng.normal(0, 10, weeks)
    else:
        y = 50 * np.exp(0.01 * t) * (1 + rng.normal(0, 0.1, weeks))
    return TitleSeries("x", START, y)


def _statsforecast(fitted: AutoETS, h: int) -> dict[str, np.ndarray]:
    """statsforecast's forecast from its fitted model's final states, with its own interval
    formulas. statsforecast 2.1.1 damps the trend by phi, 2 phi, 2 phi + phi^2, ... instead of
    phi, phi + phi^2, ... (fixed upstream), so the means here sum the powers of phi."""
    model = fitted.model_
    state = model["states"][-1]
    phi = model["par"][3] if model["components"][3] == "D" else 1.0
    trend = state[1] if model["components"][1] == "A" else 0.0
    mean = state[0] + trend * np.cumsum(phi ** np.arange(1, h + 1))
    return {"mean": mean, **_compute_pred_intervals(model, {"mean": mean}, h, list(LEVELS))}


def _same_as_statsforecast(spec: EtsSpec, history: TitleSeries, fitted: AutoETS) -> None:
    out = FAMILY.forecast(spec, history, 30, LEVELS)
    expected = _statsforecast(fitted, 30)
    np.testing.assert_allclose(out.mean, expected["mean"], rtol=1e-6)
    for lv in LEVELS:
        np.testing.assert_allclose(out.lower[lv], expected[f"lo-{lv}"], rtol=1e-6)
        np.testing.assert_allclose(out.upper[lv], expected[f"hi-{lv}"], rtol=1e-6)


@pytest.mark.parametrize(("kind", "model"), [("additive", "AAN"), ("multiplicative", "MAN")])
def test_the_chosen_model_forecasts_as_statsforecast_does(kind, model):
    history = _trending(kind)
    spec = FAMILY.fit(history, WEEKLY)
    assert spec.model == model and spec.seasonal_indices is None
    fitted = AutoETS(season_length=1, model="ZZN").fit(history.values)
    assert fitted.model_["components"] == f"{model}N"
    predicted = fitted.predict(30, level=list(LEVELS))
    for key, value in _statsforecast(fitted, 30).items():
        np.testing.assert_allclose(value, predicted[key], rtol=1e-9)
    _same_as_statsforecast(spec, history, fitted)


@pytest.mark.parametrize("model", ["ANN", "AAdN", "MNN", "MAdN"])
def test_a_fit_like_an_earlier_one_keeps_its_form_and_forecasts_as_statsforecast(model):
    history = _trending("multiplicative", seed=1)
    earlier = FAMILY.fit(history.head(100), WEEKLY)
    form = {"error": model[0], "trend": model[1], "damped": "d" in model}
    spec = FAMILY.fit(history, WEEKLY, like=dataclasses.replace(earlier, **form))
    assert spec.model == model
    fitted = AutoETS(model=f"{model[0]}{model[1]}N", damped="d" in model).fit(history.values)
    _same_as_statsforecast(spec, history, fitted)


def test_a_seasonal_fit_is_statsforecasts_on_the_adjusted_series_times_the_indices():
    history = seasonal_series(weeks=156)
    spec = FAMILY.fit(history, WEEKLY)
    indices = np.asarray(spec.seasonal_indices)
    adjusted = history.with_values(history.values / seasonal_index.cycle(indices, 156, 0))
    fitted = AutoETS(model="ZZN").fit(adjusted.values)
    assert fitted.model_["components"] == f"{spec.model}N"
    flat = dataclasses.replace(spec, seasonal_indices=None)
    _same_as_statsforecast(flat, adjusted, fitted)
    out = FAMILY.forecast(spec, history, 30, LEVELS)
    plain = FAMILY.forecast(flat, adjusted, 30, LEVELS)
    season = seasonal_index.cycle(indices, 30, 156)
    np.testing.assert_allclose(out.mean, plain.mean * season, rtol=1e-12)
    np.testing.assert_allclose(out.upper[95], plain.upper[95] * season, rtol=1e-12)


def test_zero_weeks_rule_out_multiplicative_error():
    history = _trending("multiplicative")  # chosen as MAN above
    zeros = np.arange(len(history)) % 9 == 0
    with_zeros = history.with_values(np.where(zeros, 0.0, history.values))
    assert FAMILY.fit(with_zeros, WEEKLY).error == "A"


def _peak(spec: EtsSpec, history: TitleSeries) -> pd.Timestamp:
    """The week ending of the highest mean in the year after `history`."""
    out = fam.forecast(spec, history, 52, LEVELS)
    assert out.mean.max() > 2.5 * np.median(out.mean)
    return history.end + pd.Timedelta(weeks=1 + int(np.argmax(out.mean)))


def test_a_christmas_peak_over_two_seasons_is_forecast_in_its_week():
    history = seasonal_series(weeks=130)
    spec = FAMILY.fit(history, WEEKLY)
    assert spec.seasonal_indices is not None and spec.params()["seasonal"]
    peak = _peak(spec, history)
    assert (peak.month, peak.day) >= (12, 18)


def test_the_indices_follow_the_calendar_on_a_history_starting_later():
    history = seasonal_series(weeks=156)
    spec = FAMILY.fit(history, WEEKLY)
    later = history.with_values(history.values[10:], start=history.start + pd.Timedelta(weeks=10))
    assert _peak(spec, later) == _peak(spec, history)


@pytest.mark.parametrize(
    ("weeks", "season_length"), [(60, 52), (200, 1)], ids=["one-season", "non-seasonal"]
)
def test_one_season_or_season_length_one_is_not_seasonal(weeks, season_length):
    history = seasonal_series(weeks=weeks)
    spec = FAMILY.fit(history, FitContext(season_length=season_length))
    assert spec.seasonal_indices is None and not spec.params()["seasonal"]


@pytest.mark.parametrize("value", [0.0, 7.0])
def test_a_constant_history_gets_a_flat_noiseless_forecast(value):
    history = TitleSeries("x", START, np.full(30, value))
    spec = FAMILY.fit(history, WEEKLY)
    assert spec.model == "ANN" and spec.sigma2 < 1e-9
    out = fam.forecast(spec, history, 5, LEVELS)
    np.testing.assert_allclose(out.mean, value, atol=1e-4)
    np.testing.assert_allclose(out.upper[95], out.lower[95], atol=1e-3)


def test_specs_round_trip_through_json_and_give_their_form():
    spec = FAMILY.fit(seasonal_series(weeks=156), WEEKLY)
    assert EtsSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    assert fam.spec_from_dict(spec.to_dict()) == spec
    assert spec.params() == {"family": "ets", "model": spec.model, "seasonal": True}


def test_a_short_history_is_refused_with_its_length():
    with pytest.raises(ForecastError, match="ETS needs at least 10 weeks, got 7"):
        FAMILY.fit(TitleSeries("x", START, np.arange(1.0, 8.0)), WEEKLY)


def test_the_final_state_is_the_recursion_s():
    """The state after the history, as sums of weights kept per parameters and length, is
    the recursion's, with and without a (damped) trend."""
    z = np.random.default_rng(11).gamma(2.0, 50.0, size=300)
    forms = [(a, 0.0, 1.0, 0.0) for a in (0.05, 0.2591990590286256, 0.9999)]
    forms += [(0.3, 0.1, 1.0, 4.0), (0.15, 0.05, 0.9, -2.5), (0.9, 0.8, 0.98, 1.0)]
    for alpha, beta, phi, trend0 in forms:
        spec = EtsSpec(
            "A", "A", phi < 1, alpha, beta, phi, 810.6, trend0, 8761.5, None, "2020-08-01"
        )
        for n in (1, 10, 211, 300):
            level, trend = spec.level0, spec.trend0
            for value in z[:n].tolist():
                expected = level + spec.phi * trend
                error = value - expected
                level, trend = expected + spec.alpha * error, spec.phi * trend + spec.beta * error
            np.testing.assert_allclose(_final_state(z[:n], spec), (level, trend), rtol=1e-10)


def test_multiplicative_error_variance_is_the_class_2_recursion():
    """theta_k = mean_k^2 + sigma2 * sum_{j<k} c2_j theta_{k-1-j}, as Hyndman et al. write it."""
    spec = EtsSpec("M", "A", True, 0.3, 0.05, 0.95, 100.0, 1.0, 0.04, None, "2020-08-01")
    mean = np.linspace(120.0, 80.0, 32)
    c2 = (spec.alpha + spec.beta * np.cumsum(spec.phi ** np.arange(1, 33))) ** 2
    theta = np.empty(32)
    for k in range(32):
        theta[k] = mean[k] ** 2 + spec.sigma2 * np.dot(c2[:k], theta[:k][::-1])
    expected = (1.0 + spec.sigma2) * theta - mean**2
    np.testing.assert_allclose(_variance(spec, mean), expected, rtol=1e-12)
    assert np.all(np.diff(_variance(spec, mean) / mean**2) > 0)  # relative spread widens
