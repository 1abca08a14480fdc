"""Fitting many titles at once on a process pool, one BLAS thread per process.

Around the per-title fits: pooled families are trained across titles first, once per backtest
cut-off (`train_pools`), and the quantiles of every title are calibrated together last
(`fit.calibrate`)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed

import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.backtest import Pools, window
from shelfcast.forecasting.families import FAMILIES
from shelfcast.forecasting.fit import FitConfig, TitleFit, calibrate, fit_title

Progress = Callable[[TitleSeries, TitleFit | None], None]


def limit_blas_threads() -> None:
    """One BLAS thread per process: state-space fits run 4-60x slower with two on two cores."""
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(1)


def _fit_or_error(series: TitleSeries, config: FitConfig, pools: Pools) -> TitleFit | str:
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


def fit_titles(
    series: Sequence[TitleSeries],
    config: FitConfig,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    pool_series: Sequence[TitleSeries] | None = None,
) -> tuple[list[TitleFit], dict[str, str]]:
    """Fit every series; returns the fits in input order and the titles that failed, with why.

    Runs on `executor` when given (any concurrent.futures executor), else on a process pool of
    `workers` processes (default: all cores); `workers=1` runs in this process. Pooled
    families are trained first, in this process, across `pool_series` (default: `series`;
    a catalogue refitting some titles trains them on all); the fits' quantiles are calibrated
    together.
    """
    pools = train_pools(series if pool_series is None else pool_series, config)
    results: dict[int, TitleFit | str] = {}
    if executor is None and (workers == 1 or len(series) <= 1):
        limit_blas_threads()
        for i, s in enumerate(series):
            results[i] = _fit_or_error(s, config, pools)
            if progress:
                progress(s, results[i] if isinstance(results[i], TitleFit) else None)
    else:
        own = executor is None
        pool = executor or ProcessPoolExecutor(
            max_workers=workers or os.cpu_count(), initializer=limit_blas_threads
        )
        try:
            futures = {
                pool.submit(_fit_or_error, s, config, pools): i for i, s in enumerate(series)
            }
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if progress:
                    progress(series[i], results[i] if isinstance(results[i], TitleFit) else None)
        finally:
            if own:
                pool.shutdown(cancel_futures=True)
    fits = [r for _, r in sorted(results.items()) if isinstance(r, TitleFit)]
    errors = {series[i].key: r for i, r in sorted(results.items()) if isinstance(r, str)}
    calibrate(fits, config.levels)
    return fits, errors
