import os
from pathlib import Path

import pytest

from shelfcast.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path):
    for name in ("DEPLOYMENT_ENV", "MLFLOW_TRACKING_URI", "GCP_PROJECT", "GCP_REGION"):
        monkeypatch.delenv(name, raising=False)
    for name in [k for k in os.environ if k.startswith("SHELFCAST_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))


def test_defaults_are_the_seeds():
    s = load_settings()
    assert s.environment == "development"
    assert s.split_size == 32 and s.max_seasonal_books == 15
    assert s.default_test_isbns == ("9780722532935", "9780241003008")
    assert s.experiment_name == "book_sales_development"
    assert s.tracking_uri.startswith("sqlite:///") and s.tracking_uri.endswith("home/mlflow.db")


def test_layers_file_then_environment_table_then_variables_then_options(monkeypatch, tmp_path):
    Path("shelfcast.toml").write_text(
        "max_seasonal_books = 20\nsplit_size = 26\n[production]\nsplit_size = 13\nworkers = 4\n"
    )
    assert load_settings().max_seasonal_books == 20
    assert load_settings().split_size == 26
    monkeypatch.setenv("DEPLOYMENT_ENV", "production")
    prod = load_settings()
    assert (prod.environment, prod.split_size, prod.workers, prod.n_origins) == (
        "production",
        13,
        4,
        4,
    )
    monkeypatch.setenv("SHELFCAST_WORKERS", "2")
    monkeypatch.setenv("GCP_PROJECT", "books-prod")
    assert load_settings().workers == 2
    assert load_settings().gcp_project == "books-prod"
    assert load_settings(workers=1, environment="testing").environment == "testing"
    assert load_settings(workers=1).workers == 1


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ({"DEPLOYMENT_ENV": "staging"}, "unknown environment 'staging'"),
        ({"SHELFCAST_MAX_TITLES": "3"}, "unknown setting(s) max_titles"),
        ({"SHELFCAST_SPLIT_SIZE": "many"}, "SHELFCAST_SPLIT_SIZE: split_size must be a whole"),
        ({"SHELFCAST_SETTINGS": "/nonexistent.toml"}, "does not exist"),
    ],
)
def test_bad_settings_are_errors_that_name_them(monkeypatch, setup, message):
    for name, value in setup.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings()


def test_unknown_keys_and_tables_in_the_file_are_errors():
    Path("shelfcast.toml").write_text("[staging]\nworkers = 2\n")
    with pytest.raises(SettingsError, match="unknown environment table"):
        load_settings()
    Path("shelfcast.toml").write_text("[testing]\nwrokers = 2\n")
    with pytest.raises(SettingsError, match=r"\[testing\]: unknown setting\(s\) wrokers"):
        load_settings()


def test_lists_and_optionals_from_text(monkeypatch):
    monkeypatch.setenv("SHELFCAST_DATA", "a.xlsx, gs://bucket/b.csv")
    monkeypatch.setenv("SHELFCAST_MAX_TRAIN_WEEKS", "")
    s = load_settings()
    assert s.data == ("a.xlsx", "gs://bucket/b.csv")
    assert s.max_train_weeks is None
    assert s.as_dict()["data"] == ["a.xlsx", "gs://bucket/b.csv"]


def test_invalid_values_are_refused_directly():
    with pytest.raises(SettingsError, match="split_size must be at least 1"):
        Settings(split_size=0)
