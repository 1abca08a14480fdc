import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import Bundle, fit_title, read_bundle, write_bundle
from shelfcast.forecasting import families as fam
from shelfcast.forecasting.backtest import fit_candidates
from shelfcast.forecasting.families import (
    FAMILIES,
    Family,
    FitContext,
    Spec,
    SpecError,
    spec_from_dict,
)
from shelfcast.forecasting.families.ensemble import EnsembleSpec
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.forecasting.fourier import fourier_terms
from shelfcast.forecasting.intervals import PointForecast, normal_bounds
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

FORMAT1 = Path(__file__).parent / "data" / "format1"
LEVELS = (80, 95)
CONTEXT = FitContext(season_length=52)


@pytest.fixture(scope="module")
def series_module() -> TitleSeries:
    return seasonal_series()


@pytest.fixture(scope="module")
def specs(series_module, pools) -> dict[str, Spec]:
    """A spec of every family: each fitted on the series (pooled families with a pool trained
    on other synthetic titles), the ensemble built from three."""
    candidates = [n for n in FAMILIES if FAMILIES[n].modes]
    fitted, failed = fit_candidates(series_module, candidates, 52, pool=pools)
    assert not failed
    members = (fitted["theta"], fitted["dhr"], fitted["snaive"])
    return {**fitted, "ensemble": EnsembleSpec("median", members)}


def test_the_table_names_each_family_by_its_spec():
    assert list(FAMILIES) == [
        "naive",
        "snaive",
        "zero",
        "croston",
        "tsb",
        "adida",
        "imapa",
        "intermittent_combo",
        "launch",
        "sarima",
        "dhr",
        "theta",
        "profile",
        "autotheta",
        "ets",
        "gbm",
        "combo",
        "ensemble",
    ]
    for name, family in FAMILIES.items():
        assert family.name == family.spec_type.family == name
        assert isinstance(family.spec_type.version, int)
        assert all(list(FAMILIES).index(r) < list(FAMILIES).index(name) for r in family.requires)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_every_family_forecasts_dated_non_negative_ordered_intervals(series_module, specs, family):
    out = fam.forecast(specs[family], series_module, 40, LEVELS)
    assert out.mean.shape == (40,)
    assert np.all(out.mean >= 0)
    assert np.all(out.lower[95] <= out.lower[80])
    assert np.all(out.lower[80] <= out.mean)
    assert np.all(out.mean <= out.upper[80])
    assert np.all(out.upper[80] <= out.upper[95])
    if family == "zero":  # an inactive title's interval is [0, 0] where none sold again
        assert specs[family].rate > 0 or np.all(out.upper[95] == 0)
    else:
        assert np.all(out.upper[95] > out.lower[95])


@pytest.mark.parametrize("family", list(FAMILIES))
def test_specs_are_frozen_and_round_trip_through_json_exactly(specs, family):
    spec = specs[family]
    data = json.loads(json.dumps(spec.to_dict(), allow_nan=False))
    assert data["family"] == family and data["spec_version"] == type(spec).version
    again = spec_from_dict(data)
    assert again == spec and type(again) is type(spec)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(spec, dataclasses.fields(spec)[0].name, None)


@pytest.mark.parametrize("family", list(FAMILIES))
def test_update_with_newer_weeks_keeps_the_parameters(series_module, specs, family):
    longer = series_module.with_values(np.r_[series_module.values, 500.0, 0.0, 620.0])
    assert fam.update(specs[family], longer) == specs[family]


def test_spec_dicts_are_checked_field_by_field(specs):
    data = specs["sarima"].to_dict()
    with pytest.raises(SpecError, match="newer than this Shelfcast reads"):
        spec_from_dict({**data, "spec_version": 99})
    with pytest.raises(SpecError, match=r"unknown fields \['colour'\]"):
        spec_from_dict({**data, "colour": "red"})
    with pytest.raises(SpecError, match=r"missing \['sigma2'\]"):
        spec_from_dict({k: v for k, v in data.items() if k != "sigma2"})
    with pytest.raises(SpecError, match=r"sarima.order: expected 3 values"):
        spec_from_dict({**data, "order": [1, 0]})
    with pytest.raises(SpecError, match=r"sarima.ar\[0\]: expected float, got 'x'"):
        spec_from_dict({**data, "ar": ["x"] * len(data["ar"] or [0])})
    with pytest.raises(SpecError, match="unknown model family 'prophet'"):
        spec_from_dict({**data, "family": "prophet"})
    with pytest.raises(SpecError, match="JSON object"):
        spec_from_dict([data])
    combo = specs["combo"].to_dict()
    combo["members"]["dhr"] = combo["members"]["theta"]
    with pytest.raises(SpecError, match="other families"):
        spec_from_dict(combo)


