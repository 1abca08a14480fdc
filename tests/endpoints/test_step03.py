"""The seed's step 03 script: its options become calls of the application layer with the
settings they name; a Vertex dry run prints the plan and calls nothing."""

import importlib.util
from pathlib import Path

import pytest
from support.vertex import IMAGE, PROJECT, R2, FakeSdk

from shelfcast import lifecycle

SCRIPT = Path(__file__).parents[2] / "deploy" / "03_deploy_to_vertex_endpoints.py"
spec = importlib.util.spec_from_file_location("step03", SCRIPT)
step03 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step03)


class Recorded:
    """What the script asked of `shelfcast.lifecycle` (instead of doing it)."""

    def __init__(self, monkeypatch):
        self.calls: list[tuple[str, dict]] = []

        def recorder(name, answer):
            def record(settings, *args, **kwargs):
                self.calls.append((name, {"settings": settings, "args": args, **kwargs}))
                return answer

            monkeypatch.setattr(lifecycle, name, record)

        recorder("find_release", R2)
        recorder("list_endpoints", [])
        recorder("check_endpoint", ("smoke: 2 title(s) x 32 weeks passed",))
        recorder("deploy_release", None)
        recorder("deploy_per_title", lifecycle.PerTitleResult(R2, ()))
        monkeypatch.setattr("shelfcast.views.endpoints.print_deploy", lambda result: None)

    def names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def last(self) -> dict:
        return self.calls[-1][1]


@pytest.fixture
def recorded(monkeypatch, tmp_path) -> Recorded:
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    for variable in ("DEPLOYMENT_ENV", "GCP_PROJECT", "GCP_REGION", "SHELFCAST_ARTIFACT_URI"):
        monkeypatch.delenv(variable, raising=False)
    return Recorded(monkeypatch)


def test_deploy_all_deploys_the_newest_release_to_one_endpoint(recorded):
    assert step03.main(["--deploy-all"]) == 0
    assert recorded.names() == ["find_release", "deploy_release"]
    call = recorded.last()
    assert call["args"] == (R2,) and call["canary"] is None and call["dry_run"] is False
    assert call["settings"].endpoints.backend == "local"


def test_bucket_backend_project_and_region_become_settings(recorded):
    argv = ["--deploy-all", "--per-title", "--backend", "vertex", "--bucket-name", "b"]
    argv += ["--project-id", "p", "--region", "us-central1", "--canary", "10", "--dry-run"]
    assert step03.main(argv) == 0
    assert recorded.names() == ["find_release", "deploy_per_title"]
    call = recorded.last()
    settings = call["settings"]
    assert (settings.endpoints.backend, settings.artifact_uri) == ("vertex", "gs://b")
    assert (settings.gcp.project, settings.gcp.region) == ("p", "us-central1")
    assert call["args"] == (R2, ()) and call["canary"] == 10 and call["dry_run"] is True


def test_one_title_test_and_list(recorded, capsys):
    assert step03.main(["--model-name", "arima_book_9780722532935", "--release", "r-1"]) == 0
    assert recorded.calls[0][1]["args"] == ("r-1",)
    assert recorded.last()["args"] == (R2, ("arima_book_9780722532935",))

    assert step03.main(["--test-endpoint", "book-sales", "--env", "production"]) == 0
    assert recorded.last()["args"] == ("book-sales",)
    assert recorded.last()["settings"].environment == "production"
    assert "smoke: 2 title(s) x 32 weeks passed" in capsys.readouterr().out

    assert step03.main(["--list-endpoints"]) == 0
    assert recorded.names()[-1] == "list_endpoints"


def test_a_vertex_dry_run_prints_the_plan_and_calls_nothing(monkeypatch, capsys, tmp_path):
    sdk = FakeSdk(monkeypatch)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    monkeypatch.setenv("SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI", IMAGE)
    monkeypatch.setattr(lifecycle, "find_release", lambda settings, release: R2)

    code = step03.main(
        ["--deploy-all", "--backend", "vertex", "--dry-run", "--project-id", PROJECT]
    )

    assert code == 0
    assert sdk.sdk_calls() == []
    out = capsys.readouterr().out
    assert "aiplatform.Model.upload(" in out
    assert "Endpoint[book-sales].update(traffic_split={'<new on book-sales>': 100})" in out
    assert "planned" in out
