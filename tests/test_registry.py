"""MLflow tracking and the model registry against a SQLite store in a temporary folder."""

import os

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

import dataclasses
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from support.registry import (
    CONFIG,
    FINGERPRINT,
    ISBN_A,
    ISBN_B,
    frame_of,
    train,
    weekly,
    with_holdout_mase,
)
from typer.testing import CliRunner

from shelfcast import registry
from shelfcast.cli import app
from shelfcast.errors import ForecastError
from shelfcast.forecasting import fit_title
from shelfcast.forecasting.families.snaive import SnaiveSpec
from shelfcast.forecasting.metrics import mase
from shelfcast.mlflow_model import BundleModel, PyfuncWriter, save_pyfunc

runner = CliRunner()


@pytest.fixture
def client(settings) -> MlflowClient:
    return MlflowClient(settings.tracking_uri, settings.tracking_uri)


def incumbent_score(fit_old, fit_new) -> float:
    """The old champion's MASE on the new fit's holdout weeks, computed here independently."""
    weeks = fit_new.bundle.evaluation["holdout"]["weeks"]
    history = fit_new.bundle.history
    before = history.head(len(history) - weeks)
    old = registry.Bundle(model=fit_old.bundle.model, history=before)
    forecast = old.forecast(weeks)["mean"].to_numpy()
    return mase(history.values[-weeks:], forecast, before.values, 52)


# ---------------------------------------------------------------------------- tracking


def test_training_run_has_a_parent_with_dataset_and_a_nested_run_per_title(settings, client, fits):
    progressed = []
    run = train(settings, fits, pipeline_run="book_sales_training-1", progress=progressed.append)

    assert run.tracking_uri == settings.tracking_uri
    assert run.failures == {}
    assert sorted(f.key for f in progressed) == [ISBN_B, ISBN_A]
    experiment = client.get_experiment(run.experiment_id)
    assert experiment.name == "book_sales_development"
    assert experiment.artifact_location.startswith((settings.home / "mlartifacts").as_uri())

    parent = client.get_run(run.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["data_fingerprint"] == FINGERPRINT
    assert parent.data.tags["git_commit"] == registry.git_commit()
    assert parent.data.tags["mlflow.source.git.commit"] == registry.git_commit()
    assert parent.data.tags["zenml_pipeline_run"] == "book_sales_training-1"
    assert parent.data.params["settings.environment"] == "development"
    assert parent.data.params["settings.n_origins"] == "3"
    assert json.loads(parent.data.params["settings.default_test_isbns"]) == [ISBN_A, ISBN_B]
    assert parent.data.metrics["counts/in_data"] == 500
    assert parent.data.metrics["counts/fitted"] == 2
    assert parent.data.metrics["titles_registered"] == 2

    (dataset_input,) = parent.inputs.dataset_inputs
    dataset = dataset_input.dataset
    assert dataset.name == registry.DATASET_NAME
    assert dataset.digest == FINGERPRINT[:36]
    assert "/data/bookscan_weekly.parquet" in dataset.source
    assert json.loads(dataset.profile)["num_rows"] == len(frame_of(fits))
    schema_columns = {c["name"] for c in json.loads(dataset.schema)["mlflow_colspec"]}
    assert schema_columns == {"week_ending", "volume", "isbn"}
    assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"

    children = client.search_runs(
        [run.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.parent_run_id}'"
    )
    assert sorted(c.data.tags["isbn"] for c in children) == [ISBN_B, ISBN_A]
    for child in children:
        fit = next(f for f in fits if f.key == child.data.tags["isbn"])
        data = child.data
        assert child.info.status == "FINISHED"
        assert child.info.run_name == fit.key
        assert data.tags["title"] == fit.bundle.history.title
        assert data.tags["training_start"] == fit.bundle.history.start.date().isoformat()
        assert data.tags["training_end"] == fit.bundle.history.end.date().isoformat()
        assert data.tags["training_weeks"] == str(len(fit.bundle.history))
        assert data.params["model.family"] == fit.bundle.family
        assert data.params["champion"] == fit.champion
        assert data.params["candidates"] == "snaive,theta"
        assert data.metrics["backtest_mase"] == pytest.approx(fit.champion_mase)
        assert data.metrics["baseline_mase"] == pytest.approx(fit.baseline_mase)
        assert data.metrics["holdout_mase"] == pytest.approx(fit.holdout[fit.champion]["mase"])
        assert data.metrics["baseline/mase"] == pytest.approx(fit.baseline_mase)
        assert data.metrics["backtest_mean/theta/wape"] == pytest.approx(
            fit.backtest.summary().loc["theta", "wape"]
        )
        # one value per origin, step = origin index (oldest first)
        history = client.get_metric_history(child.info.run_id, "backtest/theta/mase")
        table = fit.backtest.table.sort_values("origin")
        expected = table[table["candidate"] == "theta"]["mase"].tolist()
        assert [m.step for m in sorted(history, key=lambda m: m.step)] == [0, 1]
        assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(expected)

        files = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"forecast.html", "backtest.csv", "model"} <= files
        local = Path(client.download_artifacts(child.info.run_id, "", str(settings.home / "dl")))
        html = (local / "forecast.html").read_text()
        assert "cdn.plot.ly" in html and len(html) < 200_000
        table_back = pd.read_csv(local / "backtest.csv")
        assert len(table_back) == len(fit.backtest.table)
        assert set(table_back["candidate"]) == {"snaive", "theta"}
        assert (local / "model" / "MLmodel").exists()
        shutil.rmtree(settings.home / "dl")


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
        assert float(tags["backtest_mase"]) == pytest.approx(fit.champion_mase, rel=1e-5)
        assert float(tags["baseline_mase"]) == pytest.approx(fit.baseline_mase, rel=1e-5)
        assert float(tags["holdout_mase"]) == pytest.approx(
            fit.holdout[fit.champion]["mase"], rel=1e-5
        )
        assert tags["data_fingerprint"] == FINGERPRINT
        assert tags["training_run"] == run.parent_run_id
        assert tags["promotion_decision"] == "promoted"
        assert tags["previous_champion"] == "none"
        assert version.current_stage in (None, "None")  # aliases only, no stages


