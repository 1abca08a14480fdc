"""Server configuration from Vertex AI's variables, and what it refuses to start with."""

import pytest

from shelfcast.serving.client import predict_url
from shelfcast.serving.config import ServerConfig, ServerConfigError
from shelfcast.settings import SettingsError

VERTEX = {
    "AIP_HTTP_PORT": "7080",
    "AIP_HEALTH_ROUTE": "/v1/endpoints/1/deployedModels/2",
    "AIP_PREDICT_ROUTE": "/v1/endpoints/1/deployedModels/2:predict",
    "AIP_STORAGE_URI": "gs://bucket/releases/r-1",
    "AIP_DEPLOYED_MODEL_ID": "2",
    "AIP_MODE": "PREDICTION",
}


@pytest.fixture(autouse=True)
def no_token(monkeypatch):
    monkeypatch.delenv("SHELFCAST_SERVER_TOKEN", raising=False)
    monkeypatch.delenv("SHELFCAST_SERVING__SERVER_TOKEN", raising=False)


def test_vertex_variables_configure_the_server():
    config = ServerConfig.from_env(VERTEX)
    assert (config.port, config.release_uri, config.deployed_model_id) == (
        7080,
        "gs://bucket/releases/r-1",
        "2",
    )
    assert config.predict_route.endswith(":predict") and config.on_vertex
    assert ServerConfig.from_env(VERTEX, port=9000, release_uri="/r").port == 9000


def test_defaults_without_variables():
    config = ServerConfig.from_env({})
    assert (config.host, config.port, config.health_route, config.predict_route) == (
        "127.0.0.1",
        8080,
        "/health",
        "/predict",
    )
    assert config.release_uri is None and not config.on_vertex


def test_binding_beyond_loopback_needs_a_token_except_on_vertex(monkeypatch):
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.5"):
        ServerConfig(release_uri="/r", host=host).check()
    with pytest.raises(ServerConfigError, match="SHELFCAST_SERVING__SERVER_TOKEN"):
        ServerConfig(release_uri="/r", host="0.0.0.0").check()
    ServerConfig(release_uri="/r", host="0.0.0.0", token="t").check()
    ServerConfig.from_env(VERTEX, host="0.0.0.0").check()
    monkeypatch.setenv("SHELFCAST_SERVING__SERVER_TOKEN", "from-env")
    assert ServerConfig.from_env({}).token == "from-env"
    monkeypatch.delenv("SHELFCAST_SERVING__SERVER_TOKEN")
    monkeypatch.setenv("SHELFCAST_SERVER_TOKEN", "flat")  # the name of before the sections
    assert ServerConfig.from_env({}).token == "flat"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (ServerConfig(), "no release"),
        (ServerConfig(release_uri="/r", predict_route="predict"), "start with '/'"),
        (ServerConfig(release_uri="/r", health_route="/x", predict_route="/x"), "differ"),
        (ServerConfig(release_uri="/r", port=70000), "port"),
    ],
)
def test_refused_configurations(config, message):
    with pytest.raises(ServerConfigError, match=message):
        config.check()


def test_a_bad_port_variable_is_refused():
    with pytest.raises(ServerConfigError, match="AIP_HTTP_PORT"):
        ServerConfig.from_env({"AIP_HTTP_PORT": "http"})


def test_predict_url():
    assert predict_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/predict"
    assert predict_url("127.0.0.1:8080/") == "http://127.0.0.1:8080/predict"
    assert predict_url("http://h:1/v1/x:predict") == "http://h:1/v1/x:predict"


def test_default_quantiles_come_from_the_settings(monkeypatch, tmp_path):
    assert ServerConfig.from_env({}).quantiles == (0.1, 0.5, 0.9)
    settings = tmp_path / "settings.toml"
    settings.write_text("[serving]\nquantiles = [0.75, 0.25]\n")
    monkeypatch.setenv("SHELFCAST_SETTINGS", str(settings))
    assert ServerConfig.from_env({}).quantiles == (0.25, 0.75)


def test_the_prediction_logs_rotation_comes_from_the_settings(monkeypatch, tmp_path):
    defaults = ServerConfig.from_env({}).prediction_log_rotation
    assert (defaults.max_bytes, defaults.max_age, defaults.max_files) == (64 * 2**20, 86400.0, 100)
    assert defaults.retention == 30 * 86400.0
    settings = tmp_path / "settings.toml"
    settings.write_text(
        "[serving]\nprediction_log_max_bytes = 1048576\nprediction_log_rotate_hours = 1.5\n"
        "prediction_log_retention_days = 7\n"
    )
    monkeypatch.setenv("SHELFCAST_SETTINGS", str(settings))
    monkeypatch.setenv("SHELFCAST_SERVING__PREDICTION_LOG_MAX_FILES", "12")
    rotation = ServerConfig.from_env({}).prediction_log_rotation
    assert (rotation.max_bytes, rotation.max_age, rotation.max_files) == (2**20, 5400.0, 12)
    assert rotation.retention == 7 * 86400.0
    monkeypatch.setenv("SHELFCAST_SERVING__PREDICTION_LOG_MAX_BYTES", "100")
    with pytest.raises(SettingsError, match="prediction_log_max_bytes must be at least 4096"):
        ServerConfig.from_env({})
