"""Fitting many titles at once on a process pool or any executor, one BLAS thread per process.

The unit of work is a batch of titles (`batch_sizes`): big at first, so that what a task costs
beyond its fits (sending the pools and series, scheduling) stays small, and smaller towards the
end, so that the last tasks to finish leave the other workers idle only briefly. Around the
per-title fits: pooled families are trained across titles first, once per backtest cut-off
(`train_pools`), and the quantiles of every title are calibrated together last
(`fit.calibrate`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from itertools import accumulate

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.backtest import Pools, window
from shelfcast.forecasting.families import FAMILIES
from shelfcast.forecasting.fit import FitConfig, TitleFit, calibrate, fit_title

Progress = Callable[[TitleSeries, TitleFit | None], None]
Fitted = TitleFit | str  # a title's fit, or why it failed

GUIDED_SHARE = 2  # a task takes at most 1 / (GUIDED_SHARE x workers) of the titles left
MAX_BATCH = 25


def limit_blas_threads() -> None:
    """One BLAS thread per process: state-space fits run 4-60x slower with two on two cores."""
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(1)


def _fit_or_error(series: TitleSeries, config: FitConfig, pools: Pools) -> Fitted:
    try:
        return fit_title(series, config, pools)
    except (ForecastError, ValueError, ArithmeticError) as exc:
        return str(exc)


def pool_cutoffs(series: Sequence[TitleSeries], config: FitConfig) -> list[pd.Timestamp]:
    """The last weeks pooled families are trained up to: the origins and the holdout start of
    a title with the longest history's plan, and the last week of all."""
    last = max(s.end for s in series)
    plan = config.plan(max(len(s) for s in series))
    week = pd.Timedelta(weeks=1)
    before_holdout = last - plan.holdout * week
    cuts = [before_holdout - k * plan.horizon * week for k in range(plan.n_origins, 0, -1)]
    return sorted({*cuts, before_holdout, last})


def train_pools(series: Sequence[TitleSeries], config: FitConfig) -> Pools:
    """Every pooled candidate trained across `series` at each cut-off, on the weeks up to it
    (the last `max_train_weeks` of each)."""
    pooled = [FAMILIES[n] for n in config.candidates if FAMILIES[n].pooled]
    if not pooled or not series:
        return Pools()
    trained = {}
    for cut in pool_cutoffs(series, config):
        histories = []
        for s in series:
            weeks = (cut - s.start).days // 7 + 1
            if weeks > 0:
                histories.append(window(s.head(min(weeks, len(s))), config.max_train_weeks))
        found = {}
        for family in pooled:
            # A family that cannot be trained here has no pool: its fits then say so.
            with contextlib.suppress(ForecastError, ValueError):
                found[family.name] = family.train_pool(histories, config.season_length)
        trained[cut] = found
    return Pools(trained)


def batch_sizes(n_titles: int, workers: int) -> list[int]:
    """Titles per task, in the order tasks are sent (guided self-scheduling): each task takes
    1 / (`GUIDED_SHARE` x workers) of the titles not yet sent, at most `MAX_BATCH` (a few
    seconds of fitting, so that per-task costs, pickling the pools and series and scheduling,
    stay far below the fits they carry) and at least one. Early tasks are full; the last ones
    shrink to a title or two, so that the last round of tasks ends nearly together."""
    share = GUIDED_SHARE * max(1, workers)
    sizes: list[int] = []
    left = n_titles
    while left > 0:
        size = min(MAX_BATCH, -(-left // share))
        sizes.append(size)
        left -= size
    return sizes


def _fit_batch(batch: Sequence[TitleSeries], config: FitConfig, pools: Pools) -> list[Fitted]:
    """One task: the fit (or the reason it failed) of each series of `batch`, in order."""
    return [_fit_or_error(s, config, pools) for s in batch]


def fit_titles(
    series: Sequence[TitleSeries],
    config: FitConfig,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    pools: Pools | None = None,
) -> tuple[list[TitleFit], dict[str, str]]:
    """Fit every series; returns the fits in input order and the titles that failed, with why.

    Runs on `executor` when given (any concurrent.futures executor: a Dask client's too), else
    on a process pool of `workers` processes (default: all cores); `workers=1` runs in this
    process. Titles go out in batches (`batch_sizes` for `workers`, with an executor the tasks
    it runs at once), and `progress` hears of each title as its batch finishes. Pooled
    families are trained first, in this process (unless `pools` are given, as `train_pools`
    returns them); the fits' quantiles are calibrated together.
    """
    pools = train_pools(series, config) if pools is None else pools
    results: dict[int, Fitted] = {}

    def finished(first: int, fitted: list[Fitted]) -> None:
        for i, result in enumerate(fitted, start=first):
            results[i] = result
            if progress:
                progress(series[i], result if isinstance(result, TitleFit) else None)

    if executor is None and (workers == 1 or len(series) <= 1):
        limit_blas_threads()
        for i, s in enumerate(series):
            finished(i, _fit_batch([s], config, pools))
    else:
        n_workers = workers or os.cpu_count() or 1
        own = executor is None
        pool = executor or ProcessPoolExecutor(
            max_workers=n_workers, initializer=limit_blas_threads
        )
        sizes = batch_sizes(len(series), n_workers)
        try:
            futures = {
                pool.submit(_fit_batch, series[i : i + size], config, pools): i
                for i, size in zip(accumulate(sizes, initial=0), sizes, strict=False)
            }
            for future in as_completed(futures):
                finished(futures[future], future.result())
        finally:
            if own:
                pool.shutdown(cancel_futures=True)
    fits = [r for _, r in sorted(results.items()) if isinstance(r, TitleFit)]
    errors = {series[i].key: r for i, r in sorted(results.items()) if isinstance(r, str)}
    calibrate(fits, config.levels)
    return fits, errors
