"""Per title: backtest the candidates, select a family, evaluate it, refit it on all data."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import metrics
from shelfcast.forecasting.backtest import (
    Backtest,
    backtest,
    fit_candidates,
    forecast_candidates,
    window,
)
from shelfcast.forecasting.bundle import Bundle, forecast_record
from shelfcast.forecasting.families import FAMILIES, Spec
from shelfcast.forecasting.intervals import PointForecast

BASELINE = "snaive"  # the family every selected family is compared with
WEEK = pd.Timedelta(weeks=1)


@dataclass(frozen=True)
class FitConfig:
    """How titles are fitted. The settings decide the first five
    (`shelfcast.training.run.fit_config`): a `backtest.split_size`-week horizon and holdout,
    `backtest.n_origins` origins, `training.season_length`, the `serving.levels` intervals."""

    horizon: int
    n_origins: int
    season_length: int
    levels: tuple[int, ...]
    holdout: int  # weeks at the end scored after selection; 0 for none
    candidates: tuple[str, ...] = tuple(FAMILIES)
    max_train_weeks: int | None = None
    forecast_candidates: bool = False  # also refit every candidate on all data and forecast

    def __post_init__(self) -> None:
        unknown = set(self.candidates) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown candidate(s) {sorted(unknown)}; known: {list(FAMILIES)}")
        if BASELINE not in self.candidates:
            raise ValueError(f"candidates must include the baseline {BASELINE!r}")
        if self.horizon < 1 or self.n_origins < 0 or self.holdout < 0:
            raise ValueError("horizon must be >= 1, n_origins and holdout >= 0")


@dataclass
class TitleFit:
    """The outcome for one title. `scores` are mean backtest MASE per candidate."""

    key: str
    selected: str  # the family the backtest selected
    scores: dict[str, float]
    backtest: Backtest
    bundle: Bundle
    holdout: dict[str, dict[str, float]] = field(default_factory=dict)
    holdout_forecast: PointForecast | None = (
        None  # the selected family's, fitted before the holdout
    )
    fallback: str | None = None
    seconds: float = 0.0
    candidate_forecasts: dict[str, PointForecast] = field(default_factory=dict)

    @property
    def baseline_mase(self) -> float:
        return self.scores.get(BASELINE, float("nan"))

    @property
    def selected_mase(self) -> float:
        return self.scores.get(self.selected, float("nan"))


def select_family(summary: pd.DataFrame) -> str | None:
    """Lowest mean MASE (MAE where MASE is undefined); ties go to the simpler family (the
    earlier one in the table of families)."""
    if summary.empty:
        return None
    column = "mase" if summary["mase"].notna().any() else "mae"
    ranked = summary[column].dropna()
    if ranked.empty:
        return None
    order = {name: i for i, name in enumerate(FAMILIES)}
    return min(ranked.index, key=lambda name: (round(ranked[name], 12), order[name]))


def _evaluate_holdout(
    train: TitleSeries,
    test: np.ndarray,
    names: list[str],
    config: FitConfig,
    like: dict[str, Spec],
) -> tuple[dict[str, dict[str, float]], dict[str, PointForecast]]:
    """Score candidates fitted on the training window (orders as backtested) on held-out weeks."""
    history = window(train, config.max_train_weeks)
    specs, _ = fit_candidates(history, names, config.season_length, like)
    forecasts, _ = forecast_candidates(specs, history, len(test), config.levels)
    return {
        name: metrics.score(
            test,
            fc.mean,
            history.values,
            config.season_length,
            {lv: (fc.lower[lv], fc.upper[lv]) for lv in config.levels},
        )
        for name, fc in forecasts.items()
    }, forecasts


def fit_title(series: TitleSeries, config: FitConfig) -> TitleFit:
    """Backtest on the training window, pick the selected, score it on the holdout, refit."""
    started = time.perf_counter()
    holdout = min(config.holdout, max(len(series) - 1, 0))
    train = series.head(len(series) - holdout) if holdout else series
    test = series.values[len(train) :]
    bt = backtest(
        train,
        horizon=config.horizon,
        n_origins=config.n_origins,
        candidates=config.candidates,
        season_length=config.season_length,
        levels=config.levels,
        max_train_weeks=config.max_train_weeks,
    )
    summary = bt.summary()
    scores = summary["mase"].to_dict() if not summary.empty else {}
    selected = select_family(summary)
    fallback = None
    if selected is None:
        selected = BASELINE
        fallback = "no candidate could be backtested: " + (
            "; ".join(f"{k}: {v}" for k, v in bt.failures.items()) or "history too short"
        )
    final_history = window(series, config.max_train_weeks)
    names = list(config.candidates) if config.forecast_candidates else [selected]
    specs, failed = fit_candidates(final_history, names, config.season_length)
    if selected not in specs:
        fallback = f"{selected} failed on all data ({failed.get(selected)}); seasonal naive used"
        selected = BASELINE
        specs.update(fit_candidates(final_history, [BASELINE], config.season_length)[0])
        if BASELINE not in specs:
            raise ForecastError(f"{series.key}: not even a seasonal naive fits {len(series)} weeks")
    evaluation = {
        "selected": selected,
        "fallback": fallback,
        "backtest": {
            "horizon": config.horizon,
            "origins": [d.date().isoformat() for d in sorted(bt.table["origin"].unique())]
            if not bt.table.empty
            else [],
            "mean": _finite(summary.to_dict(orient="index")),
            "failures": bt.failures,
            "forecasts": [
                {"origin": origin.date().isoformat(), **forecast_record(origin + WEEK, fc)}
                for origin, fc in sorted(bt.forecasts.get(selected, {}).items())
            ],
        },
        "baseline": BASELINE,
    }
    result_holdout: dict[str, dict[str, float]] = {}
    holdout_forecasts: dict[str, PointForecast] = {}
    if len(test):
        result_holdout, holdout_forecasts = _evaluate_holdout(
            train, test, sorted({selected, BASELINE}), config, bt.specs
        )
        evaluation["holdout"] = {"weeks": len(test), **_finite(result_holdout)}
        if selected in holdout_forecasts:
            first = series.dates[len(train)]
            evaluation["holdout_forecast"] = forecast_record(first, holdout_forecasts[selected])
    bundle = Bundle(model=specs[selected], history=final_history, evaluation=evaluation)
    candidate_forecasts: dict[str, PointForecast] = {}
    if config.forecast_candidates:
        candidate_forecasts, _ = forecast_candidates(
            specs, final_history, config.horizon, config.levels
        )
    return TitleFit(
        key=series.key,
        selected=selected,
        scores=scores,
        backtest=bt,
        bundle=bundle,
        holdout=result_holdout,
        holdout_forecast=holdout_forecasts.get(selected),
        fallback=fallback,
        seconds=time.perf_counter() - started,
        candidate_forecasts=candidate_forecasts,
    )


def _finite(nested: dict) -> dict:
    """JSON-safe copy: NaN and infinities become None."""
    if isinstance(nested, dict):
        return {str(k): _finite(v) for k, v in nested.items()}
    if isinstance(nested, float | np.floating):
        return float(nested) if np.isfinite(nested) else None
    return nested
