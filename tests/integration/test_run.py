"""`shelfcast run` end to end in a fresh project folder: train, register, promote, package,
deploy to a local endpoint, smoke test; then again, which must change nothing."""

import json
import shlex
import subprocess
from pathlib import Path

import pytest
from support.cli import environment, inactive_venv_path, shelfcast

from shelfcast.endpoints.base import Endpoint
from shelfcast.endpoints.local import LocalBackend
from shelfcast.serving.client import predict
from shelfcast.settings import load_settings

pytestmark = pytest.mark.integration

ISBNS = ("9780722532935", "9780241003008")


@pytest.fixture
def project(tmp_path: Path):
    yield tmp_path
    shelfcast(tmp_path, "endpoints", "stop", "book-sales")


def endpoint(project: Path) -> Endpoint:
    return LocalBackend(load_settings(home=project / ".shelfcast")).describe("book-sales")


def next_commands(stderr: str) -> list[str]:
    """The commands `run` suggests after `Next:`."""
    lines = stderr[stderr.index("Next:") :].splitlines()[1:]
    return [line.strip() for line in lines if line.startswith("  ")]


def test_run_deploys_a_serving_release_and_a_rerun_changes_nothing(project: Path):
    args = ["run", *(f"--isbn={isbn}" for isbn in ISBNS)]
    path = inactive_venv_path()  # as a user runs .venv/bin/shelfcast, the venv not active
    first = shelfcast(project, *args, PATH=path)
    assert first.returncode == 0, first.stderr[-3000:]
    releases = list((project / ".shelfcast/artifacts/releases").iterdir())
    assert len(releases) == 1
    release_id = releases[0].name
    manifest = json.loads((releases[0] / "manifest.json").read_text())
    assert sorted(m["isbn"] for m in manifest["models"]) == sorted(ISBNS)
    assert f"{release_id} (new)" in first.stdout
    state = endpoint(project)
    url = state.url
    assert state.serving().release_id == release_id
    assert url.startswith("http://127.0.0.1:") and url in first.stdout

    answer = predict(url, [{"isbn": ISBNS[1], "horizon": 4, "level": [80, 95]}])
    weeks = answer["predictions"][0]["weeks"]
    assert len(weeks) == 4
    assert all(w["lo_95"] <= w["lo_80"] <= w["mean"] <= w["hi_80"] <= w["hi_95"] for w in weeks)
    # The sample forecast printed by run is the endpoint's answer for the first seed title.
    shown = predict(url, [{"isbn": ISBNS[0], "horizon": 8}])["predictions"][0]["weeks"][0]
    assert shown["week_ending"] in first.stdout
    assert f"{shown['mean']:,.0f}" in first.stdout

    assert first.stdout.count("moved to v1 (no champion yet)") == 2
    assert "Writing model files to the artifact store" in first.stderr

    # The suggested commands work as printed, though the venv is not active.
    commands = next_commands(first.stderr)
    assert len(commands) == 5 and all(c.split()[0] != "shelfcast" for c in commands)
    for command in commands:
        if command.endswith(" dashboard"):
            continue  # serves until stopped
        done = subprocess.run(
            shlex.split(command),
            cwd=project,
            env=environment(PATH=path),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])

    second = shelfcast(project, *args)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"{release_id} (unchanged)" in second.stdout
    assert "from ZenML's cache" in second.stdout
    # A rerun registers nothing: no alias moved, and each row says so.
    assert "moved to" not in second.stdout
    assert second.stdout.count("unchanged: v1 stays champion") == 2
    assert len(list((project / ".shelfcast/artifacts/releases").iterdir())) == 1
    again = endpoint(project)
    assert again.url == url
    assert [m.id for m in again.deployed_models] == [m.id for m in state.deployed_models]
    assert again.traffic == state.traffic


def fits_80_columns(out: str) -> None:
    """Nothing cut: no line wider than 80 columns, no ellipsis."""
    assert "\N{HORIZONTAL ELLIPSIS}" not in out, out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)


def test_tables_fit_80_columns_with_whole_headers(project: Path):
    """Tables at an ordinary terminal width, through the real command: headers whole,
    long values folded, and the URL clients call labelled as such."""
    done = shelfcast(project, "run", f"--isbn={ISBNS[0]}", COLUMNS="80")
    assert done.returncode == 0, done.stderr[-3000:]
    fits_80_columns(done.stdout)

    models = shelfcast(project, "models", "list", COLUMNS="80")
    assert models.returncode == 0, models.stderr
    fits_80_columns(models.stdout)
    for word in ("backtest", "MASE", "seasonal", "naive", "champion"):
        assert f" {word} " in models.stdout

    releases = shelfcast(project, "releases", "list", COLUMNS="80")
    assert releases.returncode == 0, releases.stderr
    fits_80_columns(releases.stdout)
    (release,) = list((project / ".shelfcast/artifacts/releases").iterdir())
    assert release.name in releases.stdout  # ids are never folded

    described = shelfcast(project, "endpoints", "describe", "book-sales", COLUMNS="80")
    assert described.returncode == 0, described.stderr
    fits_80_columns(described.stdout)
    state = endpoint(project)
    (model,) = [m for m in state.deployed_models if state.traffic.get(m.id)]
    joined = "".join(described.stdout.split())  # folded values, put back together
    assert "URL clients call" in described.stdout and state.url in joined
    assert f"{model.id} direct URL (internal)" in described.stdout and model.url in joined
    assert model.detail["log"] in joined
    assert "A direct URL reaches one deployed model" in described.stdout
