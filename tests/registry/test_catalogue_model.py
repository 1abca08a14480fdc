"""The catalogue model on a real MLflow SQLite store: versions gated title by title, the
champion map, rollback of a title and of a version, incremental refits, extraction."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.registry import CONFIG, weekly, with_holdout_mase
from typer.testing import CliRunner

from shelfcast import registry
from shelfcast.cli import app
from shelfcast.errors import BundleError
from shelfcast.forecasting import bundle_table, fit_title
from shelfcast.forecasting.bundle import read_bundle
from shelfcast.registry import catalogue_files
from shelfcast.registry.catalogue import champion_table, register_catalogue
from shelfcast.registry.catalogue_lookup import find, title_record
from shelfcast.registry.catalogue_titles import (
    extract_title,
    promote_title,
    rollback_title,
    title_history,
)
from shelfcast.registry.catalogue_versions import locate
from shelfcast.registry.connection import client_for
from shelfcast.training.catalogue import plan_refit

ISBNS = ["9780000000002", "9780000000019", "9780000000026"]


def series_of(n: int, bump: float = 0.0):
    s = weekly(ISBNS[n], n + 1, title=f"Title {n}")
    if bump:
        values = s.values.copy()
        values[-1] += bump
        s = s.with_values(values)
    return s


@pytest.fixture(scope="module")
def first():
    return [fit_title(series_of(n), CONFIG) for n in range(3)]


@pytest.fixture(scope="module")
def second():
    """Titles 0 and 1 refitted on a corrected last week: new models."""
    return [fit_title(series_of(n, bump=30.0), CONFIG) for n in range(2)]


def plan_refit_hashes(series):
    from shelfcast.forecasting.content_hash import content_hash, settings_digest

    digest = settings_digest(CONFIG)
    return {s.key: content_hash(s, digest) for s in series}


def register(settings, fits, series, **kwargs):
    return register_catalogue(
        settings,
        fits,
        content_hashes=plan_refit_hashes(series),
        **kwargs,
    )


def versions_of(settings):
    return champion_table(settings).versions


def test_versions_gate_title_by_title(settings, first, second):
    one = register(settings, first, [series_of(n) for n in range(3)])
    assert (one.version, one.base_version) == ("1", None)
    assert one.counts["promoted"] == 3 and set(one.decisions["decision"]) == {"promoted"}
    assert versions_of(settings) == dict.fromkeys(ISBNS, "1")

    better = with_holdout_mase(second[0], 1e-6)  # beats its champion on the newest weeks
    worse = with_holdout_mase(second[1], 1e6)  # does not: the older row stays champion
    two = register(settings, [better, worse], [series_of(0, 30.0), series_of(1, 30.0)])
    assert (two.version, two.base_version) == ("2", "1")
    decided = two.decisions.set_index("isbn")
    assert decided.loc[ISBNS[0], "decision"] == "promoted"
    assert decided.loc[ISBNS[1], "decision"] == "kept"
    assert "does not beat" in decided.loc[ISBNS[1], "reason"]
    assert two.counts == {
        "titles": 3,
        "fitted": 2,
        "promoted": 1,
        "kept": 1,
        "carried": 1,
        "failed": 0,
        "failed_new": 0,
    }

    champions = champion_table(settings)
    assert champions.version == "2" and champions.model_name == "book_sales_catalogue"
    assert champions.versions == {ISBNS[0]: "2", ISBNS[1]: "1", ISBNS[2]: "2"}
    assert champions.table.bundle(ISBNS[0]).model == second[0].bundle.model
    assert champions.table.bundle(ISBNS[1]).model == first[1].bundle.model  # the better, older
    assert champions.table.bundle(ISBNS[2]).model == first[2].bundle.model  # carried over
    assert champion_table(settings, "1").versions == dict.fromkeys(ISBNS, "1")

    # The version's own files: every title it fitted or carried, metrics and decisions.
    at = registry.catalogue_versions.locate(registry.client_for(settings), settings, "2")
    own = catalogue_files.read_table(at.folder)
    assert own.keys == sorted(ISBNS)
    assert own.bundle(ISBNS[1]).model == second[1].bundle.model  # the rejected fit is kept too
    metrics = catalogue_files.read_parquet(at.folder, catalogue_files.METRICS).to_pandas()
    assert dict(zip(metrics["isbn"], metrics["version"], strict=True)) == {
        ISBNS[0]: "2",
        ISBNS[1]: "2",
        ISBNS[2]: "1",
    }
    run = registry.client_for(settings).get_run(two.run_id)
    assert run.data.metrics["counts/carried"] == 1
    assert "all/mase" in run.data.metrics and "all/wql" in run.data.metrics


def test_rollback_of_a_title_and_of_a_version(settings, first, second):
    register(settings, first, [series_of(n) for n in range(3)])
    register(
        settings,
        [with_holdout_mase(second[0], 1e-6), with_holdout_mase(second[1], 1e-6)],
        [series_of(0, 30.0), series_of(1, 30.0)],
    )
    assert versions_of(settings) == dict.fromkeys(ISBNS, "2")

    assert rollback_title(settings, ISBNS[0]) == ("2", "1")
    assert versions_of(settings) == {ISBNS[0]: "1", ISBNS[1]: "2", ISBNS[2]: "2"}
    record = title_record(settings, ISBNS[0])
    assert record["version"] == "3" and record["decision"]["decision"] == "rolled back"
    assert record["metrics"]["version"] == "1"
    with pytest.raises(registry.NoPreviousChampion):
        rollback_title(settings, ISBNS[0])  # v1's row had none before it

    # Rolling the catalogue back a version undoes the title's rollback.
    assert registry.rollback(settings, "book_sales_catalogue") == "2"
    assert versions_of(settings) == dict.fromkeys(ISBNS, "2")

    assert promote_title(settings, ISBNS[1], "1", reason="holiday model") == "2"
    assert versions_of(settings)[ISBNS[1]] == "1"
    history = title_history(settings, ISBNS[1])
    assert [h["decision"] for h in history] == [
        "promoted by hand",
        "unchanged",
        "promoted",
        "promoted",
    ]


def test_incremental_retrain_refits_only_changed_titles(settings, first):
    unchanged = [series_of(n) for n in range(3)]
    plan = plan_refit(settings, unchanged, CONFIG)
    assert plan.base_version is None and plan.refit == ISBNS
    register(settings, first, unchanged)

    assert plan_refit(settings, unchanged, CONFIG).refit == []
    changed = [series_of(0), series_of(1, bump=30.0), series_of(2)]
    plan = plan_refit(settings, changed, CONFIG)
    assert (plan.base_version, plan.refit) == ("1", [ISBNS[1]])
    assert plan_refit(settings, changed, CONFIG, full=True).refit == ISBNS
    other = dataclasses.replace(CONFIG, n_origins=3)
    assert plan_refit(settings, unchanged, other).refit == ISBNS  # settings count too

    refit = fit_title(changed[1], CONFIG)
    two = register(settings, [refit], changed)
    assert two.counts["fitted"] == 1 and two.counts["carried"] == 2
    at = registry.catalogue_versions.locate(registry.client_for(settings), settings, "2")
    own = catalogue_files.read_table(at.folder)
    for n in (0, 2):  # carried rows are the champion rows, byte for byte
        assert own.bundle(ISBNS[n]).to_files() == first[n].bundle.to_files()
    assert plan_refit(settings, changed, CONFIG).refit == []

    # Nothing refitted: no new version.
    same = register(settings, [], changed)
    assert same.version is None and same.base_version == "2"


def test_extracting_a_title_gives_its_bundle_files(settings, first, tmp_path):
    register(settings, first, [series_of(n) for n in range(3)])
    folder = extract_title(settings, ISBNS[1], tmp_path / "bundle")
    assert read_bundle(folder).to_files() == first[1].bundle.to_files()
    expected = {name: data for name, data in first[1].bundle.to_files().items()}
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == expected
    with pytest.raises(registry.VersionNotFound, match="holds no title 9780000000033"):
        title_record(settings, "9780000000033")


def rekeyed(fits, count):
    """`count` copies of the fits' bundles, keyed k00000, k00001, ..."""
    return [
        dataclasses.replace(
            fits[i % len(fits)].bundle,
            history=dataclasses.replace(fits[i % len(fits)].bundle.history, key=f"k{i:05d}"),
        )
        for i in range(count)
    ]


