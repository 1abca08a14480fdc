"""The deploy and endpoints commands on an in-memory backend, with real releases; the seed's
per-title layout (one-title releases, one endpoint each)."""

import pytest
from support.memory_backend import MemoryBackend
from support.synthetic import seasonal_series
from typer.testing import CliRunner

from shelfcast.cli import app
from shelfcast.endpoints.base import EndpointError
from shelfcast.endpoints.per_title import one_title_release
from shelfcast.forecasting import fit_title
from shelfcast.lifecycle.deploy import deploy_per_title
from shelfcast.releases import ModelFiles, list_releases, publish
from shelfcast.settings import Settings
from shelfcast.storage import ArtifactStore
from shelfcast.training.run import fit_config

ISBNS = ("9780722532935", "9780241003008")
runner = CliRunner()


@pytest.fixture
def catalogue(tmp_path):
    """A two-title release (seasonal naive bundles) in a local artifact store."""
    models = []
    for seed, isbn in enumerate(ISBNS):
        fitted = fit_title(
            seasonal_series(160, seed=seed, key=isbn),
            fit_config(Settings(), n_origins=1, candidates=("snaive",)),
        )
        models.append(ModelFiles(f"arima_book_{isbn}", "3", fitted.bundle.to_files()))
    return publish(ArtifactStore(tmp_path / "store"), models).release


def test_a_one_title_release_reuses_the_files_and_is_published_once(catalogue):
    one = one_title_release(catalogue, ISBNS[1])

    assert one.models == (catalogue.model(ISBNS[1]),)
    assert one.store == catalogue.store
    assert one_title_release(catalogue, f"arima_book_{ISBNS[1]}").release_id == one.release_id
    assert len(list_releases(catalogue.store)) == 2


def test_a_dry_run_finds_but_never_publishes(catalogue):
    with pytest.raises(EndpointError, match="a dry run publishes nothing"):
        one_title_release(catalogue, ISBNS[0], publish_missing=False)
    published = one_title_release(catalogue, ISBNS[0])
    found = one_title_release(catalogue, ISBNS[0], publish_missing=False)
    assert found.release_id == published.release_id


def test_each_title_gets_its_own_endpoint_and_failures_do_not_stop_the_others(
    catalogue, monkeypatch
):
    broken = one_title_release(catalogue, ISBNS[0]).release_id
    backend = MemoryBackend(faults={broken: "nan"})
    monkeypatch.setattr("shelfcast.endpoints.backends.backend_for", lambda *a, **k: backend)

    result = deploy_per_title(Settings(), catalogue)

    (failed,) = result.failed
    assert failed.endpoint == f"book-sales-{ISBNS[0]}" and "nan" in failed.outcome
    assert [t.outcome for t in result.titles][1] == "deployed"

    good = backend.describe(f"book-sales-{ISBNS[1]}")
    serving = good.serving()
    assert serving is not None
    assert [m.isbn for m in backend.releases[serving.id].models] == [ISBNS[1]]
    assert backend.describe(f"book-sales-{ISBNS[0]}").traffic == {}


@pytest.fixture
def memory(monkeypatch, tmp_path):
    """The CLI on an in-memory backend, with the settings' store where `catalogue` is."""
    backend = MemoryBackend()
    monkeypatch.setattr("shelfcast.endpoints.backends.backend_for", lambda *a, **k: backend)
    monkeypatch.setenv("SHELFCAST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SHELFCAST_ARTIFACT_URI", str(tmp_path / "store"))
    return backend


def test_deploy_canary_promote_and_rollback_from_the_command_line(catalogue, memory):
    deployed = runner.invoke(app, ["deploy"])
    assert deployed.exit_code == 0, deployed.output
    assert catalogue.release_id in deployed.output
    assert memory.describe("book-sales").traffic == {"dm-1": 100}

    again = runner.invoke(app, ["deploy", "--release", catalogue.release_id])
    assert "unchanged" in again.output
    assert [op[0] for op in memory.operations].count("deploy") == 1

    one = one_title_release(catalogue, ISBNS[0])
    canary = runner.invoke(app, ["deploy", "--release", one.uri, "--canary", "20"])
    assert canary.exit_code == 0, canary.output
    assert memory.describe("book-sales").traffic == {"dm-2": 20, "dm-1": 80}

    tested = runner.invoke(app, ["endpoints", "test", "book-sales"])
    assert tested.exit_code == 0, tested.output
    assert "dm-1: smoke: 2 title(s)" in tested.output
    assert "dm-2: smoke: 1 title(s)" in tested.output

    promoted = runner.invoke(app, ["endpoints", "promote", "book-sales"])
    assert promoted.exit_code == 0, promoted.output
    assert memory.describe("book-sales").traffic == {"dm-2": 100}

    rolled = runner.invoke(app, ["endpoints", "rollback", "book-sales"])
    assert rolled.exit_code == 0, rolled.output
    assert memory.describe("book-sales").traffic == {"dm-1": 100}

    described = runner.invoke(app, ["endpoints", "describe", "book-sales"])
    assert "rollback from dm-2" in described.output
    listed = runner.invoke(app, ["endpoints", "list"])
    assert catalogue.release_id in listed.output


def test_a_failed_check_exits_1_and_names_the_check(catalogue, memory):
    memory.faults[catalogue.release_id] = "negative"
    result = runner.invoke(app, ["deploy"])
    assert result.exit_code == 1
    assert "deploy failed at the smoke check" in result.output
    assert "lo_95 is negative" in result.output


def test_start_and_stop_say_when_the_backend_has_none(memory):
    result = runner.invoke(app, ["endpoints", "stop", "book-sales"])
    assert result.exit_code == 1
    assert "cannot stop an endpoint" in result.output
