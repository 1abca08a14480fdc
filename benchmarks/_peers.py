"""The ways users forecast weekly book sales today, run one title at a time in capped children.

Each `run_*` function is the target of `_common.run_capped`: it receives `send` and reports
one message per completed rolling origin, so a child stopped at the cap still leaves the
origins it finished. Forecasts are clipped at zero (units sold are never negative), which only
helps the peers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from itertools import product
from typing import Any

import numpy as np
from _common import peak_rss_mb

Send = Callable[[dict[str, Any]], None]

# pmdarima's restricted search, as in FIELD-NOTES (the unrestricted one does not finish).
PMDARIMA_KWARGS = dict(
    m=52,
    seasonal=True,
    D=1,
    max_p=2,
    max_q=2,
    max_P=1,
    max_Q=1,
    suppress_warnings=True,
    error_action="ignore",
)

# The seed's way: SARIMAX (p,1,q)(P,1,Q,52) with p, q, P, Q in {0, 1}, lowest AIC wins.
SEED_ORDERS = [
    ((p, 1, q), (sp, 1, sq, 52)) for p, q, sp, sq in product((0, 1), (0, 1), (0, 1), (0, 1))
]


def _pmdarima(y: np.ndarray, horizon: int) -> tuple[np.ndarray, str]:
    import pmdarima as pm

    model = pm.auto_arima(y, **PMDARIMA_KWARGS)
    fc = np.asarray(model.predict(n_periods=horizon), dtype=float)
    return fc, f"{model.order}{model.seasonal_order}"


def _seed_sarimax(y: np.ndarray, horizon: int) -> tuple[np.ndarray, str]:
    from statsmodels.tsa.statespace.sarimax import SARIMAX

    best = None
    for order, seasonal in SEED_ORDERS:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                res = SARIMAX(y, order=order, seasonal_order=seasonal).fit(disp=False)
            except Exception:  # the seed skipped orders that failed to fit
                continue
        if np.isfinite(res.aic) and (best is None or res.aic < best[0]):
            best = (res.aic, order, seasonal, res)
        del res
    if best is None:
        raise RuntimeError("no SARIMAX order could be fitted")
    _, order, seasonal, res = best
    fc = np.asarray(res.forecast(horizon), dtype=float)
    return fc, f"{order}{seasonal}"


PEERS: dict[str, Callable[[np.ndarray, int], tuple[np.ndarray, str]]] = {
    "pmdarima": _pmdarima,
    "statsmodels": _seed_sarimax,
}


def run_peer(
    send: Send, method: str, values: Sequence[float], origins: Sequence[int], horizon: int
):
    """Fit `method` at each origin (training length) in turn, report each forecast."""
    fit = PEERS[method]
    t0 = time.perf_counter()
    if method == "pmdarima":
        import pmdarima  # noqa: F401  (imports are not fit time)
    else:
        import statsmodels.tsa.statespace.sarimax  # noqa: F401
    send({"kind": "imported", "seconds": time.perf_counter() - t0})
    y_all = np.asarray(values, dtype=float)
    for n_train in origins:
        t, c = time.perf_counter(), time.process_time()
        fc, order = fit(y_all[:n_train], horizon)
        send(
            {
                "kind": "origin",
                "n_train": int(n_train),
                "seconds": time.perf_counter() - t,
                "cpu_seconds": time.process_time() - c,
                "forecast": np.clip(fc, 0.0, None).tolist(),
                "order": order,
                "peak_rss_mb": peak_rss_mb(),
            }
        )


def run_shelfcast(send: Send, series_list: Sequence[Any], config: Any) -> None:
    """Shelfcast's fit_title on each title in turn (backtest, selection, holdout, final refit)."""
    t0 = time.perf_counter()
    from shelfcast.forecasting import fit_title

    # One untimed warm-up on a short slice: lazy imports are not fit time (as for the peers).
    if series_list:
        fit_title(series_list[0].head(min(len(series_list[0]), 300)), config)
    send({"kind": "imported", "seconds": time.perf_counter() - t0})
    for series in series_list:
        t, c = time.perf_counter(), time.process_time()
        fit = fit_title(series, config)
        seconds, cpu = time.perf_counter() - t, time.process_time() - c
        send(
            {
                "kind": "title",
                "key": series.key,
                "seconds": seconds,
                "cpu_seconds": cpu,
                "selected": fit.selected,
                "scores": {k: float(v) for k, v in fit.scores.items()},
                "backtest": fit.backtest.table.to_dict(orient="records"),
                "holdout": fit.holdout,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
