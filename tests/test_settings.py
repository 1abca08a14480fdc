import os
import re
from pathlib import Path

import pytest

from shelfcast.settings import (
    ENVIRONMENT_DEFAULTS,
    FLAT_NAMES,
    SECTIONS,
    Settings,
    SettingsError,
    load_settings,
    nest_flat,
)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("DEPLOYMENT_ENV", "MLFLOW_TRACKING_URI", "GCP_PROJECT", "GCP_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("SHELFCAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))


def raises(message: str):
    return pytest.raises(SettingsError, match=re.escape(message))


def test_defaults_are_the_seeds():
    s = load_settings()
    assert s.environment == "development"
    assert s.backtest.split_size == 32 and s.selection.max_seasonal_books == 15
    assert s.selection.default_test_isbns == ("9780722532935", "9780241003008")
    assert s.data.start_date == "" and s.data.sample_seed == 42
    assert s.training.season_length == 52
    assert (s.serving.horizon, s.serving.levels) == (32, (80, 95))
    assert s.experiment_name == "book_sales_development"
    assert s.tracking_uri.startswith("sqlite:///") and s.tracking_uri.endswith("home/mlflow.db")
    assert s.artifact_root == str(s.home / "artifacts")
    assert s.sample_path() == s.home / "sample" / "seed-42" / "bookscan_weekly.parquet"
    assert s == Settings(home=s.home)  # no layer set anything: the code's defaults


def test_layers_file_then_environment_table_then_variables_then_options(monkeypatch, tmp_path):
    Path("shelfcast.toml").write_text(
        "[selection]\nmax_seasonal_books = 20\n[backtest]\nsplit_size = 26\n"
        "[production.backtest]\nsplit_size = 13\n[production.training]\nworkers = 4\n"
    )
    assert load_settings().selection.max_seasonal_books == 20
    assert load_settings().backtest.split_size == 26
    monkeypatch.setenv("DEPLOYMENT_ENV", "production")
    prod = load_settings()
    assert (
        prod.environment,
        prod.backtest.split_size,
        prod.training.workers,
        prod.backtest.n_origins,  # the production environment's default
        prod.endpoints.backend,
        prod.selection.max_seasonal_books,  # from the top of the file, for every environment
    ) == ("production", 13, 4, 4, "vertex", 20)
    monkeypatch.setenv("SHELFCAST_TRAINING__WORKERS", "2")
    monkeypatch.setenv("GCP_PROJECT", "books-prod")
    assert load_settings().training.workers == 2
    assert load_settings().gcp.project == "books-prod"
    monkeypatch.setenv("SHELFCAST_GCP__PROJECT", "books-ours")  # SHELFCAST_* over well-known
    assert load_settings().gcp.project == "books-ours"
    testing = load_settings(training={"workers": 1}, environment="testing")
    assert testing.environment == "testing"
    assert testing.backtest.split_size == 26  # [production] no longer applies
    assert testing.registry.promotion_min_improvement == 0.01
    assert load_settings(training={"workers": 1}).training.workers == 1
    # an option left out (None) does not hide the layers below
    assert load_settings(training={"workers": None}).training.workers == 2


def test_the_environment_from_the_file_picks_its_table_and_defaults():
    Path("shelfcast.toml").write_text('environment = "production"\n[production]\nworkers = 3\n')
    s = load_settings()
    assert (s.environment, s.training.workers, s.backtest.n_origins) == ("production", 3, 4)


def test_flat_names_of_before_the_sections_still_work(monkeypatch):
    Path("shelfcast.toml").write_text(
        "n_origins = 5\nendpoint_name = 'books'\ndata = ['a.csv']\n"
        "[production]\nsplit_size = 13\ngcp_project = 'p'\n"
        "[backtest]\nsplit_size = 20\n"
    )
    s = load_settings()
    assert (s.backtest.n_origins, s.endpoints.name, s.data.paths) == (5, "books", ("a.csv",))
    assert s.backtest.split_size == 20
    monkeypatch.setenv("SHELFCAST_ENDPOINT_BACKEND", "vertex")
    monkeypatch.setenv("SHELFCAST_N_ORIGINS", "6")
    s = load_settings(environment="production")
    assert (s.endpoints.backend, s.backtest.n_origins) == ("vertex", 6)
    assert (s.backtest.split_size, s.gcp.project) == (13, "p")
    # the nested variable wins over the flat one
    monkeypatch.setenv("SHELFCAST_BACKTEST__N_ORIGINS", "7")
    assert load_settings().backtest.n_origins == 7


def test_the_flat_names_are_one_table_made_from_the_model():
    assert FLAT_NAMES["endpoint_backend"] == ("endpoints", "backend")
    assert FLAT_NAMES["data"] == ("data", "paths")
    assert FLAT_NAMES["gcp_region"] == ("gcp", "region")
    for old, (section, field) in FLAT_NAMES.items():
        assert field in SECTIONS[section].model_fields, old
    assert nest_flat({"n_origins": 4, "environment": "testing"}, "x") == {
        "backtest": {"n_origins": 4},
        "environment": "testing",
    }


