"""The training run in MLflow: a parent run with the dataset, a nested run per title, and a
title that fails reported while the others are registered (SQLite store in a temporary
folder)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from support.registry import FINGERPRINT, ISBN_A, ISBN_B, frame_of, train

from shelfcast import registry
from shelfcast.registry import runs, title_record, title_run
from shelfcast.settings import Settings

LEVELS = Settings().serving.levels  # the pyfunc's default levels


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
    assert parent.data.params["settings.backtest.n_origins"] == "3"
    params = parent.data.params
    assert json.loads(params["settings.selection.default_test_isbns"]) == [ISBN_A, ISBN_B]
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
        assert data.params["selected_family"] == fit.selected
        assert data.params["candidates"] == "mean_top2,snaive,theta"
        assert data.metrics["backtest_mase"] == pytest.approx(fit.selected_mase)
        assert data.metrics["baseline_mase"] == pytest.approx(fit.baseline_mase)
        assert data.metrics["holdout_mase"] == pytest.approx(fit.holdout[fit.selected]["mase"])
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
        assert set(table_back["candidate"]) == {"snaive", "theta", "mean_top2"}
        assert (local / "model" / "MLmodel").exists()
        shutil.rmtree(settings.home / "dl")


def test_a_title_that_fails_is_reported_and_the_others_registered(
    settings, client, fits, monkeypatch
):
    real = title_record.write_title_files

    def flaky(fit, folder, writer, serving):
        if fit.key == ISBN_B:
            raise OSError("disk full")
        return real(fit, folder, writer, serving)

    monkeypatch.setattr(title_run, "write_title_files", flaky)
    run = train(settings, fits)
    assert [r.isbn for r in run.registrations] == [ISBN_A]
    assert "disk full" in run.failures[ISBN_B]
    assert client.get_run(run.parent_run_id).info.status == "FAILED"
    with pytest.raises(registry.RegistryError, match="no title could be registered"):
        train(settings, fits[1:])


def test_the_forecast_page_is_plotlys_cdn_page(fits):
    import re

    from shelfcast.plots import title_figure

    figure = title_figure(fits[0], fits[0].bundle.forecast(32, LEVELS))
    ids = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
    ours = ids.sub("ID", title_record.cdn_html(figure))
    assert ours == ids.sub("ID", figure.to_html(include_plotlyjs="cdn", full_html=True))
    assert 'integrity="sha256-' in ours and len(ours) < 100_000


@pytest.mark.parametrize(
    "source, kind, described",
    [
        ("gs://bucket/sales.parquet", "gs", {"uri": "gs://bucket/sales.parquet"}),
        ("a.parquet, b.parquet", "code", {"tags": {"source": "a.parquet, b.parquet"}}),
        ("", "code", {"tags": {"source": "unknown"}}),
        ("weird:thing", "code", {"tags": {"source": "weird:thing"}}),  # no source MLflow knows
    ],
)
def test_the_dataset_source_is_mlflows_for_one_file_else_the_text(fits, source, kind, described):
    found = runs.dataset_input(frame_of(fits), source, FINGERPRINT)
    assert (found.dataset.source_type, json.loads(found.dataset.source)) == (kind, described)
    assert found.dataset.name == registry.DATASET_NAME
    assert {t.key: t.value for t in found.tags} == {
        "mlflow.data.context": "training",
        "fingerprint": FINGERPRINT,
    }