def test_pyfunc_loads_from_the_registry_and_predicts_the_bundles_forecast(settings, fits):
    train(settings, fits[:1])
    name = registry.model_name(ISBN_A)
    expected = fits[0].bundle.forecast(8)
    old_tracking, old_registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_registry_uri(settings.tracking_uri)
    try:
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        got = model.predict(pd.DataFrame({"horizon": [8]}))
    finally:
        mlflow.set_tracking_uri(old_tracking)
        mlflow.set_registry_uri(old_registry)
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
            pd.testing.assert_frame_equal(bundle.forecast(12), fit.bundle.forecast(12))
    # a bare ISBN names the model too
    assert registry.load_bundle(settings, ISBN_B).model == fits[1].bundle.model


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
    strict = dataclasses.replace(settings, promotion_min_improvement=0.5)
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
    assert registry.decide(fit, None, None, 0.0) == registry.GateDecision(True, "no champion yet")

    def broken() -> SnaiveSpec:
        raise registry.BundleError("bundle.json is missing")

    decision = registry.decide(fit, broken, "4", 0.0)
    assert decision.promote and "champion v4 could not be scored" in decision.reason
    flat = with_holdout_mase(fit, float("nan"))  # MASE undefined: MAE decides
    naive = SnaiveSpec(season_length=52, sigma2=100.0)
    decision = registry.decide(flat, lambda: naive, "4", 0.0)
    assert decision.metric == "mae" and decision.incumbent_score > 0
    assert "MAE" in decision.reason


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


def test_manual_promotion_and_errors_for_unknown_names(settings, client, fits, refit):
    first = fits[0]
    name = registry.model_name(ISBN_A)
    train(settings, [first])
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="2")  # v2 kept
    registry.promote(settings, name, "2", reason="holiday model")
    model = client.get_registered_model(name)
    assert registry.aliases(model)["champion"] == "2"
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
    assert issubclass(registry.ModelNotFound, registry.ShelfcastError)


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
    assert row["backtest_mase"] == pytest.approx(fits[0].champion_mase, rel=1e-5)

    info = registry.show_model(settings, ISBN_A)
    assert info["name"] == registry.model_name(ISBN_A)
    assert info["aliases"] == {"champion": "1", "challenger": "2"}
    assert [v["version"] for v in info["versions"]] == ["2", "1"]
    assert info["versions"][0]["aliases"] == ["challenger"]
    assert info["versions"][0]["tags"]["promotion_decision"] == "kept"
    assert [e["version"] for e in info["champion_history"]] == ["1"]


def test_a_title_that_fails_is_reported_and_the_others_registered(
    settings, client, fits, monkeypatch
):
    real = registry._write_title_files

    def flaky(fit, folder, writer):
        if fit.key == ISBN_B:
            raise OSError("disk full")
        return real(fit, folder, writer)

    monkeypatch.setattr(registry, "_write_title_files", flaky)
    run = train(settings, fits)
    assert [r.isbn for r in run.registrations] == [ISBN_A]
    assert "disk full" in run.failures[ISBN_B]
    assert client.get_run(run.parent_run_id).info.status == "FAILED"
    with pytest.raises(registry.RegistryError, match="no title could be registered"):
        train(settings, fits[1:])


# ---------------------------------------------------------------------------- the pyfunc module


