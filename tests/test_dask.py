"""Training titles on a Dask cluster: the train step's fit path (`executors.fit_on`) on a
`dask.distributed.LocalCluster` of two worker processes gives the same champions, scores and
models as Shelfcast's own process pool."""

from __future__ import annotations

import pytest
from support.synthetic import seasonal_series

distributed = pytest.importorskip("distributed")

from shelfcast.catalog.reader import read_sales  # noqa: E402
from shelfcast.catalog.sample import write_sample  # noqa: E402
from shelfcast.catalog.series import weekly_series  # noqa: E402
from shelfcast.forecasting import fit_titles  # noqa: E402
from shelfcast.forecasting.parallel import batch_sizes, train_pools  # noqa: E402
from shelfcast.settings import Settings  # noqa: E402
from shelfcast.training.executors import ExecutorChoice, fit_on, open_executor  # noqa: E402
from shelfcast.training.run import fit_config  # noqa: E402

ISBNS = ["9780722532935", "9780241003008"]
CONFIG = fit_config(Settings(), n_origins=2, candidates=("snaive", "theta", "sarima", "dhr"))


@pytest.fixture(scope="module")
def series(tmp_path_factory):
    """The seed's two titles and the two best-selling others of the sample catalogue."""
    folder = tmp_path_factory.mktemp("dask")
    path, _isbn_list = write_sample(folder, fmt="parquet", seed=42)
    every = weekly_series(read_sales([str(path)]), start="2012-01-01")
    others = [s for s in every if s.key not in ISBNS]
    best_sellers = sorted(others, key=lambda s: -s.values[-104:].sum())[:2]
    return [s for s in every if s.key in ISBNS] + best_sellers


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as local:
        yield local


def test_dask_cluster_gives_the_same_champions_as_the_process_pool(series, cluster):
    on_dask, dask_errors = fit_on(
        ExecutorChoice(dask_scheduler=cluster.scheduler_address), series, CONFIG
    )
    on_pool, pool_errors = fit_on(ExecutorChoice(workers=2), series, CONFIG)

    assert dask_errors == pool_errors == {}
    assert [f.key for f in on_dask] == [f.key for f in on_pool] == [s.key for s in series]
    for d, p in zip(on_dask, on_pool, strict=True):
        assert d.selected == p.selected, d.key
        assert d.scores == pytest.approx(p.scores, nan_ok=True)
        assert d.bundle.model == p.bundle.model
        assert d.holdout.keys() == p.holdout.keys()
        for name, scores in d.holdout.items():
            assert scores == pytest.approx(p.holdout[name], nan_ok=True)


def test_progress_hears_of_every_title_from_the_cluster(series, cluster):
    heard = []
    fits, _ = fit_on(
        ExecutorChoice(dask_scheduler=cluster.scheduler_address),
        series[:2],
        fit_config(Settings(), n_origins=1, candidates=("snaive", "theta")),
        progress=lambda s, fit: heard.append((s.key, fit is not None)),
    )
    assert sorted(heard) == sorted((s.key, True) for s in series[:2])
    assert len(fits) == 2


def test_batches_of_titles_run_on_the_cluster_as_in_this_process(cluster):
    series = [seasonal_series(130 + 3 * i, seed=i, key=f"k{i}") for i in range(40)]
    config = fit_config(Settings(), n_origins=1, candidates=("snaive", "theta"))
    heard = []
    with (
        distributed.Client(cluster.scheduler_address) as client,
        distributed.get_task_stream(client) as stream,  # every task the scheduler runs
    ):
        on_dask, _ = fit_on(
            ExecutorChoice(dask_scheduler=cluster.scheduler_address),
            series,
            config,
            progress=lambda s, fit: heard.append(s.key),
            pools=train_pools(series, config),
        )
    inline, _ = fit_titles(series, config, workers=1)

    sizes = batch_sizes(40, 2)  # sized for the cluster's two worker threads
    assert sizes[0] > sizes[-1] == 1
    assert sum(str(task["key"]).startswith("_fit_batch") for task in stream.data) == len(sizes)
    assert sorted(heard) == sorted(s.key for s in series)
    assert [f.key for f in on_dask] == [s.key for s in series]
    for d, i in zip(on_dask, inline, strict=True):
        assert {**d.bundle.info(), "created_at": 0} == {**i.bundle.info(), "created_at": 0}


def test_workers_run_one_blas_thread_and_the_client_is_closed(cluster):
    choice = ExecutorChoice(dask_scheduler=cluster.scheduler_address)
    with open_executor(choice) as executor:
        assert executor is not None
        threads = executor.submit(_blas_threads).result(timeout=60)
    assert threads == 1
    with distributed.Client(cluster.scheduler_address) as client:
        assert len(client.scheduler_info()["workers"]) == 2  # the cluster outlives the client
    assert choice.describe() == f"Dask cluster at {cluster.scheduler_address}"


def test_without_a_scheduler_fit_titles_runs_its_own_pool():
    with open_executor(ExecutorChoice(workers=2)) as executor:
        assert executor is None
    assert ExecutorChoice(workers=2).describe() == "process pool (2 workers)"
    assert ExecutorChoice(workers=1).describe() == "this process"


def _blas_threads() -> int:
    from threadpoolctl import threadpool_info

    return max((pool["num_threads"] for pool in threadpool_info()), default=1)
