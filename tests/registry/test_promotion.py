"""The promotion gate on registered versions, manual promotion and rollback (SQLite store
in a temporary folder). The gate's rules on plain data: test_gate.py."""

import dataclasses
import json

import pytest
from support.registry import CONFIG, ISBN_A, train, weekly, with_holdout_mase

from shelfcast import registry
from shelfcast.errors import ShelfcastError
from shelfcast.forecasting import fit_title
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.forecasting.metrics import mase


def incumbent_score(fit_old, fit_new) -> float:
    """The old champion's MASE on the new fit's holdout weeks, computed here independently."""
    weeks = fit_new.bundle.evaluation["holdout"]["weeks"]
    history = fit_new.bundle.history
    before = history.head(len(history) - weeks)
    old = Bundle(model=fit_old.bundle.model, history=before)
    forecast = old.forecast(weeks)["mean"].to_numpy()
    return mase(history.values[-weeks:], forecast, before.values, CONFIG.season_length)


# ---------------------------------------------------------------------------- the gate


def test_a_worse_challenger_keeps_the_champion(settings, client, fits, refit):
    first = fits[0]
    train(settings, [first])
    worse = with_holdout_mase(refit, 50.0)
    (reg,) = train(settings, [worse], fingerprint="second").registrations
    name = registry.model_name(ISBN_A)
    assert (reg.version, reg.promoted, reg.champion_version) == ("2", False, "1")
    assert "does not beat champion v1" in reg.reason
    assert registry.aliases(client.get_registered_model(name)) == {
        "champion": "1",
        "challenger": "2",
    }
    tags = client.get_model_version(name, "2").tags
    assert tags["promotion_decision"] == "kept"
    assert tags["previous_champion"] == "1"
    assert tags["promotion_reason"] == reg.reason
    assert tags["gate_metric"] == "mase"
    assert float(tags["gate_challenger_score"]) == 50.0
    # the champion was scored on the same newest weeks, from the new history before them
    assert float(tags["gate_incumbent_score"]) == pytest.approx(
        incumbent_score(first, worse), rel=1e-5
    )
    assert len(json.loads(client.get_registered_model(name).tags["champion_history"])) == 1


def test_a_better_challenger_takes_the_champion(settings, client, fits, refit):
    first = fits[0]
    train(settings, [first])
    better = with_holdout_mase(refit, 0.01)
    (reg,) = train(settings, [better], fingerprint="second").registrations
    name = registry.model_name(ISBN_A)
    assert (reg.version, reg.promoted, reg.champion_version) == ("2", True, "2")
    assert "beats champion v1" in reg.reason
    model = client.get_registered_model(name)
    assert registry.aliases(model) == {"champion": "2", "challenger": "2"}
    assert [e["version"] for e in json.loads(model.tags["champion_history"])] == ["1", "2"]
    tags = client.get_model_version(name, "2").tags
    assert (tags["promotion_decision"], tags["previous_champion"]) == ("promoted", "1")


def test_the_gate_demands_the_configured_improvement(settings, client, fits, refit):
    first = fits[0]
    train(settings, [first])
    strict = settings.replace(registry={"promotion_min_improvement": 0.5})
    slightly_better = with_holdout_mase(refit, 0.9 * incumbent_score(first, refit))
    (reg,) = train(strict, [slightly_better], fingerprint="second").registrations
    assert not reg.promoted and "needs < 0.5 x" in reg.reason
    (reg,) = train(settings, [slightly_better], fingerprint="third").registrations
    assert reg.promoted  # without the margin, 10% better is enough


def test_an_identical_model_keeps_the_champion(settings, fits):
    train(settings, fits[:1])
    (reg,) = train(settings, fits[:1]).registrations  # a rerun on unchanged data
    assert (reg.version, reg.promoted, reg.champion_version) == ("2", False, "1")
    assert reg.reason == "same model as champion v1 (identical parameters); kept"


def test_the_decision_without_a_champion_or_with_a_broken_one():
    fit = fit_title(weekly(ISBN_A, 3), CONFIG)
    assert registry.decide(
        fit, None, None, 0.0, season_length=CONFIG.season_length
    ) == registry.GateDecision(True, "no champion yet")

    def broken() -> SnaiveSpec:
        raise registry.BundleError("bundle.json is missing")

    decision = registry.decide(fit, broken, "4", 0.0, season_length=CONFIG.season_length)
    assert decision.promote and "champion v4 could not be scored" in decision.reason
    flat = with_holdout_mase(fit, float("nan"))  # MASE undefined: MAE decides
    naive = SnaiveSpec(season_length=52, sigma2=100.0)
    decision = registry.decide(flat, lambda: naive, "4", 0.0, season_length=CONFIG.season_length)
    assert decision.metric == "mae" and decision.incumbent_score > 0
    assert "MAE" in decision.reason