def test_a_row_is_read_from_its_row_group_alone(tmp_path, first):
    table = bundle_table.from_bundles(rekeyed(first, 2500))
    table.write(tmp_path)
    found = bundle_table.read_keys(tmp_path, ["k01234", "missing"])
    assert found.keys == ["k01234"]
    assert found.bundle("k01234").to_files() == table.bundle("k01234").to_files()


def test_a_verified_row_read_checks_the_files_it_reads(tmp_path, first, monkeypatch):
    monkeypatch.setattr(bundle_table, "PART_ROWS", 1000)  # three parts: k0.., k1.., k2..
    table = bundle_table.from_bundles(rekeyed(first, 2500))
    checksums = table.write(tmp_path)
    parts = sorted(n for n in checksums if n.startswith(bundle_table.PART_PREFIX))
    assert len(parts) == 3
    (tmp_path / "titles-stray.parquet").write_bytes(b"not named by the checksums")
    last = tmp_path / parts[-1]
    data = last.read_bytes()  # a byte of its row data changed, its footer intact
    middle = len(data) // 2
    last.write_bytes(data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :])
    found = bundle_table.read_keys(tmp_path, ["k00042"], checksums=checksums)
    assert found.bundle("k00042").to_files() == table.bundle("k00042").to_files()
    with pytest.raises(BundleError, match=rf"{parts[-1]}: checksum"):
        bundle_table.read_keys(tmp_path, ["k02042"], checksums=checksums)
    shared = tmp_path / bundle_table.SHARED_FILE
    shared.write_bytes(shared.read_bytes() + b"\0")
    with pytest.raises(BundleError, match=r"shared\.parquet: checksum"):
        bundle_table.read_keys(tmp_path, ["k00042"], checksums=checksums)


