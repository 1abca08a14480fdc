"""The seed's step 03 script: its options become `shelfcast` commands; a Vertex dry run."""

import importlib.util
from pathlib import Path

import pytest
from support.vertex import IMAGE, PROJECT, R2, FakeSdk

import shelfcast.cli

SCRIPT = Path(__file__).parents[2] / "deploy" / "03_deploy_to_vertex_endpoints.py"
spec = importlib.util.spec_from_file_location("step03", SCRIPT)
step03 = importlib.util.module_from_spec(spec)
spec.loader.exec_module(step03)


@pytest.fixture
def commands(monkeypatch) -> list[list[str]]:
    """The `shelfcast` command lines the script runs (instead of running them)."""
    seen: list[list[str]] = []
    monkeypatch.setattr(shelfcast.cli, "app", lambda args, **_: seen.append(args) or 0)
    return seen


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--deploy-all"], ["deploy"]),
        (
            ["--deploy-all", "--per-title", "--backend", "vertex", "--bucket-name", "b"],
            ["deploy", "--per-title", "--store", "gs://b", "--backend", "vertex"],
        ),
        (
            ["--model-name", "arima_book_9780722532935", "--dry-run", "--project-id", "p"],
            [
                "deploy",
                "--per-title",
                "--model-name",
                "arima_book_9780722532935",
                "--dry-run",
                "--project-id",
                "p",
            ],
        ),
        (
            ["--test-endpoint", "book-sales", "--region", "us-central1"],
            ["endpoints", "test", "book-sales", "--region", "us-central1"],
        ),
        (["--list-endpoints", "--env", "production"], ["endpoints", "list", "--env", "production"]),
    ],
)
def test_options_become_shelfcast_commands(commands, argv, expected):
    assert step03.main(argv) == 0
    assert commands == [expected]


def test_a_vertex_dry_run_prints_the_plan_and_calls_nothing(monkeypatch, capsys, tmp_path):
    sdk = FakeSdk(monkeypatch)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path))
    monkeypatch.setenv("SHELFCAST_ENDPOINTS__SERVING_IMAGE_URI", IMAGE)
    monkeypatch.setattr("shelfcast.cli.endpoints.find_release", lambda settings, release: R2)

    code = step03.main(
        ["--deploy-all", "--backend", "vertex", "--dry-run", "--project-id", PROJECT]
    )

    assert code == 0
    assert sdk.sdk_calls() == []
    out = capsys.readouterr().out
    assert "aiplatform.Model.upload(" in out
    assert "Endpoint[book-sales].update(traffic_split={'<new on book-sales>': 100})" in out
    assert "planned" in out
