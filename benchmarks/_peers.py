"""The ways users forecast weekly book sales today.

Each `run_*` function is the target of `_common.run_capped`: it receives `send` and reports
one message per completed rolling origin, so a child stopped at the cap still leaves the
origins it finished. `statsforecast_forecasts` runs statsforecast's models in this process,
with their prediction intervals. Forecasts (and interval bounds) are clipped at zero: units
sold are never negative, which only helps the peers.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import Any

import numpy as np
import pandas as pd
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


# ------------------------------------------------------------------ statsforecast, in process


@dataclass
class Forecast:
    """One series' forecast: the mean, and where the method gives them, the interval bounds by
    level and the quantile forecasts wQL scores (quantile -> values)."""

    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    quantiles: dict[float, np.ndarray] = field(default_factory=dict)


def arrays(f: Forecast) -> list[np.ndarray]:
    """Every array of a forecast: mean, bounds, quantiles."""
    return [f.mean, *(b for pair in f.bounds.values() for b in pair), *f.quantiles.values()]


def fill_missing(
    keys: Sequence[str], forecasts: dict[str, Forecast], fallback: dict[str, Forecast]
) -> tuple[dict[str, Forecast], int]:
    """`forecasts` with the `fallback` forecast where a series has none, or a non-finite mean,
    bound or quantile."""
    out, filled = {}, 0
    for key in keys:
        f = forecasts.get(key)
        if f is None or not all(np.all(np.isfinite(v)) for v in arrays(f)):
            f, filled = fallback[key], filled + 1
        out[key] = f
    return out, filled


def fill_from_naive(
    keys: Sequence[str],
    forecasts: dict[str, Forecast],
    naive: dict[str, Forecast],
    with_intervals: bool,
) -> tuple[dict[str, Forecast], int]:
    """`fill_missing` from Naive's forecasts: with their intervals for a method that has
    intervals of its own, their means alone for the others."""
    fallback = naive if with_intervals else {k: Forecast(f.mean) for k, f in naive.items()}
    return fill_missing(keys, forecasts, fallback)


def peer_quantiles(
    mean: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]]
) -> dict[float, np.ndarray]:
    """A peer's 0.1/0.5/0.9 quantiles: its 80% interval bounds and its point forecast."""
    if 80 not in bounds:
        return {}
    lo, hi = bounds[80]
    return {0.1: lo, 0.5: mean, 0.9: hi}


def window_frames(
    series: Sequence[tuple[str, pd.Timestamp, np.ndarray]],
    weeks: int | None,
    freq: str,
    min_weeks: int,
) -> list[tuple[pd.DataFrame, bool]]:
    """Long frames (`unique_id`, `ds`, `y`) of each (key, first week ending, values) series'
    last `weeks` weeks (all when None): one of the series with at least `min_weeks` weeks in
    that window (True: for example two seasons, so seasonal models fit), one of the others
    (False), the empty ones left out."""
    parts: dict[bool, list[pd.DataFrame]] = {True: [], False: []}
    for key, start, values in series:
        ds = pd.date_range(start, periods=len(values), freq=freq)
        y = np.asarray(values, dtype=float)
        if weeks is not None:
            ds, y = ds[-weeks:], y[-weeks:]
        parts[len(y) >= min_weeks].append(pd.DataFrame({"unique_id": key, "ds": ds, "y": y}))
    return [(pd.concat(p, ignore_index=True), long) for long, p in parts.items() if p]


def statsforecast_forecasts(
    groups: Sequence[tuple[pd.DataFrame, Any]],
    horizon: int,
    levels: Sequence[int],
    freq: str,
    n_jobs: int,
) -> dict[str, Forecast]:
    """Each (long frame, model) group forecast by `StatsForecast(fallback_model=Naive())`.

    Pass `levels` only for a model with intervals of its own: given levels, StatsForecast
    replaces a model without them by the fallback, silently (forecast and all).
    """
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    out: dict[str, Forecast] = {}
    for frame, model in groups:
        sf = StatsForecast(models=[model], freq=freq, n_jobs=n_jobs, fallback_model=Naive())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fc = sf.forecast(df=frame, h=horizon, level=list(levels) or None)
        col = next(c for c in fc.columns if c not in ("unique_id", "ds"))
        for key, part in fc.groupby("unique_id", sort=False):
            mean = np.clip(part[col].to_numpy(dtype=float), 0.0, None)
            bounds = {
                lv: (
                    np.clip(part[f"{col}-lo-{lv}"].to_numpy(dtype=float), 0.0, None),
                    np.clip(part[f"{col}-hi-{lv}"].to_numpy(dtype=float), 0.0, None),
                )
                for lv in levels
            }
            out[str(key)] = Forecast(mean, bounds, peer_quantiles(mean, bounds))
    return out


NAIVE = "Naive"
# statsforecast models with prediction intervals of their own (the others get no `level`,
# unless they are given conformal intervals).
WITH_INTERVALS = {
    "SeasonalNaive(52)",
    NAIVE,
    "AutoETS",
    "AutoTheta",
    "AutoARIMA (non-seasonal)",
    "HistoricAverage",
}


def statsforecast_models(conformal: Any = None) -> dict[str, Callable[[int], object]]:
    """statsforecast's models by row name, made from the season length a series' window
    allows (52 or 1). `conformal` (a `ConformalIntervals`) gives the models without
    intervals of their own conformal ones."""
    from statsforecast.models import (
        ADIDA,
        IMAPA,
        TSB,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        CrostonSBA,
        HistoricAverage,
        Naive,
        SeasonalNaive,
        WindowAverage,
    )

    pi = {"prediction_intervals": conformal}
    return {
        "SeasonalNaive(52)": lambda m: SeasonalNaive(season_length=52),
        NAIVE: lambda m: Naive(),
        "AutoETS": lambda m: AutoETS(season_length=m),
        "AutoTheta": lambda m: AutoTheta(season_length=m),
        "AutoARIMA (non-seasonal)": lambda m: AutoARIMA(season_length=1, seasonal=False),
        "CrostonSBA": lambda m: CrostonSBA(**pi),
        "TSB(0.1, 0.1)": lambda m: TSB(alpha_d=0.1, alpha_p=0.1, **pi),
        "ADIDA": lambda m: ADIDA(**pi),
        "IMAPA": lambda m: IMAPA(**pi),
        "HistoricAverage": lambda m: HistoricAverage(),
        "WindowAverage(8)": lambda m: WindowAverage(window_size=8, **pi),
    }
