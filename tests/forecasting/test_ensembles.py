"""Ensembles: members ranked on the other origins, scored like any candidate, served."""

import numpy as np
import pandas as pd
import pytest
from support.synthetic import seasonal_series

from shelfcast.forecasting import Bundle, fit_title, read_bundle, write_bundle
from shelfcast.forecasting.backtest import Backtest
from shelfcast.forecasting.ensembles import add_ensembles, members, parse, ranking
from shelfcast.forecasting.fit import fit_selected
from shelfcast.forecasting.intervals import normal_bounds
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

ORIGINS = [pd.Timestamp("2020-01-04"), pd.Timestamp("2020-04-04")]


def flat(level: float):
    return normal_bounds(np.full(2, level), np.ones(2), (80,))


def backtest_of(mase: dict[str, list[float]], levels: dict[str, float]) -> Backtest:
    """Candidates with a given MASE at each origin, each forecasting a flat level."""
    rows = [
        {"candidate": c, "origin": o, "mase": m, "mae": m}
        for c, values in mase.items()
        for o, m in zip(ORIGINS, values, strict=True)
    ]
    return Backtest(
        table=pd.DataFrame(rows),
        forecasts={c: {o: flat(levels[c]) for o in ORIGINS} for c in mase},
        insample={o: np.arange(60.0) for o in ORIGINS},
        actuals={o: np.array([10.0, 10.0]) for o in ORIGINS},
    )


def test_names_parse_and_unknown_ones_are_refused():
    assert parse("median_top3") == ("median", 3)
    with pytest.raises(ValueError, match="not an ensemble"):
        parse("top3")


def test_each_origin_ranks_members_on_the_other_origins():
    bt = backtest_of(
        {"naive": [0.1, 0.9], "theta": [0.5, 0.5], "dhr": [0.9, 0.1]},
        {"naive": 1.0, "theta": 2.0, "dhr": 3.0},
    )
    assert ranking(bt.table, exclude=ORIGINS[0]) == ["dhr", "theta", "naive"]
    assert ranking(bt.table, exclude=ORIGINS[1]) == ["naive", "theta", "dhr"]
    add_ensembles(bt, ["mean_top2"], 52, (80,))
    by_origin = bt.forecasts["mean_top2"]
    assert by_origin[ORIGINS[0]].mean[0] == pytest.approx(2.5)  # dhr and theta
    assert by_origin[ORIGINS[1]].mean[0] == pytest.approx(1.5)  # naive and theta
    scored = bt.table[bt.table["candidate"] == "mean_top2"]
    assert len(scored) == 2 and scored["mase"].notna().all()
    assert members(bt, "mean_top2") == ["naive", "dhr"]  # over both origins, ties by order


def test_an_ensemble_needs_k_candidates():
    bt = backtest_of({"naive": [1.0, 1.0], "theta": [1.0, 1.0]}, {"naive": 1.0, "theta": 1.0})
    add_ensembles(bt, ["median_top3"], 52, (80,))
    assert "median_top3" not in bt.forecasts and "fewer than 3" in bt.failures["median_top3"]


def test_an_ensemble_is_fitted_from_its_best_members_and_served(tmp_path):
    series = seasonal_series(300, seed=5)
    config = fit_config(
        Settings(), horizon=13, candidates=("snaive", "dhr", "theta"), ensembles=("mean_top3",)
    )
    fit = fit_title(series, config)
    assert "mean_top3" in fit.scores
    plan = config.plan(len(series))
    spec, failure = fit_selected("mean_top3", series, fit.backtest, plan)
    assert failure is None and spec.family == "ensemble" and spec.method == "mean"
    assert [m.family for m in spec.members] == members(fit.backtest, "mean_top3")
    bundle = Bundle(spec, series)
    parts = [Bundle(m, series).forecast(8)["mean"] for m in spec.members]
    np.testing.assert_allclose(bundle.forecast(8)["mean"], np.mean(parts, axis=0))
    loaded = read_bundle(write_bundle(bundle, tmp_path / "b"))
    pd.testing.assert_frame_equal(loaded.forecast(8, (80,)), bundle.forecast(8, (80,)))
