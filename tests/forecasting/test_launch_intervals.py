"""A new title's launch-curve intervals at every number of weeks seen: ordered, never negative,
whole numbers for counts, and the same from a bundle read back and among many titles."""

import itertools
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from support.synthetic import launch_catalogue

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import Bundle
from shelfcast.forecasting.batch import forecast_arrays
from shelfcast.forecasting.bundle import read_bundle, write_bundle
from shelfcast.forecasting.calibration import Calibration, fit_calibration
from shelfcast.forecasting.families import FAMILIES, FitContext

LEVELS = (80, 95)
QUANTILES = (0.1, 0.5, 0.9)
ORDERED = ["lo_95", "lo_80", "mean", "hi_80", "hi_95"]


@pytest.fixture(scope="module")
def launch_context() -> FitContext:
    return FitContext(1, pool={"launch": FAMILIES["launch"].train_pool(launch_catalogue(), 52)})


@pytest.fixture(scope="module")
def calibration() -> Calibration:
    """Every title's conformal calibration, as new titles take it."""
    found = fit_calibration([[np.random.default_rng(i).normal(size=13)] for i in range(40)])
    assert found is not None
    return found


def newcomer(weeks: int, seed: int = 1) -> TitleSeries:
    """A gift book on sale for `weeks` weeks, in whole copies."""
    mean = 30.0 * (1 + 4 * np.exp(-np.arange(weeks) / 8.0))
    sales = np.random.default_rng(seed).poisson(mean).astype(float)
    meta = {"product_class": "T4.1 Humour & Gift", "binding": "Hardback"}
    return TitleSeries(
        f"new-{weeks}", "2020-03-07", sales, source="T Adult Non-Fiction Trade", meta=meta
    )


@pytest.mark.parametrize("weeks", [1, 3, 9, 12])
def test_a_new_titles_bounds_are_ordered_never_negative_and_whole_for_counts(
    launch_context, calibration, weeks
):
    title = newcomer(weeks)
    spec = FAMILIES["launch"].fit(title, launch_context)
    for cal in (None, calibration):
        frame = Bundle(spec, title, calibration=cal).forecast(13, LEVELS, quantiles=QUANTILES)
        for inner, outer in itertools.pairwise(ORDERED):
            assert np.all(frame[inner] <= frame[outer]), (cal, inner)
        assert np.all(frame[ORDERED] >= 0) and np.all(frame["hi_80"] > frame["lo_80"])
        assert np.all(frame["p10"] <= frame["p50"]) and np.all(frame["p50"] <= frame["p90"])
    for column in (*ORDERED[:2], *ORDERED[3:], "p10", "p50", "p90"):
        assert np.all(frame[column] == np.round(frame[column])), column


def test_a_new_titles_bundle_read_back_forecasts_the_same(launch_context, calibration, tmp_path):
    title = newcomer(4)
    bundle = Bundle(FAMILIES["launch"].fit(title, launch_context), title, calibration=calibration)
    back = read_bundle(write_bundle(bundle, tmp_path / "bundle"))
    assert back.model == bundle.model
    pd.testing.assert_frame_equal(
        back.forecast(13, LEVELS, quantiles=QUANTILES),
        bundle.forecast(13, LEVELS, quantiles=QUANTILES),
    )


def test_new_titles_at_different_weeks_forecast_together_as_each_alone(launch_context, calibration):
    titles = [newcomer(weeks, seed=weeks) for weeks in (1, 2, 5, 12, 13, 20)]
    bundles = [
        Bundle(FAMILIES["launch"].fit(t, launch_context), t, calibration=calibration)
        for t in titles
    ]
    together = forecast_arrays(bundles, 13, LEVELS, quantiles=QUANTILES)
    for i, bundle in enumerate(bundles):
        alone = bundle.forecast(13, LEVELS, quantiles=QUANTILES)
        for name, values in together.columns.items():
            np.testing.assert_allclose(values[i], alone[name].to_numpy(), rtol=1e-12, err_msg=name)


def test_a_count_launchs_spread_holds_a_counts_noise_on_top_of_the_curves(launch_context):
    """Counts: variance (rel x mean)^2 + mean + mean^2 / copies sold, so a small launch's
    interval is relatively wider than a big one's; without counts (a version-1 spec), the
    relative error alone."""
    big = newcomer(4)
    small = TitleSeries("small", big.start, np.round(big.values / 20), meta=big.meta)
    specs = {t.key: FAMILIES["launch"].fit(t, launch_context) for t in (big, small)}
    assert all(s.counts for s in specs.values())
    rel = {}
    for title in (big, small):
        out = FAMILIES["launch"].forecast(specs[title.key], title, 13, [80])
        se = (out.upper[80] - out.mean) / 1.2815515655446004
        k = len(title) - 1
        rel_sd = specs[title.key].rel_sd[k]
        variance = (rel_sd * out.mean) ** 2 + out.mean + out.mean**2 / title.values.sum()
        np.testing.assert_allclose(se, np.sqrt(variance), rtol=1e-9)
        rel[title.key] = float(np.mean(se / out.mean))
    assert rel["small"] > 1.5 * rel[big.key]
    old = {**specs[big.key].to_dict(), "spec_version": 1}
    del old["counts"]
    back = type(specs[big.key]).from_dict(old)
    assert back == replace(specs[big.key], counts=False)
    out = FAMILIES["launch"].forecast(back, big, 13, [80])
    np.testing.assert_allclose(
        out.upper[80] - out.mean, 1.2815515655446004 * back.rel_sd[3] * out.mean
    )


def test_the_pools_relative_error_leaves_a_counts_noise_out():
    """Pooled from whole copies, `rel_sd` is smaller than the plain relative errors' (the
    count's noise is no longer in it); the same launches in tenths of a copy are not counts."""
    titles = launch_catalogue()
    counted = FAMILIES["launch"].train_pool(titles, 52)
    tenths = [replace(t, values=t.values + 0.1) for t in titles]
    plain = FAMILIES["launch"].train_pool(tenths, 52)
    assert counted["counts"] and not plain["counts"]
    assert all(c < p for c, p in zip(counted["rel_sd"], plain["rel_sd"], strict=True))
