"""Registered versions: their tags, aliases and history, and their bundles read back by
alias or version and through MLflow's pyfunc loader."""

import json

import mlflow
import pandas as pd
import pytest
from support.registry import (
    FINGERPRINT,
    ISBN_A,
    ISBN_B,
    mlflow_uris,
    train,
    with_holdout_mase,
)

from shelfcast import registry
from shelfcast.settings import Settings

LEVELS = Settings().serving.levels  # the pyfunc's default levels


def test_registration_tags_aliases_and_history(settings, client, fits):
    run = train(settings, fits)
    for reg in run.registrations:
        fit = next(f for f in fits if f.key == reg.isbn)
        assert reg.model_name == f"arima_book_{reg.isbn}" == registry.model_name(reg.isbn)
        assert (reg.version, reg.promoted, reg.champion_version) == ("1", True, "1")
        assert reg.reason == "no champion yet"
        assert reg.seconds > 0 and set(reg.timings) == {"prepare", "tracking", "registry"}
        model = client.get_registered_model(reg.model_name)
        assert registry.aliases(model) == {"champion": "1", "challenger": "1"}
        assert model.tags["isbn"] == reg.isbn
        (entry,) = json.loads(model.tags["champion_history"])
        assert entry["version"] == "1" and entry["reason"].startswith("gate: no champion")
        version = client.get_model_version(reg.model_name, "1")
        assert version.run_id == reg.run_id
        assert version.source.endswith("/artifacts/model")
        tags = version.tags
        h = fit.bundle.history
        assert tags["isbn"] == reg.isbn
        assert tags["title"] == h.title
        assert tags["model_family"] == fit.bundle.family
        assert tags["training_window"] == f"{h.start.date()}..{h.end.date()} ({len(h)} weeks)"
        assert float(tags["backtest_mase"]) == pytest.approx(fit.selected_mase, rel=1e-5)
        assert float(tags["baseline_mase"]) == pytest.approx(fit.baseline_mase, rel=1e-5)
        assert float(tags["holdout_mase"]) == pytest.approx(
            fit.holdout[fit.selected]["mase"], rel=1e-5
        )
        assert tags["data_fingerprint"] == FINGERPRINT
        assert tags["training_run"] == run.parent_run_id
        assert tags["promotion_decision"] == "promoted"
        assert tags["previous_champion"] == "none"
        assert version.current_stage in (None, "None")  # aliases only, no stages


def test_pyfunc_loads_from_the_registry_and_predicts_the_bundles_forecast(settings, fits):
    train(settings, fits[:1])
    name = registry.model_name(ISBN_A)
    expected = fits[0].bundle.forecast(8, LEVELS)
    with mlflow_uris(settings.tracking_uri):
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        got = model.predict(pd.DataFrame({"horizon": [8]}))
    assert list(got.columns) == ["week_ending", "mean", "lo_80", "hi_80", "lo_95", "hi_95"]
    pd.testing.assert_frame_equal(got, expected)
    narrow = model.predict(pd.DataFrame({"horizon": [4]}), params={"levels": [50]})
    pd.testing.assert_frame_equal(narrow, fits[0].bundle.forecast(4, levels=(50,)))
    assert model.metadata.flavors["python_function"]["loader_module"] == "shelfcast.mlflow_model"


def test_load_bundle_round_trip_by_alias_and_version(settings, fits):
    train(settings, fits)
    for fit in fits:
        name = registry.model_name(fit.key)
        for ref in ("champion", "challenger", "1", "v1"):
            bundle = registry.load_bundle(settings, name, ref)
            assert bundle.model == fit.bundle.model
            assert bundle.key == fit.key
            pd.testing.assert_frame_equal(
                bundle.forecast(12, LEVELS), fit.bundle.forecast(12, LEVELS)
            )
    # a bare ISBN names the model too
    assert registry.load_bundle(settings, ISBN_B).model == fits[1].bundle.model


def test_list_and_show(settings, fits, refit):
    assert registry.list_models(settings).empty
    train(settings, fits)
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="2")
    frame = registry.list_models(settings)
    assert list(frame.columns) == registry.LIST_COLUMNS
    frame = frame.set_index("isbn")
    row = frame.loc[ISBN_A]
    assert (row["latest_version"], row["champion"], row["challenger"]) == ("2", "1", "2")
    assert row["title"] == "The Alchemist"
    assert row["family"] == fits[0].bundle.family
    assert row["backtest_mase"] == pytest.approx(fits[0].selected_mase, rel=1e-5)

    info = registry.show_model(settings, ISBN_A)
    assert info["name"] == registry.model_name(ISBN_A)
    assert info["aliases"] == {"champion": "1", "challenger": "2"}
    assert [v["version"] for v in info["versions"]] == ["2", "1"]
    assert info["versions"][0]["aliases"] == ["challenger"]
    assert info["versions"][0]["tags"]["promotion_decision"] == "kept"
    assert [e["version"] for e in info["champion_history"]] == ["1"]
