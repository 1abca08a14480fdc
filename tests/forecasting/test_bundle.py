import json

import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting import fit_title, read_bundle, write_bundle
from shelfcast.forecasting.bundle import Bundle
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config


@pytest.fixture(scope="module")
def fitted():
    return fit_title(seasonal_series(), fit_config(Settings(), n_origins=2))


def test_round_trip_is_pickle_free_small_and_forecasts_identically(fitted, tmp_path):
    folder = write_bundle(fitted.bundle, tmp_path / "b")
    assert sorted(p.name for p in folder.iterdir()) == ["bundle.json", "history.csv"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 64_000
    info = json.loads((folder / "bundle.json").read_text())
    assert info["format_version"] == 1
    assert info["model"]["family"] == fitted.champion
    assert info["training_window"]["freq"] == "W-SAT"
    loaded = read_bundle(folder)
    pd.testing.assert_frame_equal(loaded.forecast(52), fitted.bundle.forecast(52))


def test_forecast_is_dated_after_the_history(fitted):
    frame = fitted.bundle.forecast(3, levels=(50, 90))
    assert list(frame.columns) == ["week_ending", "mean", "lo_50", "hi_50", "lo_90", "hi_90"]
    assert frame["week_ending"].iloc[0] == fitted.bundle.history.end + pd.Timedelta(weeks=1)
    assert (frame["week_ending"].dt.dayofweek == 5).all()


def test_newer_actuals_update_the_state_without_refitting(fitted):
    bundle = fitted.bundle
    end = bundle.history.end
    weeks = [(end + pd.Timedelta(weeks=k), 5000.0) for k in (1, 3)]  # week 2 missing: zero
    updated = bundle.updated(weeks)
    assert updated.model == bundle.model
    assert updated.history.end == end + pd.Timedelta(weeks=3)
    np.testing.assert_allclose(updated.history.values[-3:], [5000.0, 0.0, 5000.0])
    via_actuals = bundle.forecast(4, actuals=weeks)
    assert via_actuals["week_ending"].iloc[0] == end + pd.Timedelta(weeks=4)
    pd.testing.assert_frame_equal(via_actuals, updated.forecast(4))
    assert not np.allclose(via_actuals["mean"], bundle.forecast(7)["mean"].iloc[3:])


def test_bad_actuals_and_horizons_are_refused(fitted):
    end = fitted.bundle.history.end
    with pytest.raises(ForecastError, match="not a W-SAT week ending"):
        fitted.bundle.updated([(end + pd.Timedelta(days=3), 1.0)])
    with pytest.raises(ForecastError, match=">= 0"):
        fitted.bundle.updated([(end + pd.Timedelta(weeks=1), -1.0)])
    with pytest.raises(ForecastError, match="horizon"):
        fitted.bundle.forecast(0)
    with pytest.raises(ForecastError, match="horizon"):
        fitted.bundle.forecast(261)


def test_malformed_bundles_are_refused(fitted, tmp_path):
    files = fitted.bundle.to_files()
    with pytest.raises(BundleError, match="missing"):
        Bundle.from_files({"bundle.json": files["bundle.json"]})
    info = json.loads(files["bundle.json"])
    info["format_version"] = 99
    with pytest.raises(BundleError, match="format version"):
        Bundle.from_files({**files, "bundle.json": json.dumps(info).encode()})
    info["format_version"] = 1
    info["model"] = {"family": "__import__('os')"}
    with pytest.raises(BundleError, match="unknown model family"):
        Bundle.from_files({**files, "bundle.json": json.dumps(info).encode()})
    with pytest.raises(BundleError, match="not a bundle"):
        read_bundle(tmp_path / "nothing")


def test_the_champions_backtest_and_holdout_forecasts_round_trip(fitted, tmp_path):
    evaluation = fitted.bundle.evaluation
    by_origin = fitted.backtest.forecasts[fitted.champion]
    stored = evaluation["backtest"]["forecasts"]
    assert [f["origin"] for f in stored] == [o.date().isoformat() for o in sorted(by_origin)]
    for record, (origin, fc) in zip(stored, sorted(by_origin.items()), strict=True):
        assert record["start"] == (origin + pd.Timedelta(weeks=1)).date().isoformat()
        np.testing.assert_allclose(record["mean"], fc.mean, atol=5e-4)
        for level in (80, 95):
            np.testing.assert_allclose(record[f"lo_{level}"], fc.lower[level], atol=5e-4)
            np.testing.assert_allclose(record[f"hi_{level}"], fc.upper[level], atol=5e-4)
    held = evaluation["holdout_forecast"]
    history = fitted.bundle.history
    assert held["start"] == history.dates[-len(held["mean"])].date().isoformat()
    np.testing.assert_allclose(held["mean"], fitted.holdout_forecast.mean, atol=5e-4)

    folder = write_bundle(fitted.bundle, tmp_path / "b")
    text = (folder / "bundle.json").read_text()
    assert json.loads(text) == fitted.bundle.info()
    assert len(text) < 16_000
    assert read_bundle(folder).evaluation == evaluation


def test_a_bundle_without_stored_forecasts_still_loads(fitted):
    files = fitted.bundle.to_files()
    info = json.loads(files["bundle.json"])
    del info["evaluation"]["backtest"]["forecasts"], info["evaluation"]["holdout_forecast"]
    older = Bundle.from_files({**files, "bundle.json": json.dumps(info, indent=2).encode()})
    assert "holdout_forecast" not in older.evaluation
    assert older.evaluation["backtest"]["mean"] == fitted.bundle.evaluation["backtest"]["mean"]
    pd.testing.assert_frame_equal(older.forecast(8), fitted.bundle.forecast(8))
