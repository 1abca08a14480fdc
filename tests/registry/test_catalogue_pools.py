"""Pools kept with catalogue versions on a real MLflow SQLite store: written as rows of JSON,
read back verified, and a title fitted against reused pools served without a fitting library
exactly as fitted."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest
from support.registry import with_holdout_mase
from support.synthetic import launch_catalogue

from shelfcast.errors import BundleError
from shelfcast.forecasting import fit_title, pool_state
from shelfcast.forecasting.content_hash import content_hash, settings_digest
from shelfcast.forecasting.parallel import train_pools
from shelfcast.registry import catalogue_files
from shelfcast.registry.catalogue import register_catalogue
from shelfcast.registry.catalogue_pools import kept_pools, read_pools
from shelfcast.registry.catalogue_titles import extract_title, promote_title, rollback_title
from shelfcast.registry.catalogue_versions import locate
from shelfcast.registry.connection import client_for
from shelfcast.settings import Settings
from shelfcast.training.catalogue import plan_refit
from shelfcast.training.run import fit_config

pytest.importorskip("lightgbm")
CONFIG = fit_config(
    Settings(), n_origins=1, horizon=13, holdout=13, candidates=("snaive", "theta", "gbm")
)
LEVELS = (80, 95)


@pytest.fixture(scope="module")
def catalogue():
    return launch_catalogue(n=60)


@pytest.fixture(scope="module")
def pools(catalogue):
    return train_pools(catalogue, CONFIG)


def hashes(series):
    digest = settings_digest(CONFIG)
    return {s.key: content_hash(s, digest) for s in series}


def changed(series):
    values = series.values.copy()
    values[-3:] += 40.0  # the last weeks corrected
    return series.with_values(values)


def test_pools_round_trip_through_rows_of_json(pools):
    rows = pool_state.to_rows(pools)
    assert {r["family"] for r in rows} == {"gbm"}
    assert len(rows) == len(pools.items()) >= 2  # every cut-off
    back = pool_state.from_rows(json.loads(json.dumps(rows, default=str)))
    assert [cut for cut, _ in back.items()] == [cut for cut, _ in pools.items()]
    assert pool_state.to_rows(back) == rows


def test_a_title_fitted_against_read_back_pools_is_fitted_exactly_as_against_fresh_ones(
    catalogue, pools
):
    title = changed(catalogue[5])
    fresh = fit_title(title, CONFIG, pools)
    reused = fit_title(title, CONFIG, pool_state.from_rows(pool_state.to_rows(pools)))
    assert fresh.backtest.specs == reused.backtest.specs
    assert fresh.bundle.model == reused.bundle.model
    assert fresh.bundle.to_files() == reused.bundle.to_files()


def test_the_settings_hash_follows_the_pool_settings_and_cutoffs(catalogue):
    same = pool_state.settings_hash(CONFIG, catalogue)
    assert pool_state.settings_hash(CONFIG, [changed(s) for s in catalogue]) == same
    longer = dataclasses.replace(CONFIG, max_train_weeks=104)
    assert pool_state.settings_hash(longer, catalogue) != same
    cut = [s.head(len(s) - 1) for s in catalogue]  # a week less: other cut-offs
    assert pool_state.settings_hash(CONFIG, cut) != same


def test_versions_keep_their_pools_and_a_reused_pool_serves_without_fitting_libraries(
    settings, catalogue, pools, tmp_path
):
    rows = pool_state.to_rows(pools)
    first = [fit_title(s, CONFIG, pools) for s in catalogue[:4]]
    about = {
        "settings_hash": pool_state.settings_hash(CONFIG, catalogue),
        "data_hash": pool_state.data_hash(hashes(catalogue)),
    }
    one = register_catalogue(
        settings, first, content_hashes=hashes(catalogue[:4]), pools=rows, pools_info=about
    )
    kept = kept_pools(settings, one.version)
    assert (kept.trained_in, kept.reused_from) == ("1", None)
    assert kept.settings_hash == about["settings_hash"]
    stored = read_pools(settings, "1", kept.file_sha256)
    assert pool_state.to_rows(pool_state.from_rows(stored)) == rows

    title = changed(catalogue[1])
    refit = with_holdout_mase(fit_title(title, CONFIG, pool_state.from_rows(stored)), 1e-6)
    assert '"family":"gbm"' in json.dumps(refit.bundle.model.to_dict(), separators=(",", ":"))
    series = [title if s.key == title.key else s for s in catalogue[:4]]
    two = register_catalogue(
        settings,
        [refit],
        content_hashes=hashes(series),
        pools=stored,
        pools_info={**about, "reused_from": "1", "trained_in": "1"},
    )
    assert two.decisions.set_index("isbn").loc[title.key, "decision"] == "promoted"
    again = kept_pools(settings, two.version)
    assert (again.trained_in, again.reused_from) == ("1", "1")
    assert again.file_sha256 == kept.file_sha256  # the same rows, kept again

    promote_title(settings, title.key, "1", "the older row")  # a champion change, v3
    by_hand = kept_pools(settings, "3")
    assert (by_hand.trained_in, by_hand.reused_from) == ("1", "2")
    assert read_pools(settings, "3", by_hand.file_sha256) == stored
    plan = plan_refit(settings, series, CONFIG)
    assert plan.base_version == "3" and plan.pools.reused_from == "3"
    rollback_title(settings, title.key)  # v4, on top of v3
    assert kept_pools(settings, "4").reused_from == "3"

    folder = extract_title(settings, title.key, tmp_path / "bundle")
    expected = refit.bundle.forecast(13, levels=LEVELS)
    code = f"""
import json, sys
for name in ("statsforecast", "statsmodels", "lightgbm"):
    sys.modules[name] = None  # importing a fitting library fails here
from shelfcast.forecasting import read_bundle
fc = read_bundle({str(folder)!r}).forecast(13, levels={LEVELS!r})
print(json.dumps({{c: fc[c].tolist() for c in ("mean", "lo_80", "hi_95")}}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    served = json.loads(done.stdout)
    for column, values in served.items():
        assert np.allclose(values, expected[column].to_numpy(), rtol=1e-12, atol=0), column


def test_a_damaged_pools_file_is_refused(settings, catalogue, pools):
    first = [fit_title(s, CONFIG, pools) for s in catalogue[:2]]
    register_catalogue(
        settings,
        first,
        content_hashes=hashes(catalogue[:2]),
        pools=pool_state.to_rows(pools),
        pools_info={"settings_hash": "s", "data_hash": "d"},
    )
    kept = kept_pools(settings, "1")
    path = locate(client_for(settings), settings, "1").folder / catalogue_files.POOLS
    path.write_bytes(path.read_bytes()[:-10] + b"0" * 10)
    with pytest.raises(BundleError, match=r"pools\.parquet: checksum"):
        read_pools(settings, "1", kept.file_sha256)
