"""Tracking and registry against a real `mlflow server` (HTTP, proxied artifacts)."""

import dataclasses
import json
import os
import statistics

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from support.registry import mlflow_uris

from shelfcast import registry
from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import fit_title
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
pytestmark = pytest.mark.integration

ISBNS = ("9781111111113", "9782222222226", "9783333333339")
CONFIG = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))


def weekly(isbn: str, seed: int, bump: float = 0.0) -> TitleSeries:
    rng = np.random.default_rng(seed)
    dates = pd.date_range("2019-01-05", periods=220, freq="W-SAT")
    doy = dates.dayofyear.to_numpy()
    peak = np.exp(-(((doy - 358) % 365) ** 2) / 80.0)
    values = rng.poisson((60.0 + 15 * seed) * (1 + 2 * peak)).astype(float)
    values[-1] += bump
    return TitleSeries(isbn, dates[0], values, title=f"Integration title {seed}")


@pytest.fixture(scope="module")
def fits():
    return [fit_title(weekly(isbn, i), CONFIG) for i, isbn in enumerate(ISBNS)]


@pytest.fixture(scope="module")
def refits():
    """The same titles after a correction to their latest week: new models."""
    return [fit_title(weekly(isbn, i, bump=30.0), CONFIG) for i, isbn in enumerate(ISBNS)]


def holdout_mase(fit, value):
    holdout = {k: dict(v) for k, v in fit.holdout.items()}
    holdout[fit.selected]["mase"] = value
    return dataclasses.replace(fit, holdout=holdout)


def log(settings, fits, fingerprint):
    frame = pd.concat([f.bundle.history.to_frame().assign(isbn=f.key) for f in fits])
    run = registry.log_training_run(
        settings,
        fits,
        fingerprint=fingerprint,
        dataset=frame,
        dataset_source="gs://shelfcast-data/bookscan/weekly.parquet",
        counts={"in_data": 3, "selected": 3, "fitted": 3, "failed": 0},
        pipeline_run="integration",
    )
    seconds = [r.seconds for r in run.registrations]
    print(
        f"\n{len(fits)} titles over HTTP: {run.seconds:.2f} s in all, "
        f"{run.seconds / len(fits) * 1000:.0f} ms per title wall; per title (in parallel) "
        f"median {statistics.median(seconds) * 1000:.0f} ms"
    )
    return run


def test_training_run_registry_and_gate_against_a_real_server(
    mlflow_server, tmp_path, fits, refits
):
    settings = Settings(
        home=tmp_path / "home",
        registry={"mlflow_tracking_uri": mlflow_server},
        environment="testing",
    )
    client = MlflowClient(mlflow_server, mlflow_server)

    run = log(settings, fits, "a" * 64)
    assert run.failures == {}
    assert sorted(r.isbn for r in run.registrations) == sorted(ISBNS)
    assert all(r.promoted and r.version == "1" for r in run.registrations)
    assert client.get_experiment(run.experiment_id).name == "book_sales_testing"

    parent = client.get_run(run.parent_run_id)
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["data_fingerprint"] == "a" * 64
    (dataset_input,) = parent.inputs.dataset_inputs
    assert dataset_input.dataset.digest == "a" * 36
    assert json.loads(dataset_input.dataset.source)["uri"].startswith("gs://shelfcast-data/")
    children = client.search_runs(
        [run.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.parent_run_id}'"
    )
    assert len(children) == 3 and all(c.info.status == "FINISHED" for c in children)
    child = children[0]
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= {
        "forecast.html",
        "backtest.csv",
        "model",
    }
    assert "model/MLmodel" in {a.path for a in client.list_artifacts(child.info.run_id, "model")}
    assert child.data.metrics["backtest_mase"] > 0

    for fit in fits:
        name = registry.model_name(fit.key)
        assert registry.aliases(client.get_registered_model(name)) == {
            "champion": "1",
            "challenger": "1",
        }
        version = client.get_model_version(name, "1")
        assert version.source.startswith("mlflow-artifacts:")
        assert version.tags["model_family"] == fit.bundle.family
        assert version.tags["data_fingerprint"] == "a" * 64
        bundle = registry.load_bundle(settings, name)
        pd.testing.assert_frame_equal(bundle.forecast(8), fit.bundle.forecast(8))

    name = registry.model_name(fits[0].key)
    with mlflow_uris(mlflow_server):
        model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
        got = model.predict(pd.DataFrame({"horizon": [8]}))
    levels = Settings().serving.levels  # the pyfunc model's default intervals
    pd.testing.assert_frame_equal(got, fits[0].bundle.forecast(8, levels))

    # second run: a better model, a worse one, and an unchanged one
    second = [holdout_mase(refits[0], 0.01), holdout_mase(refits[1], 99.0), fits[2]]
    run2 = log(settings, second, "b" * 64)
    by_isbn = {r.isbn: r for r in run2.registrations}
    better, worse, same = (by_isbn[isbn] for isbn in ISBNS)
    assert (better.version, better.promoted, better.champion_version) == ("2", True, "2")
    assert (worse.version, worse.promoted, worse.champion_version) == ("2", False, "1")
    assert (same.promoted, same.champion_version) == (False, "1")
    assert "does not beat champion v1" in worse.reason
    assert "same model" in same.reason
    kept = client.get_model_version(registry.model_name(ISBNS[1]), "2").tags
    assert (kept["promotion_decision"], kept["previous_champion"]) == ("kept", "1")
    assert registry.aliases(client.get_registered_model(registry.model_name(ISBNS[1]))) == {
        "champion": "1",
        "challenger": "2",
    }

    assert registry.rollback(settings, ISBNS[0]) == "1"
    assert registry.aliases(client.get_registered_model(name))["champion"] == "1"
    with pytest.raises(registry.NoPreviousChampion):
        registry.rollback(settings, ISBNS[0])

    listed = registry.list_models(settings).set_index("isbn")
    assert listed.loc[ISBNS[1], "champion"] == "1" and listed.loc[ISBNS[1], "challenger"] == "2"
    shown = registry.show_model(settings, ISBNS[0])
    assert [v["version"] for v in shown["versions"]] == ["2", "1"]


def test_missing_names_and_bundles_over_http(mlflow_server, tmp_path):
    settings = Settings(home=tmp_path / "home", registry={"mlflow_tracking_uri": mlflow_server})
    with pytest.raises(registry.ModelNotFound, match="no registered model named"):
        registry.load_bundle(settings, "9789999999991")
    client = MlflowClient(mlflow_server, mlflow_server)
    experiment = registry.experiment_id(client, settings)
    run = client.create_run(experiment)
    client.log_text(run.info.run_id, "not a bundle", "model/README.txt")
    client.create_registered_model("arima_book_foreign")
    client.create_model_version(
        "arima_book_foreign", f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    with pytest.raises(registry.BundleError, match="holds no Shelfcast bundle"):
        registry.load_bundle(settings, "arima_book_foreign", "1")