def test_without_a_holdout_the_backtest_mase_decides_and_is_read_only_then():
    fit = fit_title(weekly(ISBN_A, 3), CONFIG)
    evaluation = {**fit.bundle.evaluation, "holdout": {"weeks": 0}}
    no_holdout = dataclasses.replace(
        fit, holdout={}, bundle=dataclasses.replace(fit.bundle, evaluation=evaluation)
    )

    def unreadable() -> dict:
        raise AssertionError("the champion's model is not needed without a window")

    decision = registry.decide(
        no_holdout, unreadable, "2", 0.0, lambda: 1e6, season_length=CONFIG.season_length
    )
    assert decision.promote and decision.metric == "backtest_mase"
    assert decision.reason.startswith("no holdout window; backtest MASE")
    decision = registry.decide(
        no_holdout, unreadable, "2", 0.0, lambda: None, season_length=CONFIG.season_length
    )
    assert not decision.promote and "no backtest MASE to compare with champion v2" in (
        decision.reason
    )
    read = []
    registry.decide(
        fit,
        lambda: fit.bundle.model,
        "2",
        0.0,
        lambda: read.append(1),
        season_length=CONFIG.season_length,
    )
    assert read == []  # with a window, the champion's backtest MASE is never fetched


# ---------------------------------------------------------------------------- promote, rollback


def test_rollback_walks_back_the_champions_and_then_refuses(settings, client, fits, refit):
    first = fits[0]
    name = registry.model_name(ISBN_A)
    train(settings, [first])
    train(settings, [with_holdout_mase(refit, 0.01)], fingerprint="2")  # v2 champion
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="3")  # v3 kept
    assert registry.aliases(client.get_registered_model(name)) == {
        "champion": "2",
        "challenger": "3",
    }

    assert registry.rollback(settings, name) == "1"
    model = client.get_registered_model(name)
    assert registry.aliases(model)["champion"] == "1"
    assert [e["version"] for e in json.loads(model.tags["champion_history"])] == ["1"]
    tags = client.get_model_version(name, "2").tags
    assert tags["rolled_back_to"] == "1" and tags["rolled_back_at"]
    with pytest.raises(registry.NoPreviousChampion, match="no previous champion"):
        registry.rollback(settings, name)
    assert registry.aliases(client.get_registered_model(name))["champion"] == "1"


def test_rollback_skips_versions_deleted_since(settings, client, fits, refit):
    name = registry.model_name(ISBN_A)
    train(settings, [fits[0]])
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="2")  # v2 kept
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="3")  # v3 kept
    registry.promote(settings, name, "2", reason="two")
    registry.promote(settings, name, "3", reason="three")  # history 1, 2, 3
    client.delete_model_version(name, "2")
    assert registry.rollback(settings, name) == "1"
    model = client.get_registered_model(name)
    assert registry.aliases(model)["champion"] == "1"
    assert [e["version"] for e in json.loads(model.tags["champion_history"])] == ["1"]


def test_manual_promotion_and_errors_for_unknown_names(settings, client, fits, refit):
    first = fits[0]
    name = registry.model_name(ISBN_A)
    train(settings, [first])
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="2")  # v2 kept
    registry.promote(settings, name, "2", reason="holiday model")
    model = client.get_registered_model(name)
    assert registry.aliases(model)["champion"] == "2"
    assert [e["reason"] for e in json.loads(model.tags["champion_history"])][-1] == (
        "manual: holiday model"
    )
    tags = client.get_model_version(name, "2").tags
    assert tags["promotion_reason"] == "manual: holiday model"
    assert tags["previous_champion"] == "1"
    assert registry.rollback(settings, ISBN_A) == "1"

    with pytest.raises(registry.VersionNotFound, match="no version '9'"):
        registry.promote(settings, name, "9")
    with pytest.raises(registry.ModelNotFound, match="arima_book_9780000000002"):
        registry.promote(settings, "9780000000002", "1")
    with pytest.raises(registry.ModelNotFound):
        registry.rollback(settings, "arima_book_nope")
    with pytest.raises(registry.VersionNotFound, match="no alias 'staging'"):
        registry.load_bundle(settings, name, "staging")
    assert issubclass(registry.ModelNotFound, ShelfcastError)


def test_a_version_without_a_bundle_is_a_bundle_error_and_loses_the_gate(
    settings, client, fits, refit
):
    train(settings, fits[:1])
    name = registry.model_name(ISBN_A)
    experiment = client.get_experiment_by_name(settings.experiment_name).experiment_id
    foreign = client.create_run(experiment)
    client.log_text(foreign.info.run_id, "not a bundle", "model/README.txt")
    source = f"{foreign.info.artifact_uri}/model"
    client.create_model_version(name, source, run_id=foreign.info.run_id)  # v2
    registry.promote(settings, name, "2", reason="someone else's model")
    with pytest.raises(registry.BundleError, match="holds no Shelfcast bundle"):
        registry.load_bundle(settings, name)
    (reg,) = train(settings, [refit], fingerprint="2").registrations
    assert (reg.version, reg.promoted) == ("3", True)
    assert "champion v2 could not be scored" in reg.reason