@pytest.mark.parametrize("family", ["sarima", "dhr", "theta"])
def test_seasonal_families_beat_a_flat_forecast_on_christmas(series_module, family):
    train, test = series_module.head(len(series_module) - 40), series_module.values[-40:]
    spec = FAMILIES[family].fit(train, CONTEXT)
    out = fam.forecast(spec, train, 40, LEVELS)
    flat = np.full(40, train.values[-52:].mean())
    assert np.abs(out.mean - test).mean() < np.abs(flat - test).mean()


def test_refit_with_like_keeps_structure(series_module):
    earlier = series_module.head(len(series_module) - 60)
    first = FAMILIES["sarima"].fit(earlier, CONTEXT)
    again = FAMILIES["sarima"].fit(series_module, CONTEXT, like=first)
    assert (again.order, again.seasonal_order) == (first.order, first.seasonal_order)
    dhr = FAMILIES["dhr"].fit(earlier, CONTEXT)
    assert FAMILIES["dhr"].fit(series_module, CONTEXT, like=dhr).harmonics == dhr.harmonics


def test_a_combination_takes_its_members_fits_and_needs_two(series_module, specs):
    combo = FAMILIES["combo"]
    members = {k: specs[k] for k in ("sarima", "theta")}
    spec = combo.fit(series_module, FitContext(season_length=52, fitted=members))
    assert [m.family for m in spec.members] == ["sarima", "theta"]
    with pytest.raises(ForecastError, match="fewer than two members"):
        combo.fit(series_module, FitContext(season_length=52, fitted={"theta": specs["theta"]}))


def test_seasonal_naive_repeats_last_season_with_growing_intervals():
    history = TitleSeries("x", "2024-01-06", np.arange(1.0, 11.0))  # 10 weeks, season 4
    spec = FAMILIES["snaive"].fit(history, FitContext(season_length=4))
    assert spec == SnaiveSpec(season_length=4, sigma2=16.0)  # every lag-4 difference is 4
    out = fam.forecast(spec, history, 6, LEVELS)
    np.testing.assert_allclose(out.mean, [7, 8, 9, 10, 7, 8])
    width = out.upper[95] - out.mean
    assert width[4] == pytest.approx(width[0] * np.sqrt(2))


def test_short_series_are_refused_with_a_reason():
    short = TitleSeries("x", "2024-01-06", np.ones(30))
    with pytest.raises(ForecastError, match="needs"):
        FAMILIES["sarima"].fit(short, CONTEXT)


def test_fourier_terms_follow_the_solar_year():
    terms = fourier_terms(np.array([0.0, 365.2425 / 7]), 2)
    np.testing.assert_allclose(terms[0], terms[1], atol=1e-12)


def test_forecasting_from_specs_imports_no_fitting_library(series_module, specs, tmp_path):
    """What serving does (load bundles, forecast, take newer weeks) without statsforecast or
    LightGBM: a bundle of every family, and the format-1 fixtures."""
    folders = [str(p) for p in FORMAT1.iterdir() if p.is_dir()]
    for family, spec in specs.items():
        folders.append(str(write_bundle(Bundle(spec, series_module), tmp_path / family)))
    code = f"""
import sys
import pandas as pd
import shelfcast.forecasting.families
import shelfcast.serving.pool
from shelfcast.forecasting.bundle import read_bundle
for folder in {folders!r}:
    bundle = read_bundle(folder)
    bundle.forecast(8, actuals=[(bundle.history.end + pd.Timedelta(weeks=1), 3.0)])
fitting = {{"statsforecast", "statsmodels", "lightgbm"}}
print(sorted({{m.split(".")[0] for m in sys.modules}} & fitting))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


# --- adding a family: one module (here, this test) and one line in the table ----------------


@dataclasses.dataclass(frozen=True)
class MeanSpec(Spec):
    family: ClassVar[str] = "mean"

    weeks: int
    level: float
    sigma2: float


class RecentMean(Family[MeanSpec]):
    """The mean of the last season, flat: a family written by the recipe in the docs."""

    name = "mean"
    spec_type = MeanSpec

    def fit(self, history, context, like=None):
        recent = history.values[-context.season_length :]
        return MeanSpec(len(recent), float(recent.mean()), float(recent.var()))

    def forecast(self, spec, history, horizon, levels) -> PointForecast:
        se = np.full(horizon, np.sqrt(spec.sigma2))
        return normal_bounds(np.full(horizon, spec.level), se, levels)


def test_a_new_family_needs_only_its_module_and_a_line_in_the_table(
    series_module, monkeypatch, tmp_path
):
    monkeypatch.setitem(FAMILIES, "mean", RecentMean())
    fit = fit_title(
        series_module, fit_config(Settings(), n_origins=2, candidates=("snaive", "mean"))
    )
    assert set(fit.scores) == {"snaive", "mean", "mean_top2"}
    assert set(fit.holdout) == {fit.selected, "snaive"}
    bundle = Bundle(model=FAMILIES["mean"].fit(series_module, CONTEXT), history=series_module)
    loaded = read_bundle(write_bundle(bundle, tmp_path / "b"))
    assert loaded.model == bundle.model
    pd.testing.assert_frame_equal(loaded.forecast(8), bundle.forecast(8))
