"""Packaging registered versions into releases, with a real MLflow SQLite store; the
`package` and `releases` commands and the seed's deploy/02 script."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from support.registry import ISBN_A, ISBN_B, train, with_holdout_mase
from typer.testing import CliRunner

from shelfcast import registry
from shelfcast.catalog.segments import segment_of
from shelfcast.cli import app
from shelfcast.packaging import PackagingError, package
from shelfcast.registry.pyfunc import DATA_SUBPATH
from shelfcast.releases import (
    MANIFEST,
    ModelFiles,
    ReleaseError,
    list_releases,
    load_bundles,
    publish,
    read_release,
)
from shelfcast.storage import ArtifactStore

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "deploy" / "02_upload_models_to_gcs.py"
NAME_A, NAME_B = registry.model_name(ISBN_A), registry.model_name(ISBN_B)
runner = CliRunner()


def versions(release) -> dict[str, str]:
    return {m.name: m.version for m in release.models}


def test_champions_are_packaged_byte_for_byte(settings, fits):
    run = train(settings, fits)
    stages: list[tuple[str, int, int]] = []
    result = package(settings, progress=lambda *a: stages.append(a))
    release = result.release
    assert result.created and sorted(result.written) == [NAME_B, NAME_A]
    assert release.store == settings.artifact_root == str(settings.home / "artifacts")
    assert versions(release) == {NAME_B: "1", NAME_A: "1"}
    assert stages == [("fetching", 1, 2), ("fetching", 2, 2), ("writing", 2, 2)]

    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    for reg in run.registrations:
        model = release.model(reg.isbn)
        fit = next(f for f in fits if f.key == reg.isbn)
        assert (model.name, model.run_id, model.path) == (
            reg.model_name,
            reg.run_id,
            f"models/{reg.model_name}/1",
        )
        assert model.model_family == fit.bundle.family
        assert model.segment == fit.bundle.evaluation["segment"]["name"] == "established/smooth"
        assert model.title == fit.bundle.history.title
        assert model.backtest_mase == pytest.approx(fit.selected_mase, rel=1e-5)
        for name in model.files:  # the files as MLflow holds them, unchanged
            logged = client.download_artifacts(
                reg.run_id, f"model/{DATA_SUBPATH}/{name}", str(settings.home / "dl")
            )
            stored = Path(release.store, model.path, name).read_bytes()
            assert stored == Path(logged).read_bytes()

    bundles = load_bundles(read_release(release.uri))
    for fit in fits:
        pd.testing.assert_frame_equal(
            bundles[registry.model_name(fit.key)].forecast(12), fit.bundle.forecast(12)
        )


def test_packaging_the_same_versions_again_is_a_verified_no_op(settings, fits):
    train(settings, fits)
    first = package(settings)
    store = Path(first.release.store)
    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    again = package(settings)
    assert not again.created and again.release == first.release
    assert again.written == () and sorted(again.unchanged) == [NAME_B, NAME_A]
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == before
    assert [r.release_id for r in list_releases(str(store))] == [first.release.release_id]


def test_choosing_models_and_versions(settings, fits, refit):
    train(settings, fits)
    train(settings, [with_holdout_mase(refit, 99.0)], fingerprint="2")  # A v2: kept
    champions = package(settings).release
    assert versions(champions) == {NAME_B: "1", NAME_A: "1"}

    one = package(settings, names=[ISBN_A]).release
    assert versions(one) == {NAME_A: "1"}
    pinned = package(settings, names=[NAME_A], version="2")
    assert versions(pinned.release) == {NAME_A: "2"} and pinned.written == (NAME_A,)
    assert package(settings, names=[ISBN_A], version="challenger").release == pinned.release

    client = MlflowClient(settings.tracking_uri, settings.tracking_uri)
    client.delete_registered_model_alias(NAME_A, registry.CHAMPION)
    assert versions(package(settings).release) == {NAME_B: "1"}
    assert versions(package(settings, every=True).release) == {NAME_B: "1", NAME_A: "2"}
    assert versions(package(settings, names=[ISBN_A]).release) == {NAME_A: "2"}  # latest


def test_nothing_to_package_and_unknown_models_are_errors(settings, fits, tmp_path):
    with pytest.raises(PackagingError, match="no registered model has a champion"):
        package(settings)
    train(settings, fits[:1])
    with pytest.raises(registry.ModelNotFound, match="arima_book_9780000000002"):
        package(settings, names=["9780000000002"])
    with pytest.raises(registry.VersionNotFound, match="no version '7'"):
        package(settings, names=[ISBN_A], version="7")
    with pytest.raises(registry.RegistryError, match="one model"):
        package(settings, names=[ISBN_A, ISBN_B], version="1")
    other = package(settings, to=str(tmp_path / "elsewhere")).release
    assert other.store == str(tmp_path / "elsewhere")
    assert ArtifactStore(other.store).exists(f"releases/{other.release_id}/manifest.json")


def test_releases_record_segments_and_read_manifests_written_before(fits, tmp_path):
    """A bundle written before segments were recorded is released with its history's
    segment; a manifest without segments (written before) still reads, without them."""
    a, b = (fit.bundle for fit in fits)
    older = dataclasses.replace(
        b, evaluation={k: v for k, v in b.evaluation.items() if k != "segment"}
    )
    recorded = {
        **a.evaluation,
        "segment": {
            **a.evaluation["segment"],
            "name": "young/lumpy",
            "stage": "young",
            "demand": "lumpy",
        },
    }
    models = [
        ModelFiles(NAME_A, "1", dataclasses.replace(a, evaluation=recorded).to_files()),
        ModelFiles(NAME_B, "1", older.to_files()),
    ]
    store = ArtifactStore(tmp_path / "store")
    release = publish(store, models).release
    assert {m.name: m.segment for m in release.models} == {
        NAME_A: "young/lumpy",
        NAME_B: segment_of(b.history.values).name,
    }
    path = Path(release.uri) / MANIFEST
    manifest = json.loads(path.read_text())
    assert [m["segment"] for m in manifest["models"]] == [m.segment for m in release.models]
    for entry in manifest["models"]:
        del entry["segment"]
    path.write_text(json.dumps(manifest))
    before = read_release(release.uri)
    assert [m.segment for m in before.models] == [None, None]
    assert before.release_id == release.release_id
    assert {k: b.segment.name for k, b in load_bundles(before).items()} == {
        NAME_A: "young/lumpy",
        NAME_B: segment_of(b.history.values).name,
    }
    broken = dataclasses.replace(a, evaluation={**a.evaluation, "segment": {"weeks": 3}})
    with pytest.raises(ReleaseError, match=f"{NAME_A} v2: unreadable bundle.*segment"):
        publish(store, [ModelFiles(NAME_A, "2", broken.to_files())])


# ---------------------------------------------------------------------------- command line


def test_cli_package_and_releases(cli_home, fits):
    train(cli_home, fits)
    result = runner.invoke(app, ["package"])
    assert result.exit_code == 0, result.output
    (release,) = list_releases(cli_home.artifact_root)
    assert release.release_id in result.output and "new release" in result.output
    assert NAME_A in result.output and "model folders written" in result.output

    result = runner.invoke(app, ["package"])
    assert result.exit_code == 0, result.output
    assert "already released (no change)" in result.output and "2 (verified identical)" in (
        result.output
    )

    result = runner.invoke(app, ["releases", "list"])
    assert result.exit_code == 0, result.output
    assert release.release_id in result.output and "releases" in result.output

    result = runner.invoke(app, ["releases", "show", release.release_id])
    assert result.exit_code == 0, result.output
    assert NAME_A in result.output and NAME_B in result.output and release.uri in result.output
    assert "segment" in result.output and "established/smooth" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["package", "--all", "--model-name", ISBN_A], "--all and --model-name exclude"),
        (["package", "--model-version", "1"], "--model-version needs --model-name"),
        (["package", "--model-name", "9780000000002"], "no registered model named"),
        (["releases", "show", "r-20990101-0000000000"], "no release 'r-20990101-0000000000'"),
    ],
)
def test_cli_errors_exit_1_with_a_clear_message(cli_home, fits, args, message):
    train(cli_home, fits[:1])
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output


def test_cli_help_has_examples():
    for args in (["package"], ["releases", "list"], ["releases", "show"]):
        result = runner.invoke(app, [*args, "--help"])
        assert result.exit_code == 0 and "Example" in result.output


def test_the_progress_bars_say_what_they_fetch_and_write(cli_home, fits):
    """Not just `Writing`: what is written where, and what is fetched from where."""
    from shelfcast.lifecycle import package_release

    train(cli_home, fits)
    events = []
    package_release(cli_home, progress=events.append)
    labels = {e.label for e in events}
    assert labels == {
        "Fetching model files from MLflow",
        "Writing model files to the artifact store",
    }
    assert {e.detail for e in events} == {cli_home.tracking_uri, cli_home.artifact_root}
    assert [e.done for e in events if e.key == "package.write"][-1] == 2

    result = runner.invoke(app, ["package", "--all"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    assert "Writing model files to the artifact store" in result.output
    assert "Fetching model files from MLflow" in result.output


# ---------------------------------------------------------------------------- the seed's script


def seed_script():
    spec = importlib.util.spec_from_file_location("upload_models", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_seed_script_maps_its_options_to_the_package_options():
    from shelfcast.lifecycle import PackageOptions

    script = seed_script()

    def options(*argv: str) -> PackageOptions:
        return script.package_options(script.parse_args(list(argv)))

    assert options("--upload-all", "--bucket-name", "b", "--project-id", "p") == PackageOptions(
        every=True, to="gs://b", project="p"
    )
    assert options("--model-name", ISBN_A, "--model-version", "2", "--env", "testing") == (
        PackageOptions(names=(ISBN_A,), version="2")
    )
    for wrong in (["--model-version", "2", "--upload-all"], ["--list-models", "--upload-all"], []):
        with pytest.raises(SystemExit) as exited:
            script.parse_args(wrong)
        assert exited.value.code == 2


def test_seed_script_lists_and_uploads(cli_home, fits, refit):
    train(cli_home, fits)
    train(cli_home, [with_holdout_mase(refit, 99.0)], fingerprint="2")  # A v2: kept
    env = {**os.environ, "COLUMNS": "200"}
    listed = subprocess.run(
        [sys.executable, str(SCRIPT), "--list-models"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert NAME_A in listed.stdout and NAME_B in listed.stdout

    assert seed_script().main(["--model-name", ISBN_A, "--model-version", "2"]) == 0
    (release,) = list_releases(cli_home.artifact_root)
    assert versions(release) == {NAME_A: "2"}
    assert seed_script().main(["--upload-all"]) == 0
    assert len(list_releases(cli_home.artifact_root)) == 2
    assert seed_script().main(["--model-name", "9780000000002"]) == 1
