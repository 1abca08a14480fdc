"""The catalogue's columnar table of bundles: exact round trips, shared arrays stored once,
checksums, and clear errors for damaged files."""

import dataclasses
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import synthetic_catalogue

from shelfcast.errors import BundleError
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.parallel import fit_titles
from shelfcast.settings import Settings
from shelfcast.training.run import fit_config


@pytest.fixture(scope="module")
def fits():
    """Eight titles fitted with a pooled family (gbm) among the candidates, one calibration."""
    config = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta", "gbm"))
    fits, errors = fit_titles(synthetic_catalogue(n=8, weeks=260), config, workers=1)
    assert not errors and len(fits) == 8
    return fits


def test_a_written_table_gives_back_each_bundle_exactly(fits, tmp_path):
    hashes = {f.key: f"h{i}" for i, f in enumerate(fits)}
    table = bundle_table.from_bundles([f.bundle for f in fits], hashes)
    sums = table.write(tmp_path)
    again = bundle_table.read(tmp_path, sums)
    assert again.keys == sorted(f.key for f in fits)
    for fit in fits:
        bundle = again.bundle(fit.key)
        assert bundle.to_files() == fit.bundle.to_files()
        assert bundle.forecast(6, (80,), quantiles=(0.1, 0.9)).equals(
            fit.bundle.forecast(6, (80,), quantiles=(0.1, 0.9))
        )
    backwards = [f.key for f in fits][::-1]
    together = again.bundles(backwards)  # rows read together, in the order asked
    assert [b.to_files() for b in together] == [again.bundle(k).to_files() for k in backwards]
    assert again.column("content_hash") == [hashes[k] for k in again.keys]
    assert again.column("segment") == [
        f.bundle.segment.name for f in sorted(fits, key=lambda f: f.key)
    ]


def test_pooled_arrays_and_the_calibration_are_stored_once(fits):
    table = bundle_table.from_bundles([f.bundle for f in fits])
    uses_gbm = [f for f in fits if "gbm" in json.dumps(f.bundle.model.to_dict())]
    assert uses_gbm, "the fixture should select gbm somewhere"
    stored = sum(len(s) for s in table.shared.values())
    rows = sum(len(s) for s in table.column("model"))
    inline = sum(len(json.dumps(f.bundle.model.to_dict())) for f in fits)
    assert rows + stored < inline / 2
    assert len(set(table.column("calibration"))) == 1


def test_select_and_concat_keep_the_last_row_of_a_key(fits):
    table = bundle_table.from_bundles([f.bundle for f in fits])
    first, second = table.keys[:3], table.keys[2:5]
    newer = bundle_table.from_bundles(
        [
            dataclasses.replace(table.bundle(k), created_at="2030-01-01T00:00:00+00:00")
            for k in second
        ]
    )
    merged = bundle_table.concat([table.select(first), newer])
    assert merged.keys == sorted({*first, *second})
    assert merged.bundle(table.keys[2]).created_at == "2030-01-01T00:00:00+00:00"
    assert merged.bundle(table.keys[0]).created_at == table.bundle(table.keys[0]).created_at


def test_serving_columns_leave_the_evaluations_unread(fits, tmp_path):
    bundle_table.from_bundles([f.bundle for f in fits]).write(tmp_path)
    table = bundle_table.read(tmp_path, columns=bundle_table.SERVING_COLUMNS)
    assert "evaluation" not in table.titles.column_names
    key = table.keys[0]
    assert table.bundle(key).evaluation == {}
    assert table.bundle(key).model == next(f for f in fits if f.key == key).bundle.model


def test_a_changed_file_is_refused_by_its_checksum(fits, tmp_path):
    sums = bundle_table.from_bundles([f.bundle for f in fits]).write(tmp_path)
    part = tmp_path / "titles-00000.parquet"
    part.write_bytes(part.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"titles-00000\.parquet: checksum"):
        bundle_table.read(tmp_path, sums)
    (tmp_path / "shared.parquet").unlink()
    with pytest.raises(BundleError, match=r"shared\.parquet is missing"):
        bundle_table.read(tmp_path, sums)


def test_a_table_of_another_schema_or_version_is_refused(tmp_path):
    pq.write_table(pa.table({"key": ["a"], "values": ["x"]}), tmp_path / "titles-00000.parquet")
    pq.write_table(pa.table({"digest": ["d"], "json": ["1"]}), tmp_path / bundle_table.SHARED_FILE)
    with pytest.raises(BundleError, match="catalogue table version"):
        bundle_table.read(tmp_path)
    with pytest.raises(BundleError, match="holds no catalogue table"):
        bundle_table.read(tmp_path / "nothing-here")


def test_a_missing_shared_value_is_named(fits):
    table = bundle_table.from_bundles([f.bundle for f in fits])
    broken = bundle_table.BundleTable(table.titles, {})
    with pytest.raises(BundleError, match=r"shared value .* is missing"):
        broken.bundle(table.keys[0])
