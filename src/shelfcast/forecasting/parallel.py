"""Fitting many titles at once on a process pool, one BLAS thread per process."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting.fit import FitConfig, TitleFit, fit_title

Progress = Callable[[TitleSeries, TitleFit | None], None]


def limit_blas_threads() -> None:
    """One BLAS thread per process: state-space fits run 4-60x slower with two on two cores."""
    from threadpoolctl import threadpool_limits

    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    threadpool_limits(1)


def _fit_or_error(series: TitleSeries, config: FitConfig) -> TitleFit | str:
    try:
        return fit_title(series, config)
    except (ForecastError, ValueError, ArithmeticError) as exc:
        return str(exc)


def fit_titles(
    series: Sequence[TitleSeries],
    config: FitConfig,
    *,
    workers: int | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
) -> tuple[list[TitleFit], dict[str, str]]:
    """Fit every series; returns the fits in input order and the titles that failed, with why.

    Runs on `executor` when given (any concurrent.futures executor), else on a process pool of
    `workers` processes (default: all cores); `workers=1` runs in this process.
    """
    results: dict[int, TitleFit | str] = {}
    if executor is None and (workers == 1 or len(series) <= 1):
        limit_blas_threads()
        for i, s in enumerate(series):
            results[i] = _fit_or_error(s, config)
            if progress:
                progress(s, results[i] if isinstance(results[i], TitleFit) else None)
    else:
        own = executor is None
        pool = executor or ProcessPoolExecutor(
            max_workers=workers or os.cpu_count(), initializer=limit_blas_threads
        )
        try:
            futures = {pool.submit(_fit_or_error, s, config): i for i, s in enumerate(series)}
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
    return fits, errors
