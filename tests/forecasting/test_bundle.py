import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.errors import BundleError, ForecastError
from shelfcast.forecasting import fit_title, read_bundle, write_bundle
from shelfcast.forecasting.bundle import FORMAT_VERSION, ActualWeekError, Bundle, read_model
from shelfcast.forecasting.families import FAMILIES
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

FORMAT1 = Path(__file__).parent / "data" / "format1"


@pytest.fixture(scope="module")
def fitted():
    return fit_title(seasonal_series(), fit_config(Settings(), n_origins=2))


def test_round_trip_is_pickle_free_small_and_forecasts_identically(fitted, tmp_path):
    folder = write_bundle(fitted.bundle, tmp_path / "b")
    assert sorted(p.name for p in folder.iterdir()) == ["bundle.json", "history.csv"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 64_000
    info = json.loads((folder / "bundle.json").read_text())
    assert info["format_version"] == FORMAT_VERSION == 3
    assert info["model"]["family"] == fitted.bundle.family
    assert info["model"]["spec_version"] == FAMILIES[fitted.bundle.family].spec_type.version
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
    start, week = fitted.bundle.history.start, pd.Timedelta(weeks=1)
    cases = [
        ([(end + pd.Timedelta(days=3), 1.0)], 0, "week_ending", "is a Tuesday: this title's"),
        ([(end + week, 1.0), (end + pd.Timedelta(hours=6), 1.0)], 1, "week_ending", "not a date"),
        ([(end, 1.0), (start - week, 1.0)], 1, "week_ending", "before this title's history"),
        ([(end + 261 * week, 1.0)], 0, "week_ending", "more than 260 weeks after"),
        ([(end, 1.0), (end + week, 2.0), (end, 3.0)], 2, "week_ending", "more than once"),
        ([(end + week, 1.0), (end + 2 * week, -1.0)], 1, "volume", ">= 0, got -1.0"),
        ([(end + week, float("nan"))], 0, "volume", ">= 0, got nan"),
    ]
    for actuals, index, field, reason in cases:
        with pytest.raises(ActualWeekError, match=reason) as caught:
            fitted.bundle.updated(actuals)
        assert (caught.value.index, caught.value.field) == (index, field)
    furthest = fitted.bundle.updated([(end + 260 * week, 1.0), (start, 0.0)]).history
    assert len(furthest) == len(fitted.bundle.history) + 260
    assert furthest.values[-1] == 1.0 and furthest.values[0] == 0.0
    with pytest.raises(ForecastError, match="horizon"):
        fitted.bundle.forecast(0)
    with pytest.raises(ForecastError, match="horizon"):
        fitted.bundle.forecast(261)


def test_malformed_bundles_are_refused(fitted, tmp_path):
    files = fitted.bundle.to_files()
    with pytest.raises(BundleError, match="missing"):
        Bundle.from_files({"bundle.json": files["bundle.json"]})
    info = json.loads(files["bundle.json"])

    def refused(message: str, source: str | None = None) -> None:
        data = json.dumps(info).encode()
        with pytest.raises(BundleError, match=message):
            Bundle.from_files({**files, "bundle.json": data}, source=source)
        with pytest.raises(BundleError, match=message):
            read_model(data, f"{source}/bundle.json" if source else "bundle.json")

    info["format_version"] = 99
    refused(r"^bundle.json: unsupported bundle format version 99 \(this Shelfcast reads 1, 2, 3\)")
    refused(r"^models/x/3/bundle.json: unsupported bundle format version 99", "models/x/3")
    info["format_version"] = 2
    info["model"] = {**fitted.bundle.model.to_dict(), "spec_version": 7}
    refused(
        rf"^bundle.json: {fitted.bundle.family} spec version 7 is newer than this Shelfcast reads"
    )
    info["model"] = {"family": "__import__('os')"}
    refused(r"^bundle.json: unknown model family \"__import__\('os'\)\" \(known: .*snaive, ")
    info["model"] = None
    refused("a model spec is a JSON object")
    with pytest.raises(BundleError, match="not a bundle"):
        read_bundle(tmp_path / "nothing")
    folder = write_bundle(fitted.bundle, tmp_path / "b")
    (folder / "bundle.json").write_text(json.dumps({**info, "format_version": 4}))
    with pytest.raises(BundleError, match=f"^{folder}/bundle.json: unsupported bundle format"):
        read_bundle(folder)


@pytest.mark.parametrize("family", sorted(p.name for p in FORMAT1.iterdir() if p.is_dir()))
def test_format_1_bundles_load_and_forecast_as_the_code_that_wrote_them(family):
    """Fixtures written before model families (data/format1/README.md), with its forecasts."""
    bundle = read_bundle(FORMAT1 / family)
    assert bundle.family == family and len(bundle.history) == 160
    assert bundle.model.to_dict()["spec_version"] == type(bundle.model).version
    assert read_model((FORMAT1 / family / "bundle.json").read_bytes()) == bundle.model
    end = bundle.history.end
    actuals = [(end + pd.Timedelta(weeks=1), 420.0), (end + pd.Timedelta(weeks=3), 95.0)]
    for got, name in [
        (bundle.forecast(40, levels=(80, 95)), "expected"),
        (bundle.forecast(12, levels=(50, 90), actuals=actuals), "expected_with_actuals"),
    ]:
        expected = pd.read_csv(
            FORMAT1 / f"{family}.{name}.csv",
            parse_dates=["week_ending"],
            float_precision="round_trip",
        )
        expected = expected.astype({c: float for c in expected.columns[1:]})
        # to 1e-10 of each value: later code sums the same model in another order (closed
        # forms and filters in place of loops over weeks), which moves the last bits
        pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-10, atol=1e-9)


def test_a_format_1_bundle_is_written_back_in_the_current_format_and_reads_the_same(tmp_path):
    bundle = read_bundle(FORMAT1 / "combo")
    again = read_bundle(write_bundle(bundle, tmp_path / "b"))
    info = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert info["format_version"] == FORMAT_VERSION and info["calibration"] is None
    members = info["model"]["members"]
    assert {k: m["spec_version"] for k, m in members.items()} == {
        k: FAMILIES[k].spec_type.version for k in ("sarima", "dhr", "theta")
    }
    assert again.model == bundle.model
    pd.testing.assert_frame_equal(again.forecast(20), bundle.forecast(20))


def test_the_champions_backtest_and_holdout_forecasts_round_trip(fitted, tmp_path):
    evaluation = fitted.bundle.evaluation
    by_origin = fitted.backtest.forecasts[fitted.selected]
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
