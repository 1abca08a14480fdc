"""Count quantiles: the negative binomial by mean and variance covers what it says on a known
negative-binomial (and Poisson) process; the count calibration publishes whole, non-negative,
ordered quantiles and bounds around its corrected mean, reads back from JSON, and bundles that
hold it forecast the same read back from their files and many at once as one by one."""

import json

import numpy as np
import pytest

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting import Bundle, counts, fit_titles
from shelfcast.forecasting.batch import forecast_bundles
from shelfcast.forecasting.bundle import read_bundle, write_bundle
from shelfcast.forecasting.calibration import (
    CountCalibration,
    calibration_from_dict,
    fit_count_calibration,
)
from shelfcast.forecasting.fit import INTERMITTENT
from shelfcast.forecasting.intervals import normal_bounds
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

TAUS = (0.025, 0.1, 0.5, 0.8, 0.9, 0.975)


def draws(mean: float, var: float, n: int = 400_000, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if var <= mean:
        return rng.poisson(mean, n)
    size = mean**2 / (var - mean)
    return rng.negative_binomial(size, size / (size + mean), n)


@pytest.mark.parametrize(("mean", "var"), [(0.3, 0.9), (0.8, 2.4), (4.0, 30.0), (2.0, 2.0)])
def test_quantiles_and_probabilities_match_a_known_count_process(mean, var):
    sample = draws(mean, var)
    q = counts.quantiles(np.array([mean]), np.array([var]), TAUS)
    for tau in TAUS:
        value = q[tau][0]
        assert value == np.round(value) and value >= 0
        assert np.mean(sample <= value) >= tau - 0.005  # the smallest count that holds tau
        assert value == 0 or np.mean(sample <= value - 1) < tau + 0.005
    for x in range(6):
        observed = np.mean(sample <= x)
        assert counts.cdf(np.array([x]), mean, var)[0] == pytest.approx(observed, abs=0.004)
    assert counts.cdf(np.array([-1.0]), mean, var)[0] == 0.0


def test_the_nearest_count_is_the_one_whose_probability_is_closest():
    mean, var = np.array([0.3, 0.3, 5.0, 1.2]), np.array([0.3, 0.8, 20.0, 4.0])
    q = counts.nearest(mean, var, 0.8)
    for i in range(len(mean)):
        gaps = {c: abs(counts.cdf(np.array([c]), mean[i], var[i])[0] - 0.8) for c in range(0, 40)}
        assert gaps[q[i]] == min(gaps.values())
    assert q[0] == 0  # P(0) = 0.74 for a Poisson mean of 0.3: nearer 0.8 than P(<= 1) = 0.96


def test_no_sales_expected_means_no_sales_at_any_quantile():
    q = counts.quantiles(np.zeros(3), np.zeros(3), (0.5, 0.995))
    assert all(np.array_equal(v, np.zeros(3)) for v in q.values())


def test_dispersion_recovers_a_negative_binomial_and_is_zero_for_poisson_counts():
    assert counts.dispersion(draws(1.5, 1.5 + 0.8 * 1.5**2)) == pytest.approx(0.8, rel=0.03)
    assert counts.dispersion(draws(1.5, 1.5)) == pytest.approx(0.0, abs=0.01)
    assert counts.dispersion(np.zeros(10)) == 0.0


def own_forecast(mean: float, var: float, weeks: int = 6):
    """A model's forecast whose 80% bounds say `var` (as the intermittent combination's do)."""
    return normal_bounds(np.full(weeks, mean), np.full(weeks, np.sqrt(var)), (80, 95))


def test_the_count_calibration_publishes_whole_ordered_quantiles_around_its_corrected_mean():
    calibration = CountCalibration(scale=0.8, n_weeks=120, n_titles=4)
    mean, out = calibration.columns(own_forecast(1.5, 6.0), (80, 95), (0.1, 0.5, 0.9), True)
    np.testing.assert_allclose(mean, 1.2)
    expected = counts.quantiles(mean, 1.2 + 0.64 * (6.0 - 1.5), (0.1, 0.5, 0.9))
    for tau, column in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
        np.testing.assert_array_equal(out[column], expected[tau])
        assert np.all(out[column] == np.round(out[column])) and np.all(out[column] >= 0)
    assert np.all(out["lo_95"] <= out["lo_80"]) and np.all(out["lo_80"] <= mean)
    assert np.all(mean <= out["hi_80"]) and np.all(out["hi_80"] <= out["hi_95"])
    with pytest.raises(ForecastError, match="outside"):
        calibration.columns(own_forecast(1.5, 6.0), (80,), (0.999,), True)


def test_without_an_80_percent_interval_the_variance_comes_from_the_lowest_level():
    calibration = CountCalibration(scale=1.0, n_weeks=120, n_titles=4)
    full = calibration.columns(own_forecast(2.0, 9.0), (95,), (0.5, 0.9), True)
    only_95 = normal_bounds(np.full(6, 2.0), np.full(6, 3.0), (95,))
    fewer = calibration.columns(only_95, (95,), (0.5, 0.9), True)
    for name, values in full[1].items():
        np.testing.assert_array_equal(fewer[1][name], values, err_msg=name)


def test_a_count_interval_from_zero_ends_at_the_count_nearest_its_level_or_the_mean():
    calibration = CountCalibration(scale=1.0, n_weeks=120, n_titles=4)
    mean, out = calibration.columns(own_forecast(0.3, 0.3), (80, 95), (), True)
    assert np.all(out["lo_80"] == 0)
    np.testing.assert_allclose(out["hi_80"], mean)  # [0, 0] is nearest 80%: the mean bounds it
    np.testing.assert_allclose(out["hi_95"], 1.0)  # P(<= 1) = 0.96


def test_a_count_calibration_reads_back_from_json_and_refuses_a_bad_scale():
    calibration = CountCalibration(scale=0.87, n_weeks=300, n_titles=9)
    data = json.loads(json.dumps(calibration.to_dict()))
    assert data["method"] == "negative-binomial"
    assert calibration_from_dict(data) == calibration
    for bad in (0.0, -1.0, "1", None, True, float("inf")):
        with pytest.raises(ForecastError, match="scale"):
            calibration_from_dict({**data, "scale": bad})


def test_the_mean_correction_is_the_ratio_of_summed_sales_to_summed_forecasts():
    fitted = fit_count_calibration([(30.0, 40.0, 26), (10.0, 10.0, 13), (0.0, 0.0, 0)])
    assert fitted == CountCalibration(scale=40.0 / 50.0, n_weeks=39, n_titles=2)
    assert fit_count_calibration([(3.0, 4.0, 13)]).scale == 1.0  # too few weeks: uncorrected
    assert fit_count_calibration([(0.0, 4.0, 52)]).scale == 1.0  # no sales: uncorrected


@pytest.fixture(scope="module")
def slow_bundles() -> list[Bundle]:
    """Slow sellers and a smooth title fitted together: bundles with count calibrations."""
    rng = np.random.default_rng(7)
    titles = []
    for i in range(10):
        sold = rng.random(150) < 0.3
        sizes = 1 + rng.negative_binomial(0.8, 0.8 / (0.8 + 3.0), 150)
        titles.append(TitleSeries(f"s{i}", "2020-01-04", np.where(sold, sizes, 0).astype(float)))
    titles.append(TitleSeries("m", "2020-01-04", rng.poisson(30.0, 150).astype(float)))
    fits, errors = fit_titles(titles, fit_config(Settings(), horizon=13, holdout=0), workers=1)
    assert not errors
    return [f.bundle for f in fits]


def test_a_count_calibrated_bundle_forecasts_the_same_read_back_from_its_files(
    slow_bundles, tmp_path
):
    bundle = next(b for b in slow_bundles if b.family == INTERMITTENT)
    assert isinstance(bundle.calibration, CountCalibration)
    folder = write_bundle(bundle, tmp_path / "b")
    info = json.loads((folder / "bundle.json").read_text())
    assert info["calibration"]["method"] == "negative-binomial"
    assert info["model"]["spec_version"] == 2 and info["model"]["dispersion"] >= 0
    again = read_bundle(folder)
    assert again.calibration == bundle.calibration and again.model == bundle.model
    args = (8, (80, 95), None, (0.1, 0.5, 0.9))
    assert again.forecast(*args).equals(bundle.forecast(*args))
    info["calibration"]["scale"] = -2
    (folder / "bundle.json").write_text(json.dumps(info))
    with pytest.raises(BundleError, match="scale"):
        read_bundle(folder)


def test_many_count_calibrated_titles_forecast_at_once_as_one_by_one(slow_bundles):
    assert {type(b.calibration) for b in slow_bundles} > {CountCalibration}
    recent = {b.key: [(b.history.end + np.timedelta64(14, "D"), 3.0)] for b in slow_bundles}
    together = forecast_bundles(slow_bundles, 13, (80, 95), (0.1, 0.5, 0.9), recent)
    for b in slow_bundles:
        alone = b.forecast(13, (80, 95), recent[b.key], (0.1, 0.5, 0.9))
        mine = together[together["key"] == b.key].drop(columns="key").reset_index(drop=True)
        np.testing.assert_allclose(
            mine.drop(columns="week_ending").to_numpy(),
            alone.drop(columns="week_ending").to_numpy(),
            rtol=1e-12,
        )
        assert (mine["week_ending"] == alone["week_ending"]).all()
