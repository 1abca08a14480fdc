"""`shelfcast serve` and `shelfcast predict` where no server needs to run."""

from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.lifecycle.deploy import find_release
from shelfcast.settings import load_settings

runner = CliRunner()


def test_serve_refuses_an_open_address_without_a_token(monkeypatch, release):
    monkeypatch.delenv("SHELFCAST_SERVER_TOKEN", raising=False)
    monkeypatch.delenv("AIP_MODE", raising=False)
    result = runner.invoke(app, ["serve", "--release", release.uri, "--host", "0.0.0.0"])
    assert result.exit_code == 1
    assert "needs a bearer token" in result.output


def test_serve_defaults_to_the_newest_release_in_the_store(monkeypatch, tmp_path, release):
    monkeypatch.setenv("SHELFCAST_ARTIFACT_URI", release.store)
    assert find_release(load_settings()).uri == release.uri
    monkeypatch.setenv("SHELFCAST_ARTIFACT_URI", str(tmp_path / "empty"))
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 1
    assert "no release in the artifact store" in result.output


def test_predict_says_when_no_server_answers(monkeypatch):
    monkeypatch.delenv("SHELFCAST_SERVER_TOKEN", raising=False)
    result = runner.invoke(app, ["predict", "--isbn", "9780722532935", "--url", "127.0.0.1:9"])
    assert result.exit_code == 1
    assert "cannot reach http://127.0.0.1:9/predict" in result.output