def test_bundle_model_reads_horizon_from_frames_dicts_records_and_params(fits):
    bundle = fits[0].bundle
    model = BundleModel(bundle)
    expected = bundle.forecast(5)
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame({"horizon": [5]})), expected)
    pd.testing.assert_frame_equal(model.predict({"horizon": 5}), expected)
    pd.testing.assert_frame_equal(model.predict([{"horizon": 3}, {"horizon": 5}]), expected)
    pd.testing.assert_frame_equal(model.predict(pd.DataFrame(), params={"horizon": 5}), expected)
    levels = model.predict({"horizon": 5}, params={"levels": [50, 90]})
    assert list(levels.columns) == ["week_ending", "mean", "lo_50", "hi_50", "lo_90", "hi_90"]
    with pytest.raises(ForecastError, match="whole number"):
        model.predict({"horizon": 2.5})
    with pytest.raises(ForecastError, match="between 1 and"):
        model.predict({"horizon": 0})


def test_the_writer_writes_what_save_model_writes(tmp_path, fits):
    bundle = fits[1].bundle
    direct = save_pyfunc(bundle, tmp_path / "direct")
    with PyfuncWriter() as writer:
        writer.write(fits[0].bundle, tmp_path / "first")
        cloned = writer.write(bundle, tmp_path / "cloned")

    def files(root):
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())

    assert files(direct) == files(cloned)
    for name in ("requirements.txt", "conda.yaml", "python_env.yaml", "data/bundle/bundle.json"):
        if name == "data/bundle/bundle.json":
            a = json.loads((direct / name).read_text())
            b = json.loads((cloned / name).read_text())
            assert {**a, "created_at": ""} == {**b, "created_at": ""}
        else:
            assert (direct / name).read_text() == (cloned / name).read_text()
    volatile = {"model_uuid", "utc_time_created"}
    a = yaml.safe_load((direct / "MLmodel").read_text())
    b = yaml.safe_load((cloned / "MLmodel").read_text())
    assert {k: v for k, v in a.items() if k not in volatile} == {
        k: v for k, v in b.items() if k not in volatile
    }
    assert "pickle" not in " ".join(files(cloned)) and "pkl" not in " ".join(files(cloned))
    requirements = (cloned / "requirements.txt").read_text().split()
    assert requirements[0].startswith("shelfcast") and any(
        r.startswith("mlflow==") for r in requirements
    )
    loaded = mlflow.pyfunc.load_model(str(cloned))
    pd.testing.assert_frame_equal(
        loaded.predict(pd.DataFrame({"horizon": [4]})), bundle.forecast(4)
    )


# ---------------------------------------------------------------------------- the command line


def test_cli_list_show_promote_rollback(cli_home, fits, refit):
    train(cli_home, fits)
    train(cli_home, [with_holdout_mase(refit, 99.0)], fingerprint="2")

    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert (
        "arima_book_9780722532935" in result.output and "arima_book_9780241003008" in result.output
    )
    assert "models" in result.output and "with a champion" in result.output

    result = runner.invoke(app, ["models", "show", ISBN_A])
    assert result.exit_code == 0, result.output
    assert "v2" in result.output and "kept" in result.output and "challenger" in result.output

    result = runner.invoke(app, ["models", "promote", ISBN_A, "2", "--reason", "test"])
    assert result.exit_code == 0, result.output
    assert "v1 -> v2" in result.output
    result = runner.invoke(app, ["models", "rollback", "arima_book_9780722532935"])
    assert result.exit_code == 0, result.output
    assert "v2 -> v1" in result.output

    result = runner.invoke(app, ["models", "rollback", ISBN_A])
    assert result.exit_code == 1
    assert "no previous champion" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    "args",
    [["show", "arima_book_9780000000002"], ["promote", ISBN_A, "7"], ["rollback", "nope"]],
)
def test_cli_unknown_names_exit_1_with_a_clear_message(cli_home, fits, args):
    train(cli_home, fits[:1])
    result = runner.invoke(app, ["models", *args])
    assert result.exit_code == 1
    assert "error:" in result.output and "Traceback" not in result.output
    assert ("no registered model named" in result.output) or ("has no version" in result.output)


def test_cli_help_has_examples():
    for command in ("list", "show", "promote", "rollback"):
        result = runner.invoke(app, ["models", command, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_the_forecast_page_is_plotlys_cdn_page(fits):
    import re

    from shelfcast.plots import title_figure

    figure = title_figure(fits[0], fits[0].bundle.forecast(32))
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    ours = ids.sub("ID", registry._cdn_html(figure))
    assert ours == ids.sub("ID", figure.to_html(include_plotlyjs="cdn", full_html=True))
    assert 'integrity="sha256-' in ours and len(ours) < 100_000


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