def test_cli_show_extract_and_roll_back_a_catalogue_title(cli_home, first, second, tmp_path):
    register(cli_home, first, [series_of(n) for n in range(3)])
    register(cli_home, [with_holdout_mase(second[0], 1e-6)], [series_of(0, 30.0)])
    runner = CliRunner()

    result = runner.invoke(app, ["models", "show", ISBNS[0], "--history"])
    assert result.exit_code == 0, result.output
    assert "book_sales_catalogue v2" in result.output and "promoted" in result.output
    assert "in every catalogue version" in result.output

    out = tmp_path / "extracted"
    result = runner.invoke(app, ["models", "extract", ISBNS[0], "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert read_bundle(out).to_files() == second[0].bundle.to_files()

    result = runner.invoke(app, ["models", "rollback", ISBNS[0], "--catalogue"])
    assert result.exit_code == 0, result.output
    assert "v2 -> v1" in result.output
    result = runner.invoke(app, ["models", "show", "book_sales_catalogue"])
    assert result.exit_code == 0, result.output
    assert "moved by hand" in result.output and "1 promoted, 0 kept, 2 carried" in result.output
    result = runner.invoke(app, ["models", "rollback", "book_sales_catalogue"])
    assert result.exit_code == 0, result.output
    assert "v3 -> v2" in result.output

    result = runner.invoke(app, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "book_sales_catalogue: champion v2, 3 titles" in result.output

    result = runner.invoke(app, ["models", "show", "9780000000033"])
    assert result.exit_code == 1
    assert "holds no title 9780000000033" in result.output and "Traceback" not in result.output


def test_versions_found_in_the_local_store_are_mlflow_clients(settings, first, second):
    register(settings, first, [series_of(n) for n in range(3)])
    register(settings, [with_holdout_mase(second[0], 1e-6)], [series_of(0, 30.0)])
    client = client_for(settings)
    for ref in ("champion", "challenger", "1", "v2"):
        assert find(settings, ref) == locate(client, settings, ref)
    for ref in ("9", "nope"):
        with pytest.raises(registry.VersionNotFound) as by_mlflow:
            locate(client, settings, ref)
        with pytest.raises(registry.VersionNotFound) as read_here:
            find(settings, ref)
        assert str(read_here.value) == str(by_mlflow.value)
    other = settings.replace(registry={"catalogue_model": "no_such_catalogue"})
    with pytest.raises(registry.ModelNotFound, match="no registered model named"):
        find(other)


SHOW_IN_A_NEW_PROCESS = """
import json, sys
from shelfcast.cli import app
from shelfcast.errors import BundleError
try:
    app(["models", "show", sys.argv[1]])
except SystemExit as exc:
    code = exc.code
heavy = ("mlflow", "scipy", "statsmodels", "statsforecast", "lightgbm", "sqlalchemy")
print(json.dumps({"exit": code, "imported": sorted(m for m in heavy if m in sys.modules)}))
"""


def test_cli_show_of_a_title_imports_no_mlflow_nor_fitting_library(cli_home, first, second):
    register(cli_home, first, [series_of(n) for n in range(3)])
    register(cli_home, [with_holdout_mase(second[0], 1e-6)], [series_of(0, 30.0)])
    src = Path(registry.__file__).parents[2]
    env = {**os.environ, "PYTHONPATH": str(src), "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-c", SHOW_IN_A_NEW_PROCESS, ISBNS[0]],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    *printed, last = done.stdout.strip().splitlines()
    assert json.loads(last) == {"exit": 0, "imported": []}, done.stderr
    facts = {line.split(maxsplit=1)[0]: line for line in printed if line.strip()}
    record = title_record(cli_home, ISBNS[0])
    assert "book_sales_catalogue v2 (champion map)" in facts["catalogue"]
    assert f"{record['family']} ({record['segment']})" in facts["family"]
    assert f"{record['weeks']} weeks from {record['start']}" in "\n".join(printed)
    assert record["decision"]["decision"] == "promoted" and "promoted" in facts["decision"]