def test_every_environment_default_is_a_valid_setting():
    for name, values in ENVIRONMENT_DEFAULTS.items():
        Settings(environment=name, **values)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"DEPLOYMENT_ENV": "staging"}, "DEPLOYMENT_ENV: unknown environment 'staging'"),
        ({"SHELFCAST_MAX_TITLES": "3"}, "unknown setting(s) max_titles"),
        ({"SHELFCAST_TRAINING__WROKERS": "3"}, "unknown setting(s) training.wrokers"),
        ({"SHELFCAST_TRAINING": "3"}, "unknown setting(s) training"),
        (
            {"SHELFCAST_SPLIT_SIZE": "many"},
            "SHELFCAST_SPLIT_SIZE: backtest.split_size must be a whole number, got 'many'",
        ),
        (
            {"SHELFCAST_BACKTEST__N_ORIGINS": "0"},
            "SHELFCAST_BACKTEST__N_ORIGINS: backtest.n_origins must be at least 1, got '0'",
        ),
        (
            {"SHELFCAST_ENDPOINTS__BACKEND": "cloud"},
            "SHELFCAST_ENDPOINTS__BACKEND: unknown endpoints.backend 'cloud'",
        ),
        ({"SHELFCAST_SETTINGS": "/nonexistent.toml"}, "does not exist"),
    ],
)
def test_bad_settings_are_errors_that_name_them(monkeypatch, setup, message):
    for name, value in setup.items():
        monkeypatch.setenv(name, value)
    with raises(message):
        load_settings()


def test_unknown_keys_and_tables_in_the_file_are_errors():
    Path("shelfcast.toml").write_text("[staging]\nworkers = 2\n")
    with raises("unknown table(s) staging"):
        load_settings()
    Path("shelfcast.toml").write_text("[testing]\nwrokers = 2\n")
    with raises("[testing]: unknown setting(s) wrokers (did you mean workers?)"):
        load_settings()
    Path("shelfcast.toml").write_text("[production.training]\nwrokers = 2\n")
    with raises("[production]: unknown setting(s) training.wrokers"):
        load_settings()
    Path("shelfcast.toml").write_text("[training]\nsplit_size = 2\n")
    with raises("shelfcast.toml: unknown setting(s) training.split_size"):
        load_settings()


def test_wrong_types_in_the_file_name_the_table_and_value():
    Path("shelfcast.toml").write_text("[production.backtest]\nsplit_size = 'long'\n")
    with raises("shelfcast.toml [production]: backtest.split_size must be a whole number"):
        load_settings()
    Path("shelfcast.toml").write_text("prediction_log_sample_rate = 2.0\n")
    with raises("serving.prediction_log_sample_rate must be at most 1.0, got 2.0"):
        load_settings()


def test_unknown_or_wrong_options_are_errors():
    with raises("options: unknown setting(s) workers"):
        load_settings(workers=1)
    with raises("options: unknown setting(s) training.wrokers"):
        load_settings(training={"wrokers": 1})
    with raises("options: training.workers must be a whole number, got 'two'"):
        load_settings(training={"workers": "two"})
    with raises("options: unknown environment 'staging'"):
        load_settings(environment="staging")


def test_lists_and_optionals_from_text(monkeypatch):
    monkeypatch.setenv("SHELFCAST_DATA", "a.xlsx, gs://bucket/b.csv")
    monkeypatch.setenv("SHELFCAST_TRAINING__MAX_TRAIN_WEEKS", "")
    monkeypatch.setenv("SHELFCAST_SERVING__LEVELS", "95,80")
    monkeypatch.setenv("SHELFCAST_MONITORING__ALERTS__ERROR_RATIO", "2")
    s = load_settings()
    assert s.data.paths == ("a.xlsx", "gs://bucket/b.csv")
    assert s.training.max_train_weeks is None
    assert s.serving.levels == (80, 95)
    assert s.monitoring.alerts.error_ratio == 2.0
    assert s.as_dict()["data"]["paths"] == ["a.xlsx", "gs://bucket/b.csv"]
    monkeypatch.setenv("SHELFCAST_DATA__PATHS", "c.csv")
    assert load_settings().data.paths == ("c.csv",)


def test_invalid_values_are_refused_directly():
    with raises("backtest.split_size must be at least 1"):
        Settings(backtest={"split_size": 0})
    with raises("unknown setting(s) backtest.split"):
        Settings(backtest={"split": 0})


def test_settings_are_frozen_and_replace_validates():
    s = Settings()
    with pytest.raises(Exception, match="frozen"):
        s.backtest.split_size = 3  # type: ignore[misc]
    changed = s.replace(training={"workers": 2}, environment="testing")
    assert (changed.training.workers, changed.environment) == (2, "testing")
    assert changed.backtest == s.backtest
    with raises("training.workers must be at least 1"):
        s.replace(training={"workers": 0})


def test_cli_option_defaults_come_from_the_settings():
    """Each default is defined once, in the settings: the options that used to repeat it
    are left unset and filled in from the settings."""
    import inspect

    from shelfcast.cli.data import data_sample, data_titles
    from shelfcast.cli.forecast import forecast
    from shelfcast.cli.serve import predict

    for command in (data_titles, forecast, data_sample, predict):
        for name, parameter in inspect.signature(command).parameters.items():
            if name in ("start", "max_titles", "horizon", "seed"):
                assert parameter.default is None, (command.__name__, name)


def test_the_fit_and_the_server_take_their_defaults_from_the_settings():
    from dataclasses import MISSING, fields

    from shelfcast.forecasting.fit import FitConfig
    from shelfcast.serving.config import ServerConfig
    from shelfcast.training.run import fit_config

    decided = {"horizon", "holdout", "n_origins", "season_length", "levels"}
    assert decided <= {f.name for f in fields(FitConfig) if f.default is MISSING}
    s = Settings(backtest={"split_size": 26}, training={"season_length": 13})
    config = fit_config(s, n_origins=2)
    assert (config.horizon, config.holdout, config.n_origins) == (26, 26, 2)
    assert (config.season_length, config.levels) == (13, s.serving.levels)
    server = ServerConfig()
    assert (server.horizon, server.levels) == (s.serving.horizon, s.serving.levels)
    assert server.prediction_log_sample_rate == s.serving.prediction_log_sample_rate
