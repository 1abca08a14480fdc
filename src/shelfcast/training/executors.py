"""Where many titles are fitted: a process pool on this machine, or a Dask cluster.

Configuration picks the engine; the fitting code (`forecasting.fit_titles`) is the same for
both, since it takes any `concurrent.futures.Executor`. With `dask_scheduler` set (a
`dask.distributed` scheduler address such as `tcp://10.0.0.5:8786`), batches of titles are
submitted to that cluster through `Client.get_executor()`; otherwise `fit_titles` runs its own
process pool of `workers` processes (one process, in-line, for `workers=1`). Either way the
unit of work is a batch of titles (`forecasting.parallel.batch_sizes`); scheduling is Dask's or
the pool's.

Dask workers need Shelfcast installed (the same version) to unpickle the titles and fits.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from distributed import Client

    from shelfcast.catalog.series import TitleSeries
    from shelfcast.forecasting.backtest import Pools
    from shelfcast.forecasting.fit import FitConfig, TitleFit
    from shelfcast.forecasting.parallel import Progress


@dataclass(frozen=True)
class ExecutorChoice:
    """The engine the settings ask for."""

    workers: int | None = None  # process pool size; None: every core
    dask_scheduler: str | None = None  # a dask.distributed address; None: the process pool

    @property
    def kind(self) -> str:
        return "dask" if self.dask_scheduler else "process"

    def describe(self) -> str:
        if self.dask_scheduler:
            return f"Dask cluster at {self.dask_scheduler}"
        workers = self.workers or os.cpu_count() or 1
        if workers == 1:
            return "this process"
        return f"process pool ({workers} workers)"


@contextmanager
def dask_client(choice: ExecutorChoice) -> Iterator[Client | None]:
    """A client of the chosen Dask cluster for the duration of the block (None for the process
    pool), every worker made to use one BLAS thread; closed afterwards (the cluster keeps
    running)."""
    if not choice.dask_scheduler:
        yield None
        return
    from distributed import Client

    from shelfcast.forecasting.parallel import limit_blas_threads

    client = Client(choice.dask_scheduler, set_as_default=False)
    try:
        # Dask's nanny already starts workers with OPENBLAS_NUM_THREADS=1; this also covers
        # workers started without one, or with other settings.
        client.run(limit_blas_threads)
        yield client
    finally:
        client.close()


def client_executor(client: Client) -> Executor:
    """The client's concurrent.futures face. pure=False: every batch of titles is its own task
    (no hashing of the series to dedupe them)."""
    return client.get_executor(pure=False)


@contextmanager
def open_executor(choice: ExecutorChoice) -> Iterator[Executor | None]:
    """The executor to hand to `fit_titles`, or None for its own process pool."""
    with dask_client(choice) as client:
        yield None if client is None else client_executor(client)


def fit_on(
    choice: ExecutorChoice,
    series: Sequence[TitleSeries],
    config: FitConfig,
    progress: Progress | None = None,
    pools: Pools | None = None,
) -> tuple[list[TitleFit], dict[str, str]]:
    """`fit_titles` on the chosen engine: the fits in input order, and the failed titles.
    On Dask, batches are sized for the cluster's worker threads at the time of the call."""
    from shelfcast.forecasting.parallel import fit_titles

    with dask_client(choice) as client:
        executor = None if client is None else client_executor(client)
        workers = choice.workers if client is None else sum(client.nthreads().values())
        return fit_titles(
            series, config, workers=workers, executor=executor, progress=progress, pools=pools
        )
