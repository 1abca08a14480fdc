"""Rolling-origin backtests on a training window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import families, metrics
from shelfcast.forecasting.families import FAMILIES, FitContext, Spec
from shelfcast.forecasting.intervals import PointForecast

FIT_ERRORS = (ForecastError, ValueError, ArithmeticError, np.linalg.LinAlgError)


def rolling_origins(n_weeks: int, horizon: int, n_origins: int, min_train: int = 1) -> list[int]:
    """Training lengths at each origin, oldest first: n - k * horizon for k = n_origins..1.

    Origins that would leave fewer than `min_train` weeks to fit on are dropped.
    """
    if horizon < 1 or n_origins < 0:
        raise ValueError(f"horizon must be >= 1 and n_origins >= 0, got {horizon}, {n_origins}")
    cuts = [n_weeks - k * horizon for k in range(n_origins, 0, -1)]
    return [c for c in cuts if c >= min_train]


def window(series: TitleSeries, max_weeks: int | None) -> TitleSeries:
    """The last `max_weeks` weeks of a series (all of it when None)."""
    if max_weeks is None or len(series) <= max_weeks:
        return series
    cut = len(series) - max_weeks
    return series.with_values(series.values[cut:], start=series.dates[cut])


def fit_candidates(
    series: TitleSeries,
    candidates: Sequence[str],
    season_length: int,
    like: dict[str, Spec] | None = None,
    pool: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Spec], dict[str, str]]:
    """Fit each candidate family; returns specs and, for those that failed, the reason.

    With `like` (specs of an earlier fit), each family keeps that fit's structure (orders,
    harmonics) and only re-estimates its parameters. The families a candidate `requires` (a
    combination's members) are fitted first, once, whether or not they are candidates.
    `pool` holds what pooled families trained across titles on weeks up to this history's end.
    """
    specs: dict[str, Spec] = {}
    failures: dict[str, str] = {}
    for name in _with_requirements(candidates):
        family = FAMILIES[name]
        fitted = {k: specs[k] for k in family.requires if k in specs}
        context = FitContext(season_length=season_length, fitted=fitted, pool=pool or {})
        try:
            specs[name] = family.fit(series, context, (like or {}).get(name))
        except FIT_ERRORS as exc:
            failures[name] = str(exc)
    keep = set(candidates)
    return (
        {k: v for k, v in specs.items() if k in keep},
        {k: v for k, v in failures.items() if k in keep},
    )


def _with_requirements(candidates: Sequence[str]) -> list[str]:
    """`candidates` and the families they require, each after its requirements."""
    out: list[str] = []

    def visit(name: str) -> None:
        if name not in out:
            for required in FAMILIES[name].requires:
                visit(required)
            out.append(name)

    for name in FAMILIES:
        if name in candidates:
            visit(name)
    return out


def forecast_candidates(
    specs: dict[str, Spec], series: TitleSeries, horizon: int, levels: Sequence[int]
) -> tuple[dict[str, PointForecast], dict[str, str]]:
    out: dict[str, PointForecast] = {}
    failures: dict[str, str] = {}
    for name, spec in specs.items():
        try:
            out[name] = families.forecast(spec, series, horizon, levels)
        except FIT_ERRORS as exc:
            failures[name] = str(exc)
    return out, failures


class Pools:
    """What pooled families trained across titles, by the last week each was trained on."""

    def __init__(self, trained: Mapping[pd.Timestamp, Mapping[str, Any]] | None = None):
        self._trained = dict(sorted((trained or {}).items()))

    def at(self, last_week: pd.Timestamp) -> Mapping[str, Any]:
        """The latest pools trained on weeks up to `last_week`, never on weeks after it."""
        usable = [pools for cut, pools in self._trained.items() if cut <= last_week]
        return usable[-1] if usable else {}

    def __bool__(self) -> bool:
        return bool(self._trained)

    def items(self) -> list[tuple[pd.Timestamp, Mapping[str, Any]]]:
        """Each cut-off, oldest first, with the pools trained up to it."""
        return list(self._trained.items())


@dataclass
class Backtest:
    """Per candidate and origin: metrics (`table`) and forecasts; failures by candidate; per
    origin the weeks fitted on (`insample`) and the weeks scored (`actuals`)."""

    table: pd.DataFrame
    forecasts: dict[str, dict[pd.Timestamp, PointForecast]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    specs: dict[str, Spec] = field(default_factory=dict)  # as fitted at the first origin
    insample: dict[pd.Timestamp, np.ndarray] = field(default_factory=dict)
    actuals: dict[pd.Timestamp, np.ndarray] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean metrics per candidate, over candidates that produced a forecast at every origin."""
        return summarize(self.table)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Mean metrics per candidate of a backtest table, over the candidates that produced a
    forecast at every origin in it."""
    if table.empty:
        return pd.DataFrame()
    n_origins = table["origin"].nunique()
    counts = table.groupby("candidate")["origin"].nunique()
    complete = counts[counts == n_origins].index
    numeric = table.drop(columns=["origin"])
    return numeric[numeric["candidate"].isin(complete)].groupby("candidate").mean()


def backtest(
    series: TitleSeries,
    *,
    horizon: int,
    n_origins: int,
    candidates: Sequence[str],
    season_length: int,
    levels: Sequence[int],
    max_train_weeks: int | None = None,
    min_train: int | None = None,
    pools: Pools | None = None,
) -> Backtest:
    """Fit every candidate at each origin on the weeks before it, score the next `horizon` weeks.

    Orders are searched at the first origin and kept (parameters re-estimated) at later ones.
    Only `series` is seen: pass the training window, and held-out weeks cannot leak in.
    """
    min_train = season_length + 1 if min_train is None else min_train
    rows: list[dict] = []
    result = Backtest(table=pd.DataFrame())
    for cut in rolling_origins(len(series), horizon, n_origins, min_train):
        history = window(series.head(cut), max_train_weeks)
        actual = series.values[cut : cut + horizon]
        origin = series.dates[cut - 1]
        pool = pools.at(history.end) if pools else None
        like = result.specs or None
        specs, failed = fit_candidates(history, candidates, season_length, like, pool)
        result.specs = result.specs or specs
        result.insample[origin], result.actuals[origin] = history.values, actual
        forecasts, failed_forecasts = forecast_candidates(specs, history, horizon, levels)
        for name, reason in {**failed, **failed_forecasts}.items():
            result.failures.setdefault(name, f"origin {origin.date()}: {reason}")
        for name, fc in forecasts.items():
            scores = score_forecast(actual, fc, history.values, season_length, levels)
            rows.append({"candidate": name, "origin": origin, **scores})
            result.forecasts.setdefault(name, {})[origin] = fc
    result.table = pd.DataFrame(rows)
    return result


def score_forecast(
    actual: np.ndarray,
    fc: PointForecast,
    insample: np.ndarray,
    season_length: int,
    levels: Sequence[int],
) -> dict[str, float]:
    """Every metric of one forecast with its interval bounds."""
    bounds = {lv: (fc.lower[lv], fc.upper[lv]) for lv in levels}
    return metrics.score(actual, fc.mean, insample, season_length, bounds)
