"""The ZenML training pipeline, for real: a local ZenML store and an MLflow SQLite store in a
temporary project folder, two titles of the sample catalogue, a small fit configuration.

Runs in this order, sharing the stores: a cold run; a rerun on the same bytes under another
file name (cached, nothing registered); a run on changed data (trained and registered again);
invalid data; the `shelfcast train` command twice; the seed's `pipelines/zenml_pipeline.py`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from shelfcast.catalog.sample import write_sample
from shelfcast.errors import DataValidationError
from shelfcast.settings import Settings, load_settings
from shelfcast.training import TrainingSummary, run_training
from shelfcast.training.run import fit_config
from shelfcast.training.zenml_env import DEFAULTS, zenml_environment

REPO = Path(__file__).resolve().parents[1]
ISBNS = ("9780722532935", "9780241003008")  # the seed's two test titles
CONFIG = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta", "sarima"))
# every step but the two that always run (fingerprinting, linking the MLflow parent run)
CACHEABLE = {
    "validate_data",
    "build_series",
    "select_titles",
    "train_titles",
    "evaluate",
    "register",
}
ENV_VARIABLES = (
    "MLFLOW_TRACKING_URI",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "DEPLOYMENT_ENV",
    "SHELFCAST_SETTINGS",
    "ZENML_STORE_URL",
    "ZENML_STORE_API_KEY",
    "ZENML_ACTIVE_STACK_ID",
    "ZENML_ACTIVE_PROJECT_ID",
)


@dataclass
class Project:
    root: Path
    home: Path
    sample: Path  # the sample catalogue as parquet, outside the project folder

    def settings(self, data: Path | None = None, workers: int = 1):
        return load_settings(
            home=self.home,
            environment="testing",
            data={"paths": (str(data or self.sample),)},
            training={"workers": workers},
        )


def _reset_zenml() -> None:
    if "zenml.client" in sys.modules:
        from zenml.client import Client
        from zenml.config.global_config import GlobalConfiguration

        GlobalConfiguration._reset_instance()
        Client._reset_instance()


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    root = tmp_path_factory.mktemp("pipeline")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)  # no settings file or ZenML repository of the working tree
        for name in [*ENV_VARIABLES, *(k for k in os.environ if k.startswith("SHELFCAST_"))]:
            mp.delenv(name, raising=False)
        # what setup_zenml sets, so that it is all restored after the module
        for name, value in {**DEFAULTS, **zenml_environment(load_settings(home=home))}.items():
            mp.setenv(name, value)
        mp.setenv("SHELFCAST_HOME", str(home))
        _reset_zenml()
        write_sample(root / "data", fmt="parquet", seed=42)
        yield Project(root=root, home=home, sample=root / "data" / "bookscan_weekly.parquet")
        _reset_zenml()


PROGRESS: list[tuple[str, int, int, str]] = []  # what the first run reported


@pytest.fixture(scope="module")
def first(project) -> TrainingSummary:
    return run_training(
        project.settings(),
        isbns=ISBNS,
        config=CONFIG,
        progress=lambda *event: PROGRESS.append(event),
    )


@pytest.fixture(scope="module")
def rerun(project, first) -> TrainingSummary:
    """The same bytes under another name and folder, fitted with two processes this time."""
    copy = project.root / "renamed" / "weekly_sales_copy.parquet"
    copy.parent.mkdir()
    shutil.copyfile(project.sample, copy)
    return run_training(project.settings(copy, workers=2), isbns=ISBNS, config=CONFIG)


def mlflow_client(project):
    from mlflow import MlflowClient

    uri = project.settings().tracking_uri
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def versions(project, isbn: str) -> list[str]:
    found = mlflow_client(project).search_model_versions(f"name='arima_book_{isbn}'")
    return sorted(str(v.version) for v in found)


def run_metadata(run_id: str) -> dict:
    from zenml.client import Client

    return Client().get_pipeline_run(run_id).run_metadata


def test_first_run_trains_and_registers_every_title(project, first):
    assert first.status == "completed"
    assert first.cached_steps == []
    assert [t.isbn for t in first.trained] == list(ISBNS)
    assert first.failed == []
    for title in first.trained:
        assert title.selected in (*CONFIG.candidates, *CONFIG.ensembles)
        assert title.backtest_mase > 0 and title.baseline_mase > 0
        assert title.model_name == f"arima_book_{title.isbn}"
        assert (title.version, title.promoted, title.champion_version) == ("1", True, "1")
        assert versions(project, title.isbn) == ["1"]
        model = mlflow_client(project).get_registered_model(title.model_name)
        assert str(model.aliases.get("champion")) == "1"
    assert (first.registered_versions, first.aliases_moved) == (2, 2)
    assert first.fingerprint.startswith("sha256:")
    assert first.experiment_name == "book_sales_testing"
    times = first.timings()
    assert times["training"] > 0 and times["mlflow"] > 0 and times["zenml"] > 0


def test_the_steps_report_progress_to_the_run_that_started_them(first):
    stages = {stage for stage, *_ in PROGRESS}
    assert {"step", "train", "register"} <= stages
    trained = [(done, total, isbn) for stage, done, total, isbn in PROGRESS if stage == "train"]
    assert trained[-1][:2] == (len(ISBNS), len(ISBNS))
    assert {isbn for *_, isbn in trained if isbn} == set(ISBNS)


def test_each_run_links_its_mlflow_parent_run(project, first):
    metadata = run_metadata(first.run_id)
    assert metadata["mlflow"] == {
        "tracking_uri": project.settings().tracking_uri,
        "experiment_name": "book_sales_testing",
        "experiment_id": first.experiment_id,
        "parent_run_id": first.parent_run_id,
    }
    assert metadata["data_fingerprint"] == first.fingerprint
    parent = mlflow_client(project).get_run(first.parent_run_id)
    assert parent.data.tags["zenml_pipeline_run"] == first.run_name
    assert parent.data.tags["data_fingerprint"] == first.fingerprint


def test_artifacts_are_plain_files_not_pickles(first):
    from zenml.client import Client

    run = Client().get_pipeline_run(first.run_id)
    materializers = {
        f"{step}.{name}": artifact.materializer.import_path
        for step, step_run in run.steps.items()
        for name, artifacts in step_run.outputs.items()
        for artifact in artifacts
    }
    assert materializers["train_titles.training"].endswith("TrainingResultMaterializer")
    assert materializers["build_series.series"].endswith("SeriesSetMaterializer")
    assert materializers["validate_data.sales"].endswith("SalesTableMaterializer")
    assert not [k for k, v in materializers.items() if "cloudpickle" in v.lower()]


def test_zenml_command_lists_the_run(first):
    zenml = Path(sys.executable).with_name("zenml")
    out = subprocess.run(
        [str(zenml), "pipeline", "runs", "list", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert first.run_id in out.stdout, out.stdout + out.stderr


def test_rerun_on_the_same_bytes_is_cached_and_registers_nothing(project, first, rerun):
    assert rerun.fingerprint == first.fingerprint
    assert set(rerun.cached_steps) == CACHEABLE
    assert rerun.cached and not rerun.registered
    assert (rerun.registered_versions, rerun.aliases_moved) == (0, 0)
    for isbn in ISBNS:
        assert versions(project, isbn) == ["1"]
    # a cached run still names the MLflow parent run of the models it stands for
    assert rerun.parent_run_id == first.parent_run_id
    assert run_metadata(rerun.run_id)["mlflow"]["parent_run_id"] == first.parent_run_id
    assert rerun.timings()["training"] == 0 and rerun.timings()["mlflow"] == 0


def test_changed_data_trains_and_registers_a_new_version(project, rerun):
    sales = pd.read_parquet(project.sample)  # BookScan's headers
    row = (sales["ISBN"] == ISBNS[0]) & (sales["End Date"] == sales["End Date"].max())
    assert row.sum() == 1
    sales.loc[row, "Volume"] *= 3
    changed = project.root / "changed" / "bookscan_weekly.parquet"
    changed.parent.mkdir()
    sales.to_parquet(changed, index=False)

    summary = run_training(project.settings(changed), isbns=ISBNS, config=CONFIG)

    assert summary.fingerprint != rerun.fingerprint
    assert "train_titles" not in summary.cached_steps and summary.registered
    assert [t.version for t in summary.trained] == ["2", "2"]
    assert summary.registered_versions == 2
    assert versions(project, ISBNS[0]) == ["1", "2"]
    assert run_metadata(summary.run_id)["mlflow"]["parent_run_id"] == summary.parent_run_id
    assert summary.parent_run_id != rerun.parent_run_id


def test_invalid_data_raises_every_problem(project):
    bad = project.root / "bad.csv"
    bad.write_text("ISBN,End Date,Volume\n123,2024-01-06,5\n9780722532935,not a date,3\n")

    with pytest.raises(DataValidationError) as caught:
        run_training(project.settings(bad), config=CONFIG)

    assert {p.column for p in caught.value.problems} == {"ISBN", "End Date"}


def test_train_command_trains_then_serves_the_cache(project):
    from shelfcast.cli import app

    command = ["train", "--data", str(project.sample), "--env", "testing", "--workers", "1"]
    command += [f"--isbn={','.join(ISBNS)}"]
    runner = CliRunner()

    first = runner.invoke(app, command)
    again = runner.invoke(app, command)

    assert first.exit_code == 0, first.output
    assert "2 title(s) trained" in first.output
    assert "Registered versions: 2" in first.output
    for isbn in ISBNS:
        assert isbn in first.output
    assert "moved to v" in first.output or "stays on v" in first.output
    assert again.exit_code == 0, again.output
    assert "from ZenML's cache" in again.output
    assert "Registered versions: 0" in again.output
    # The gate decided nothing on the cached rerun: no row says an alias moved.
    assert "moved to v" not in again.output
    assert again.output.count("stays champion") == 2


def seed_options(project) -> list[str]:
    return ["--env", "testing", "--data", str(project.sample)]


def test_seed_command_runs_the_same_pipeline(project):
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    out = subprocess.run(
        [sys.executable, str(REPO / "pipelines" / "zenml_pipeline.py"), *seed_options(project)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=project.root,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 title(s) trained" in out.stdout
    assert all(isbn in out.stdout for isbn in ISBNS)


def test_summary_is_json_ready(first):
    data = json.loads(json.dumps(first.to_dict(), default=str))
    assert data["titles"][0]["isbn"] == ISBNS[0]
    assert set(data["timings"]) == {"total", "zenml", "data", "training", "mlflow"}


def test_artifacts_round_trip_every_field(project):
    """What the steps hand each other comes back from its files as it went in."""
    import numpy as np

    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import fit_titles
    from shelfcast.training.artifacts import (
        SeriesSet,
        TrainingResult,
        config_to_dict,
        series_from_files,
        series_hash,
        series_to_files,
        training_from_files,
        training_to_files,
    )

    series = SeriesSet(
        tuple(weekly_series(read_sales([str(project.sample)]), keys=list(ISBNS))), kind="bookscan"
    )
    back = series_from_files(series_to_files(series))
    assert series_hash(back) == series_hash(series) and back.kind == "bookscan"
    assert [s.title for s in back] == [s.title for s in series]

    config = fit_config(
        Settings(), n_origins=2, candidates=("snaive", "theta"), forecast_candidates=True
    )
    fits, _ = fit_titles(list(series), config, workers=1)
    result = TrainingResult(fits, {"9780000000002": "boom"}, config_to_dict(config), "here", 1.5)
    loaded = training_from_files(training_to_files(result))

    assert loaded.errors == {"9780000000002": "boom"}
    assert (loaded.config, loaded.executor, loaded.seconds) == (result.config, "here", 1.5)
    for a, b in zip(result.fits, loaded.fits, strict=True):
        assert (a.key, a.selected, a.fallback, a.seconds) == (
            b.key,
            b.selected,
            b.fallback,
            b.seconds,
        )
        assert a.bundle.to_files() == b.bundle.to_files()  # the bundle's files, byte for byte
        pd.testing.assert_frame_equal(a.backtest.table, b.backtest.table)
        assert a.backtest.specs == b.backtest.specs
        for name, by_origin in a.backtest.forecasts.items():
            for origin, fc in by_origin.items():
                assert np.array_equal(fc.upper[95], b.backtest.forecasts[name][origin].upper[95])
        assert np.array_equal(a.holdout_forecast.mean, b.holdout_forecast.mean)
        assert a.candidate_forecasts.keys() == b.candidate_forecasts.keys()


def sales_of(project, folder: str, isbns, tripled: str | None = None) -> Path:
    """The sample's rows of `isbns` in a file of their own; `tripled`: that title's last week
    sold three times as much."""
    sales = pd.read_parquet(project.sample)
    sales = sales[sales["ISBN"].isin(isbns)].reset_index(drop=True)
    if tripled:
        last = (sales["ISBN"] == tripled) & (sales["End Date"] == sales["End Date"].max())
        sales.loc[last, "Volume"] *= 3
    path = project.root / folder / "bookscan_weekly.parquet"
    path.parent.mkdir()
    sales.to_parquet(path, index=False)
    return path


def test_every_title_is_one_catalogue_version_and_a_retrain_refits_what_changed(project):
    from shelfcast.registry.catalogue import champion_table

    others = sorted(set(pd.read_parquet(project.sample)["ISBN"].astype(str)) - set(ISBNS))
    titles = (*ISBNS, others[0])
    first = run_training(
        project.settings(sales_of(project, "catalogue-1", titles)),
        all_titles=True,
        catalogue=True,
        config=CONFIG,
    )
    assert "register_catalogue" in {s.name for s in first.steps}
    assert first.catalogue["version"] == "1"
    assert first.catalogue["counts"]["promoted"] == 3
    assert {t.model_name for t in first.trained} == {"book_sales_catalogue"}

    changed = sales_of(project, "catalogue-2", titles, tripled=ISBNS[0])
    second = run_training(project.settings(changed), all_titles=True, catalogue=True, config=CONFIG)
    assert [t.isbn for t in second.titles] == [ISBNS[0]]  # the only title refitted
    assert second.catalogue["version"] == "2" and second.catalogue["base_version"] == "1"
    assert second.catalogue["counts"]["carried"] == 2
    champions = champion_table(project.settings())
    assert sorted(champions.table.keys) == sorted(titles)
    assert champions.versions[others[0]] == "2"  # carried over: its row copied into v2


def test_pools_are_kept_per_version_and_reused_until_a_full_refit_or_new_pool_settings(project):
    pooled = fit_config(
        Settings(), n_origins=1, candidates=("snaive", "theta", "gbm", "launch", "profile")
    )
    isbns = sorted(set(pd.read_parquet(project.sample)["ISBN"].astype(str)))
    titles = (*ISBNS, *[k for k in isbns if k not in ISBNS][:58])

    def train(folder: str, config=pooled, full: bool = False, tripled: str | None = None):
        settings = load_settings(
            home=project.home,
            environment="testing",
            data={"paths": (str(sales_of(project, folder, titles, tripled)),)},
            training={"workers": 2},
            registry={"catalogue_model": "pooled_catalogue"},
        )
        summary = run_training(settings, all_titles=True, catalogue=True, config=config, full=full)
        return summary.catalogue

    first = train("pools-1")
    assert first["version"] == "1" and first["counts"]["fitted"] == 60
    assert first["pools"]["trained_in"] == "1" and first["pools"]["reused_from"] is None
    assert {"gbm", "profile"} <= set(first["pools"]["families"])

    second = train("pools-2", tripled=ISBNS[0])
    assert second["counts"]["fitted"] == 1 and second["counts"]["carried"] == 59
    assert (second["pools"]["reused_from"], second["pools"]["trained_in"]) == ("1", "1")
    assert second["pools"]["reason"].startswith("pool settings unchanged")
    assert second["pools"]["data_hash"] == first["pools"]["data_hash"]  # trained on v1's data

    full = train("pools-3", full=True, tripled=ISBNS[0])
    assert full["counts"]["fitted"] == 60
    assert (full["pools"]["reused_from"], full["pools"]["trained_in"]) == (None, "3")
    assert full["pools"]["reason"].startswith("full refit")
    assert full["pools"]["data_hash"] != first["pools"]["data_hash"]

    shorter = dataclasses.replace(pooled, max_train_weeks=156)
    changed = train("pools-4", config=shorter, tripled=ISBNS[0])
    assert (changed["pools"]["reused_from"], changed["pools"]["trained_in"]) == (None, "4")
    assert changed["pools"]["reason"].startswith("pool settings changed")
