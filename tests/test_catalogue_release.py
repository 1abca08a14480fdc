"""Catalogue releases: a few checksummed files and one manifest, content-addressed, read back
verified and memory-mapped; batch forecasts of every title into one file; the commands that
list and show releases."""

import json
import subprocess

import pyarrow.parquet as pq
import pytest
from support.catalogue_release import MODEL, catalogue_table, publish_table, versions_of
from support.cli import SHELFCAST, environment
from support.releases import NAME_A, publish_release

from shelfcast.catalogue_releases import read_catalogue
from shelfcast.forecasting import bundle_table
from shelfcast.lifecycle.batch import BatchError, batch_forecast
from shelfcast.releases import CATALOGUE_FORMAT_VERSION, ReleaseError, list_releases, read_release
from shelfcast.serving.catalogue import catalogue_pool

TITLES = 60


@pytest.fixture(scope="module")
def table():
    return catalogue_table(TITLES)


@pytest.fixture
def published(tmp_path, table):
    return publish_table(tmp_path / "store", table)


def test_a_catalogue_release_is_a_few_files_and_a_manifest(published, tmp_path, table):
    release = published.release
    store = tmp_path / "store"
    assert published.created and release.kind == "catalogue" and release.models == ()
    catalogue = release.catalogue
    assert catalogue.titles == TITLES and catalogue.model_name == MODEL
    assert sorted(catalogue.files) == ["shared.parquet", "titles-00000.parquet", "versions.parquet"]
    folder = store / catalogue.path
    assert sorted(p.name for p in folder.iterdir()) == sorted(catalogue.files)
    for name, sha in catalogue.files.items():
        assert bundle_table.file_sha256(folder / name) == sha
    manifest = json.loads((store / "releases" / release.release_id / "manifest.json").read_text())
    assert manifest["format_version"] == CATALOGUE_FORMAT_VERSION
    assert manifest["kind"] == "catalogue" and "models" not in manifest
    assert catalogue.families == {"snaive": TITLES}
    assert 0 < len(catalogue.sample) <= 20
    assert all(s.isbn in table and s.name == MODEL for s in catalogue.sample)
    assert read_release(release.uri) == release


def test_publishing_the_same_table_again_finds_the_release(published, tmp_path, table):
    again = publish_table(tmp_path / "store", table)
    assert not again.created and again.written == ()
    assert again.release == published.release
    other = publish_table(tmp_path / "store", table.select(table.keys[:10]))
    assert other.created and other.release.release_id != published.release.release_id
    assert other.release.catalogue.path != published.release.catalogue.path


def test_catalogue_and_per_title_releases_share_a_store(published, tmp_path, bundles):
    titles = publish_release(tmp_path / "store", bundles)
    listed = {r.release_id: r for r in list_releases(str(tmp_path / "store"))}
    assert set(listed) == {titles.release_id, published.release.release_id}
    assert listed[titles.release_id].kind == "titles" and listed[titles.release_id].titles == 2
    assert listed[titles.release_id].model(NAME_A).name == NAME_A
    assert listed[published.release.release_id].titles == TITLES


def test_the_table_reads_back_verified_with_each_titles_version(published, table):
    rows = read_catalogue(published.release)
    assert rows.table.keys == table.keys
    assert "evaluation" not in rows.table.titles.column_names
    assert rows.versions == [versions_of(table)[k] for k in table.keys]
    pool = catalogue_pool(published.release)
    key = table.keys[3]
    model = pool.get(f"{key[:3]}-{key[3:]}")
    assert (model.name, model.version, model.isbn) == (MODEL, "2", key)
    assert model.bundle.to_files() == table.bundle(key).to_files()


def test_a_damaged_file_is_refused_naming_it(published, tmp_path):
    release = published.release
    part = tmp_path / "store" / release.catalogue.path / "titles-00000.parquet"
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(ReleaseError, match=r"titles-00000\.parquet: checksum"):
        read_catalogue(release)


def test_an_edited_manifest_is_refused(published, tmp_path):
    path = tmp_path / "store" / "releases" / published.release.release_id / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["catalogue"]["titles"] = 100_000
    path.write_text(json.dumps(manifest))
    with pytest.raises(ReleaseError, match="do not match its digest"):
        read_release(str(path.parent))


def test_a_batch_forecast_writes_every_title_to_one_parquet_file(published, tmp_path, table):
    out = tmp_path / "out" / "forecasts.parquet"
    result = batch_forecast(published.release, str(out), horizon=8, levels=(80,), quantiles=(0.5,))
    assert result.titles == TITLES and result.rows == TITLES * 8
    assert [p.name for p in out.parent.iterdir()] == ["forecasts.parquet"]
    frame = pq.read_table(out).to_pandas()
    assert list(frame.columns[:5]) == ["isbn", "model_name", "model_version", "week_ending", "mean"]
    assert {"lo_80", "hi_80", "p50"} <= set(frame.columns)
    assert sorted(frame["isbn"].unique()) == table.keys
    assert (frame.groupby("isbn").size() == 8).all()
    versions = frame.drop_duplicates("isbn").set_index("isbn")["model_version"].to_dict()
    assert versions == versions_of(table) and set(frame["model_name"]) == {MODEL}
    key = table.keys[5]
    expected = table.bundle(key).forecast(8, (80,), quantiles=(0.5,))
    got = frame[frame["isbn"] == key].reset_index(drop=True)
    assert got["mean"].tolist() == expected["mean"].tolist()


def test_a_batch_of_chosen_titles_and_in_vertex_ai_format(published, tmp_path, table):
    chosen = table.keys[:2]
    out = tmp_path / "some.csv"
    result = batch_forecast(
        published.release, str(out), horizon=4, levels=(80,), quantiles=(), isbns=chosen
    )
    assert result.titles == 2 and result.rows == 8
    lines = tmp_path / "all.jsonl"
    result = batch_forecast(published.release, str(lines), horizon=4, levels=(80,), quantiles=())
    answers = [json.loads(line) for line in lines.read_text().splitlines()]
    assert result.rows == TITLES and result.errors == 0
    assert [a["instance"]["isbn"] for a in answers] == table.keys
    assert answers[0]["prediction"]["model_name"] == MODEL
    with pytest.raises(BatchError, match="has no title '9780000000000'"):
        batch_forecast(
            published.release,
            str(out),
            horizon=4,
            levels=(80,),
            quantiles=(),
            isbns=["9780000000000"],
        )


def test_releases_list_and_show_describe_a_catalogue_release(published, tmp_path):
    store = str(tmp_path / "store")
    env = environment(COLUMNS="250")

    def run(*args: str) -> str:
        done = subprocess.run(
            [SHELFCAST, "releases", *args, "--store", store],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    release = published.release
    listed = run("list")
    assert release.release_id in listed and f"snaive {TITLES}" in listed
    shown = run("show", release.release_id)
    assert "titles-00000.parquet" in shown and release.catalogue.files["shared.parquet"] in shown
    assert f"{MODEL} v3" in shown and "catalogue" in shown


def test_shelfcast_forecast_writes_a_catalogue_releases_forecasts(published, tmp_path, table):
    out = tmp_path / "forecasts.parquet"
    command = [SHELFCAST, "forecast", "--release", published.release.uri, "--all"]
    done = subprocess.run(
        [*command, "--out", str(out), "--horizon", "6"],
        env=environment(SHELFCAST_HOME=str(tmp_path / "home"), COLUMNS="250"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert f"{TITLES * 6:,} rows" in done.stdout
    assert sorted(set(pq.read_table(out, columns=["isbn"]).column("isbn").to_pylist())) == (
        table.keys
    )
