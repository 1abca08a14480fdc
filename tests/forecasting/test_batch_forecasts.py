"""Forecasts of many titles at once: every family's panel forecast equals its per-title
forecasts, and `forecast_table` equals `Bundle.forecast` title by title (calibrated or not,
whole-number or not, with newer, gapped and corrected actual weeks), with the same errors."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from conftest import synthetic_catalogue
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import Bundle, batch, bundle_table
from shelfcast.forecasting.backtest import fit_candidates
from shelfcast.forecasting.batch import forecast_arrays, forecast_bundles, forecast_table
from shelfcast.forecasting.calibration import fit_calibration
from shelfcast.forecasting.families import FAMILIES, Spec
from shelfcast.forecasting.families.ensemble import EnsembleSpec
from shelfcast.forecasting.families.launch import LaunchSpec
from shelfcast.forecasting.families.theta import ThetaSpec
from shelfcast.forecasting.panel import Panel
from shelfcast.forecasting.parallel import fit_titles
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

HORIZON = 30
LEVELS = (80, 95)
QUANTILES = (0.05, 0.1, 0.5, 0.9)


@pytest.fixture(scope="module")
def specs(pools) -> dict[str, Spec]:
    """A real fit of every family on one seasonal title (pooled ones with a pool)."""
    candidates = [n for n in FAMILIES if FAMILIES[n].modes]
    fitted, failed = fit_candidates(seasonal_series(), candidates, 52, pool=pools)
    assert not failed
    return fitted


def histories():
    """The title whole, cut shorter, and as fractional volumes (not whole numbers)."""
    full = seasonal_series()
    return [full, full.head(300), full.with_values(full.values * 0.5 + 0.25)]


def equal(a: np.ndarray, b: np.ndarray) -> None:
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_each_family_forecasts_a_panel_as_it_forecasts_each_title(specs):
    series = histories()
    panel = Panel(tuple(series))
    for name, spec in specs.items():
        family = FAMILIES[name]
        out = family.forecast_panel([spec] * len(series), panel, HORIZON, LEVELS)
        for i, history in enumerate(series):
            one = family.forecast(spec, history, HORIZON, LEVELS)
            equal(out.mean[i], one.mean)
            for lv in LEVELS:
                equal(out.lower[lv][i], one.lower[lv])
                equal(out.upper[lv][i], one.upper[lv])


def test_intermittent_rates_of_a_panel_are_those_of_each_title(specs):
    """Sparse sales, none at all, and one sale in the last week, of different lengths."""
    rng = np.random.default_rng(3)
    full = seasonal_series(weeks=120)
    sparse = rng.binomial(1, 0.2, 120) * rng.integers(1, 5, 120).astype(float)
    series = [
        full.with_values(sparse),
        full.with_values(np.zeros(60)),
        full.with_values(np.r_[np.zeros(29), 2.0]),
        full.with_values(sparse[:7]),
    ]
    for name in ("croston", "tsb"):
        family, spec = FAMILIES[name], specs[name]
        out = family.forecast_panel([spec] * len(series), Panel(tuple(series)), 8, LEVELS)
        for i, history in enumerate(series):
            equal(out.mean[i], family.forecast(spec, history, 8, LEVELS).mean)


@pytest.fixture(scope="module")
def table(specs) -> bundle_table.BundleTable:
    """Bundles of every family and of mean and median ensembles of 2, 3 and 5 of them, on each
    history, calibrated or not (keys differ)."""
    rng = np.random.default_rng(5)
    calibration = fit_calibration([[rng.normal(size=13)] for _ in range(40)])
    members = [specs[n] for n in ("gbm", "dhr", "ets", "theta", "autotheta", "sarima")]
    models = [*specs.values()]
    models += [EnsembleSpec(m, tuple(members[:k])) for m in ("mean", "median") for k in (2, 3, 5)]
    models.append(EnsembleSpec("mean", (specs["croston"], specs["naive"], specs["launch"])))
    bundles = []
    for i, model in enumerate(models):
        for j, history in enumerate(histories()):
            bundles.append(
                Bundle(
                    model=model,
                    history=_keyed(history, i, j),
                    calibration=calibration if (i + j) % 2 else None,
                )
            )
    return bundle_table.from_bundles(bundles)


def _keyed(history: TitleSeries, i: int, j: int) -> TitleSeries:
    return replace(history, key=f"{i:03d}-{j}")


def per_title(table, keys, actuals=None) -> pd.DataFrame:
    frames = []
    for key in keys:
        bundle = table.bundle(key)
        given = actuals.get(key) if actuals else None
        frame = bundle.forecast(HORIZON, LEVELS, given, QUANTILES)
        frames.append(frame.assign(key=key))
    out = pd.concat(frames, ignore_index=True)
    return out[["key", *out.columns[:-1]]]


def same_forecasts(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(got.columns) == list(expected.columns)
    assert got["key"].tolist() == expected["key"].tolist()
    assert (got["week_ending"] == expected["week_ending"]).all()
    for name in got.columns[2:]:
        equal(got[name].to_numpy(), expected[name].to_numpy())


def test_a_table_forecasts_each_title_as_its_bundle_does(table, monkeypatch):
    keys = table.keys[::-1]  # in the order asked
    expected = per_title(table, keys)
    same_forecasts(forecast_table(table, keys, HORIZON, LEVELS, QUANTILES), expected)
    monkeypatch.setattr(batch, "CHUNK_TITLES", 7)  # titles computed a few at a time
    same_forecasts(forecast_table(table, keys, HORIZON, LEVELS, QUANTILES), expected)
    empty = forecast_table(table, [], HORIZON, LEVELS, QUANTILES)
    assert empty.empty and list(empty.columns) == list(expected.columns)


@pytest.mark.parametrize("chunk", [4096, 5])
def test_newer_gapped_and_corrected_weeks_update_each_title_as_its_bundle_does(
    table, chunk, monkeypatch
):
    monkeypatch.setattr(batch, "CHUNK_TITLES", chunk)  # a few titles at a time, each its own
    actuals = {}
    for n, key in enumerate(table.keys):
        end = table.bundle(key).history.end
        if n % 3 == 0:  # four newer weeks
            weeks = [(end + pd.Timedelta(weeks=k)).date() for k in range(1, 5)]
            actuals[key] = [(w, 3.0) for w in weeks]
        elif n % 3 == 1:  # a gap of two weeks, a fractional volume and a corrected week
            actuals[key] = [
                ((end + pd.Timedelta(weeks=3)).date(), 7.5),
                ((end - pd.Timedelta(weeks=2)).date(), 40.0),
            ]
    same_forecasts(
        forecast_table(table, None, HORIZON, LEVELS, QUANTILES, actuals),
        per_title(table, table.keys, actuals),
    )


def test_fitted_titles_forecast_as_their_bundles_do():
    """Titles fitted together: their selections, ensembles and one calibration."""
    config = fit_config(Settings(), n_origins=1, candidates=("naive", "snaive", "theta", "gbm"))
    fits, errors = fit_titles(synthetic_catalogue(n=8, weeks=260), config, workers=1)
    assert not errors and fits[0].bundle.calibration is not None
    table = bundle_table.from_bundles([f.bundle for f in fits])
    actuals = {
        k: [((table.bundle(k).history.end + pd.Timedelta(weeks=2)).date(), 4.0)] for k in table.keys
    }
    for given in (None, actuals):
        same_forecasts(
            forecast_table(table, None, HORIZON, LEVELS, QUANTILES, given),
            per_title(table, table.keys, given),
        )


def test_requests_are_refused_as_a_bundle_refuses_them_and_errors_name_the_title(table):
    key = table.keys[0]
    bundle = table.bundle(key)
    for horizon, levels, quantiles in ((0, (), ()), (4, (100,), ()), (4, (), (1.5,))):
        with pytest.raises(ForecastError) as single:
            bundle.forecast(horizon, levels, None, quantiles)
        with pytest.raises(ForecastError) as batch:
            forecast_table(table, [key], horizon, levels, quantiles)
        assert str(batch.value) == str(single.value)
    with pytest.raises(KeyError, match="nope"):
        forecast_table(table, [key, "nope"], 4)
    tuesday = (bundle.history.end + pd.Timedelta(days=3)).date()
    with pytest.raises(
        ForecastError,
        match=f"^{key}: week_ending .* is a Tuesday: this title.s weeks end on a Saturday",
    ):
        forecast_table(table, None, 4, actuals={key: [(tuesday, 1.0)]})
    with pytest.raises(ForecastError, match=f"^{key}: volume .* must be a number >= 0"):
        forecast_table(table, None, 4, actuals={key: [(bundle.history.end.date(), -1.0)]})
    with pytest.raises(ForecastError, match=f"^{key}: actual weeks given for a title not"):
        forecast_table(table, table.keys[1:], 4, actuals={key: [(tuesday, 1.0)]})


def test_a_broken_fit_is_refused_naming_its_title():
    good = Bundle(ThetaSpec(0.5, 10.0, 0.0, 1.0, None, "2012-01-07"), seasonal_series())
    broken = Bundle(
        ThetaSpec(0.5, 10.0, 1e6, 1.0, None, "2012-01-07"), _keyed(seasonal_series(), 1, 1)
    )
    with pytest.raises(ForecastError, match="exceeds"):
        broken.forecast(8)
    with pytest.raises(ForecastError, match=r"^001-1: theta forecast exceeds"):
        forecast_bundles([good, broken], 8)


def test_titles_that_cannot_be_forecast_are_left_out_when_asked_and_cost_the_others_nothing():
    spec = ThetaSpec(0.5, 10.0, 0.0, 1.0, None, "2012-01-07")
    goods = [Bundle(spec, _keyed(seasonal_series(), i, 0)) for i in range(4)]
    broken = Bundle(replace(spec, drift=1e6), _keyed(seasonal_series(), 9, 9))
    tuesday = (goods[0].history.end + pd.Timedelta(days=3)).date()
    bundles = [goods[0], broken, goods[1], goods[2], goods[3]]
    actuals = {goods[3].key: [(tuesday, 1.0)]}
    failed: dict[str, str] = {}
    out = forecast_arrays(bundles, 8, LEVELS, QUANTILES, actuals, failed)
    assert out.keys == [g.key for g in goods[:3]]
    assert set(failed) == {broken.key, goods[3].key}
    assert failed[broken.key].startswith("009-9: theta forecast exceeds")
    assert failed[goods[3].key].startswith(f"{goods[3].key}: week_ending")
    alone = forecast_arrays(goods[:3], 8, LEVELS, QUANTILES)
    for name, values in alone.columns.items():
        equal(out.columns[name], values)
    with pytest.raises(ForecastError, match=r"^009-9: theta forecast exceeds"):
        forecast_arrays(bundles, 8, LEVELS, QUANTILES)


def test_one_title_is_forecast_as_among_many_and_exactly_as_its_bundle(table):
    """The one-title path (no arrays of titles grouped by family) against the many-title
    path, and against `Bundle.forecast` exactly, with four newer weeks for every title."""
    keys = table.keys
    actuals = {
        k: [((table.bundle(k).history.end + pd.Timedelta(weeks=w)).date(), 3.0) for w in (1, 2)]
        for k in keys
    }
    many = forecast_arrays(table.bundles(keys), HORIZON, LEVELS, QUANTILES, actuals)
    for row, key in enumerate(keys):
        bundle = table.bundle(key)
        one = forecast_arrays([bundle], HORIZON, LEVELS, QUANTILES, {key: actuals[key]})
        assert one.keys == [key] and list(one.columns) == list(many.columns)
        np.testing.assert_array_equal(one.week_endings[0], many.week_endings[row])
        expected = bundle.forecast(HORIZON, LEVELS, actuals[key], QUANTILES)
        for name, values in one.columns.items():
            equal(values[0], many.columns[name][row])
            np.testing.assert_array_equal(values[0], expected[name].to_numpy())


def test_one_title_that_cannot_be_forecast_gets_the_error_it_gets_among_many():
    spec = ThetaSpec(0.5, 10.0, 0.0, 1.0, None, "2012-01-07")
    broken = Bundle(replace(spec, drift=1e6), _keyed(seasonal_series(), 9, 9))
    tuesday = (broken.history.end + pd.Timedelta(days=3)).date()
    for actuals in (None, {broken.key: [(tuesday, 1.0)]}):
        alone: dict[str, str] = {}
        among: dict[str, str] = {}
        out = forecast_arrays([broken], 8, LEVELS, QUANTILES, actuals, alone)
        good = Bundle(spec, _keyed(seasonal_series(), 1, 0))
        forecast_arrays([good, broken], 8, LEVELS, QUANTILES, actuals, among)
        assert out.keys == [] and all(v.shape == (0, 8) for v in out.columns.values())
        assert alone == among and alone[broken.key].startswith("009-9: ")
        with pytest.raises(ForecastError, match=r"^009-9: "):
            forecast_arrays([broken], 8, LEVELS, QUANTILES, actuals)


def test_a_damaged_model_is_its_own_titles_error_not_the_others():
    """A model whose arrays do not fit what its family reads (an empty spread table)."""
    spec = ThetaSpec(0.5, 10.0, 0.0, 1.0, None, "2012-01-07")
    goods = [Bundle(spec, _keyed(seasonal_series(), i, 0)) for i in range(3)]
    damaged = Bundle(
        LaunchSpec("2012-01-07", "x", (1.0,) * 60, (), "h"), _keyed(seasonal_series(), 9, 9)
    )
    with pytest.raises(IndexError):
        damaged.forecast(8)
    failed: dict[str, str] = {}
    out = forecast_arrays([goods[0], damaged, *goods[1:]], 8, LEVELS, QUANTILES, None, failed)
    assert out.keys == [g.key for g in goods]
    assert list(failed) == [damaged.key] and failed[damaged.key].startswith("009-9: ")
    alone = forecast_arrays(goods, 8, LEVELS, QUANTILES)
    for name, values in alone.columns.items():
        equal(out.columns[name], values)
    one: dict[str, str] = {}
    assert forecast_arrays([damaged], 8, LEVELS, QUANTILES, None, one).keys == []
    assert one == failed
