"""Retraining from a report: which titles, the training data extended by the actuals, and
(slow) the whole cycle through the real pipeline: train, package, ingest shifted actuals,
report, retrain only the alerting title."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
from support.monitoring import (
    ISBN_A,
    ISBN_C,
    ISBNS,
    SHIFTED,
    TITLES,
    TRAIN_WEEKS,
    bookscan_actuals,
    write_csv,
)
from typer.testing import CliRunner

from shelfcast.catalog.reader import read_sales
from shelfcast.catalog.series import weekly_series
from shelfcast.cli import app
from shelfcast.monitoring.actuals import ingest_actuals
from shelfcast.monitoring.paths import actuals_path, training_data_dir
from shelfcast.monitoring.report import latest_report_path, read_report
from shelfcast.monitoring.retrain import (
    RetrainError,
    extended_training_data,
    plan_retraining,
    retraining_settings,
)

runner = CliRunner()


def test_the_plan_retrains_titles_whose_alerts_say_retrain_and_lists_the_others():
    report = {
        "alerts": [
            {"isbn": ISBN_A, "rule": "level_shift", "action": "retrain"},
            {"isbn": ISBN_A, "rule": "bias", "action": "investigate"},
            {"isbn": ISBN_C, "rule": "worse_than_previous", "action": "roll back"},
            {"isbn": SHIFTED, "rule": "bias", "action": "investigate"},
        ]
    }
    plan = plan_retraining(report)
    assert plan.retrain == {ISBN_A: ["level_shift"]}
    assert plan.other == {
        ISBN_C: ["worse_than_previous: roll back"],
        SHIFTED: ["bias: investigate"],
    }
    assert plan_retraining({"alerts": []}).retrain == {}


def training_file(catalogue, folder: Path) -> str:
    """The training weeks of the three titles as one BookScan parquet file."""
    rows = [
        pd.DataFrame(
            {
                "ISBN": isbn,
                "Title": TITLES[isbn],
                "End Date": s.dates[:TRAIN_WEEKS],
                "Volume": s.values[:TRAIN_WEEKS],
            }
        )
        for isbn, s in catalogue.series.items()
    ]
    path = folder / "training" / "sales.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.concat(rows, ignore_index=True).to_parquet(path, index=False)
    return str(path)


def test_training_data_extended_by_the_actuals(project, catalogue, tmp_path):
    settings = project.replace(data={"paths": (training_file(catalogue, tmp_path),)})
    with pytest.raises(RetrainError, match="no actual sales"):
        extended_training_data(settings)
    actuals = bookscan_actuals(catalogue, {SHIFTED: 3.0})
    last_training_week = catalogue.series[ISBN_A].dates[TRAIN_WEEKS - 1]
    correction = pd.DataFrame(
        {
            "ISBN": [ISBN_A],
            "Title": [TITLES[ISBN_A]],
            "End Date": [f"{last_training_week:%d/%m/%Y}"],
            "Volume": [9999.0],
        }
    )
    frame = pd.concat([actuals, correction], ignore_index=True)
    ingest_actuals([write_csv(frame, tmp_path / "a.csv")], actuals_path(settings))
    path = extended_training_data(settings)
    assert path.parent == training_data_dir(settings)
    sales = read_sales([str(path)])  # valid training data, as the pipeline reads it
    series = {s.key: s for s in weekly_series(sales, start=None)}
    assert set(series) == set(ISBNS)
    a = series[ISBN_A]
    assert len(a) == TRAIN_WEEKS + 12
    assert a.values[TRAIN_WEEKS - 1] == 9999.0  # the actual corrects the training week
    assert (
        a.values[: TRAIN_WEEKS - 1].tolist()
        == catalogue.series[ISBN_A].values[: TRAIN_WEEKS - 1].tolist()
    )
    shifted = catalogue.actual_weeks(SHIFTED)["volume"].to_numpy()
    assert series[SHIFTED].values[TRAIN_WEEKS:].tolist() == (shifted * 3.0).round().tolist()
    assert series[SHIFTED].title == TITLES[SHIFTED]
    again = retraining_settings(settings)
    assert again.data.paths == (str(path),)  # the same content: the same file, and no other
    assert again.registry.promotion_min_improvement == -settings.monitoring.retrain_tolerance
    assert [p.name for p in training_data_dir(settings).iterdir()] == [path.name]


# --------------------------------------------------------------------- the whole cycle

ZENML_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "DEPLOYMENT_ENV",
    "ZENML_STORE_URL",
    "ZENML_STORE_API_KEY",
    "ZENML_ACTIVE_STACK_ID",
    "ZENML_ACTIVE_PROJECT_ID",
)


def _reset_zenml() -> None:
    if "zenml.client" in sys.modules:
        from zenml.client import Client
        from zenml.config.global_config import GlobalConfiguration

        GlobalConfiguration._reset_instance()
        Client._reset_instance()


@pytest.mark.slow
def test_retrain_if_needed_retrains_only_the_alerting_title_through_the_pipeline(
    project, catalogue, tmp_path, monkeypatch
):
    from mlflow import MlflowClient

    from shelfcast.packaging import package
    from shelfcast.settings import load_settings
    from shelfcast.training import run_training
    from shelfcast.training.zenml_env import DEFAULTS, zenml_environment

    for name in ZENML_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**DEFAULTS, **zenml_environment(project)}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SHELFCAST_DATA__PATHS", training_file(catalogue, tmp_path))
    monkeypatch.setenv("DEPLOYMENT_ENV", "testing")
    monkeypatch.setenv("SHELFCAST_TRAINING__WORKERS", "1")
    monkeypatch.setenv("SHELFCAST_BACKTEST__N_ORIGINS", "1")
    _reset_zenml()
    try:
        settings = load_settings()
        first = run_training(settings, isbns=list(ISBNS))
        assert {t.isbn for t in first.trained} == set(ISBNS)
        release = package(settings).release
        shifted = bookscan_actuals(catalogue, {SHIFTED: 3.0})
        ingest = runner.invoke(app, ["monitor", "actuals", write_csv(shifted, tmp_path / "a.csv")])
        assert ingest.exit_code == 0, ingest.output
        report = runner.invoke(app, ["monitor", "report", "--release", release.release_id])
        assert report.exit_code == 3, report.output
        plan = plan_retraining(read_report(latest_report_path(settings)))
        assert SHIFTED in plan.retrain and "level_shift" in plan.retrain[SHIFTED]
        result = runner.invoke(app, ["monitor", "retrain-if-needed"])
        assert result.exit_code == 0, result.output
        assert f"{len(plan.retrain)} title(s) trained" in result.output
        client = MlflowClient(
            tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri
        )
        for isbn in ISBNS:
            name = f"arima_book_{isbn}"
            found = sorted(str(v.version) for v in client.search_model_versions(f"name='{name}'"))
            assert found == (["1", "2"] if isbn in plan.retrain else ["1"])
        # The gate scores both versions from before the shift, so they tie; a retrain after
        # an alert wins a tie (within the retraining tolerance) and takes `champion`.
        tags = client.get_model_version(f"arima_book_{SHIFTED}", "2").tags
        assert tags["promotion_decision"] == "promoted", tags["promotion_reason"]
        assert "needs < 1.05 x" in tags["promotion_reason"]
        champion = client.get_model_version_by_alias(f"arima_book_{SHIFTED}", "champion")
        assert str(champion.version) == "2"
        data = [p.name for p in training_data_dir(settings).iterdir()]
        assert len(data) == 1 and data[0].startswith("sales-")
    finally:
        _reset_zenml()
        os.environ.pop("SHELFCAST_DATA__PATHS", None)
