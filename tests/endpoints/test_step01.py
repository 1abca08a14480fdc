"""The seed's step 01 script: the whole flow through the application layer for real on the
local backend (one title, in a fresh project folder), its help, and a Vertex dry run that
calls nothing."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import environment
from support.vertex import IMAGE, PROJECT, FakeSdk

from shelfcast.endpoints.local import LocalBackend
from shelfcast.serving.client import predict
from shelfcast.settings import load_settings

SCRIPT = Path(__file__).parents[2] / "deploy" / "01_train_pipeline_and_create_endpoints.py"
ISBN = "9780722532935"
spec = importlib.util.spec_from_file_location("step01", SCRIPT)
step01 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step01)


def run_script(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_help_says_what_each_stage_does(tmp_path):
    done = run_script(tmp_path, "--help")
    assert done.returncode == 0, done.stderr
    for option in ("--backend", "--project-id", "--region", "--bucket-name", "--dry-run"):
        assert option in done.stdout
    for stage in ("1. train", "2. register", "3. package", "4. deploy", "5. test"):
        assert stage in done.stdout
    assert "active ZenML stack" in done.stdout and "promotion gate" in done.stdout


@pytest.mark.integration
def test_trains_packages_deploys_and_tests_a_local_endpoint(tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    home = project / ".shelfcast"
    try:
        done = run_script(project, "--isbn", ISBN, "--backend", "local")
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        state = LocalBackend(load_settings(home=home)).describe("book-sales")
        serving = state.serving()
        assert serving is not None and state.traffic == {serving.id: 100}
        (release,) = (home / "artifacts" / "releases").iterdir()
        assert serving.release_id == release.name
        answer = predict(state.url, [{"isbn": ISBN, "horizon": 4}])["predictions"][0]
        assert answer["model_name"] == f"arima_book_{ISBN}" and len(answer["weeks"]) == 4
        out = done.stdout
        assert "moved to v1 (no champion yet)" in out
        assert "new release" in out and release.name in out
        assert "smoke: 1 title(s) x 32 weeks passed" in out  # the endpoint test
        assert state.url in out
    finally:
        LocalBackend(load_settings(home=home)).stop("book-sales")


def test_a_vertex_dry_run_plans_every_stage_and_calls_nothing(monkeypatch, capsys, tmp_path):
    sdk = FakeSdk(monkeypatch)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    monkeypatch.setenv("SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI", IMAGE)
    ran = []
    for name in ("run_lifecycle", "train_titles", "package_release"):
        monkeypatch.setattr(f"shelfcast.lifecycle.{name}", lambda *a, **k: ran.append(a))

    code = step01.main(
        ["--backend", "vertex", "--dry-run", "--project-id", PROJECT, "--bucket-name", "b"]
    )

    assert code == 0
    assert sdk.sdk_calls() == [] and ran == []
    out = capsys.readouterr().out
    assert "nothing is trained, registered or packaged" in out
    for stage in ("train", "register and gate", "package", "deploy", "test"):
        assert f"\n{stage} " in out
    assert "aiplatform.Model.upload(" in out and "artifact_uri='gs://b/releases/r-planned'" in out
    assert "Endpoint[book-sales].update(traffic_split={'<new on book-sales>': 100})" in out
    assert "planned" in out


def test_a_dry_run_on_the_local_backend_is_refused_before_training(monkeypatch, tmp_path):
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    monkeypatch.setattr(
        "shelfcast.lifecycle.run.train_titles", lambda *a, **k: pytest.fail("trained")
    )
    assert step01.main(["--backend", "local", "--dry-run"]) == 1
