"""Per title: plan and run the backtest, select a candidate, evaluate it, refit it on all data;
across titles: calibrate the quantiles."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from shelfcast.catalog.segments import Segment, segment_of
from shelfcast.catalog.series import TitleSeries
from shelfcast.errors import ForecastError
from shelfcast.forecasting import calibration, ensembles, metrics
from shelfcast.forecasting.backtest import (
    Backtest,
    Pools,
    backtest,
    fit_candidates,
    forecast_candidates,
    score_forecast,
    summarize,
    window,
)
from shelfcast.forecasting.bundle import Bundle, forecast_record
from shelfcast.forecasting.calibration import AnyCalibration, Calibration
from shelfcast.forecasting.families import FAMILIES, Spec, intermittent_combo
from shelfcast.forecasting.families.ensemble import EnsembleSpec
from shelfcast.forecasting.intervals import PointForecast
from shelfcast.forecasting.plan import Plan, plan_backtest

BASELINE = "snaive"  # the baseline of titles with two seasons or more
NONSEASONAL_BASELINE = "naive"  # of shorter ones
LAUNCH = "launch"  # a new title's model when it is too young for a backtest
INACTIVE = "zero"  # the model of a title without a sale in 52 weeks
INTERMITTENT = intermittent_combo.NAME  # the model of an intermittent or lumpy title
WEEK = pd.Timedelta(weeks=1)
CALIBRATION_GROUPS = ("intermittent", "lumpy", "other")  # calibrated apart (`calibration_group`)
COUNT_GROUPS = ("intermittent", "lumpy")  # of these, count calibrations


@dataclass(frozen=True)
class FitConfig:
    """How titles are fitted. The settings decide the first five
    (`shelfcast.training.run.fit_config`): a `backtest.split_size`-week horizon and holdout,
    `backtest.n_origins` origins, `training.season_length`, the `serving.levels` intervals.
    Each title's plan (`forecasting.plan`) shortens them to fit its history."""

    horizon: int
    n_origins: int
    season_length: int
    levels: tuple[int, ...]
    holdout: int  # weeks at the end scored after selection; 0 for none
    # every family that can be a candidate (an ensemble is built from them, not fitted)
    candidates: tuple[str, ...] = tuple(n for n, f in FAMILIES.items() if f.modes)
    ensembles: tuple[str, ...] = ensembles.DEFAULT
    max_train_weeks: int | None = None
    forecast_candidates: bool = False  # also refit every candidate on all data and forecast

    def __post_init__(self) -> None:
        unknown = set(self.candidates) - set(FAMILIES)
        if unknown:
            raise ValueError(f"unknown candidate(s) {sorted(unknown)}; known: {list(FAMILIES)}")
        for name in self.ensembles:
            ensembles.parse(name)
        if self.horizon < 1 or self.n_origins < 0 or self.holdout < 0:
            raise ValueError("horizon must be >= 1, n_origins and holdout >= 0")

    def plan(self, n_weeks: int, intermittent: bool = False) -> Plan:
        """The backtest of a title with `n_weeks` weeks of history; with `intermittent`
        (sales in fewer than most weeks: `Segment.intermittent`), the intermittent-demand
        families are candidates too."""
        extra = [n for n in self.candidates if intermittent and "intermittent" in FAMILIES[n].modes]

        def of_mode(mode: str, baseline: str) -> tuple[str, ...]:
            names = [n for n in self.candidates if mode in FAMILIES[n].modes] + extra
            return (baseline, *[n for n in names if n != baseline])

        new = of_mode("new", NONSEASONAL_BASELINE)
        plan = plan_backtest(
            n_weeks,
            horizon=self.horizon,
            n_origins=self.n_origins,
            holdout=self.holdout,
            season_length=self.season_length,
            seasonal_candidates=of_mode("seasonal", BASELINE),
            nonseasonal_candidates=of_mode("non-seasonal", NONSEASONAL_BASELINE),
            seasonal_baseline=BASELINE,
            nonseasonal_baseline=NONSEASONAL_BASELINE,
            new_candidates=new if len(new) > 1 else (),
            new_default=LAUNCH if LAUNCH in new else None,
        )
        if intermittent and plan.mode != "new" and INTERMITTENT in self.candidates:
            why = f"intermittent or lumpy demand: {INTERMITTENT} assigned"
            plan = replace(
                plan,
                candidates=(plan.baseline, INTERMITTENT),
                assigned=INTERMITTENT,
                reason="; ".join(filter(None, (plan.reason, why))),
            )
        return plan


@dataclass
class TitleFit:
    """The outcome for one title. `scores` are mean backtest MASE per candidate."""

    key: str
    selected: str  # the candidate the backtest selected: a family or an ensemble
    scores: dict[str, float]
    backtest: Backtest
    bundle: Bundle
    holdout: dict[str, dict[str, float]] = field(default_factory=dict)
    holdout_forecast: PointForecast | None = (
        None  # the selected candidate's, fitted before the holdout
    )
    fallback: str | None = None
    seconds: float = 0.0
    candidate_forecasts: dict[str, PointForecast] = field(default_factory=dict)
    # Conformity scores of the selection's backtest forecasts, one array per origin
    # (`honest_forecasts`); pooled across titles by `calibrate`.
    scores_for_calibration: list[np.ndarray] = field(default_factory=list)
    # The same forecasts' summed actual sales, summed mean forecast and weeks, for the count
    # calibrations' correction of the mean.
    totals_for_calibration: tuple[float, float, int] = (0.0, 0.0, 0)
    # The weeks the holdout forecast was fitted on (its MASE's scale).
    holdout_history: np.ndarray | None = None

    @property
    def baseline(self) -> str:
        return self.bundle.evaluation.get("baseline", BASELINE)

    @property
    def baseline_mase(self) -> float:
        return self.scores.get(self.baseline, float("nan"))

    @property
    def selected_mase(self) -> float:
        return self.scores.get(self.selected, float("nan"))


def select_candidate(summary: pd.DataFrame) -> str | None:
    """The ensemble with the lowest mean MASE (MAE where MASE is undefined); a single family
    only where no ensemble was scored. Ties go to the simpler candidate (the earlier family
    in the table of families, then the earlier ensemble).

    Ensembles first: choosing among single families on a few origins picks noise as often as
    skill. In rolling-origin backtests inside the training weeks (each origin scored by the
    choice the other origins make), choosing the best ensemble beat choosing the best of every
    candidate by 5.5% in MASE on M4 Weekly and 3.4% on the sample catalogue."""
    if summary.empty:
        return None
    column = "mase" if summary["mase"].notna().any() else "mae"
    ranked = summary[column].dropna()
    combined = [name for name in ranked.index if ensembles.is_ensemble(name)]
    pool = combined or list(ranked.index)
    if not pool:
        return None
    order = {name: i for i, name in enumerate([*FAMILIES, *ensembles.DEFAULT])}
    return min(pool, key=lambda name: (round(ranked[name], 12), order.get(name, len(order))))


def fit_selected(
    selected: str,
    history: TitleSeries,
    bt: Backtest,
    plan: Plan,
    like: dict[str, Spec] | None = None,
    pool: Mapping[str, Any] | None = None,
) -> tuple[Spec | None, str | None]:
    """The selected candidate fitted on `history`: a family's spec, or an ensemble of its best
    members (those that fit; two at least). None and the reason when it cannot be fitted."""
    if not ensembles.is_ensemble(selected):
        specs, failed = fit_candidates(history, [selected], plan.season_length, like, pool)
        return specs.get(selected), failed.get(selected)
    names = ensembles.members(bt, selected)
    specs, failed = fit_candidates(history, names, plan.season_length, like, pool)
    fitted = tuple(specs[n] for n in names if n in specs)
    if len(fitted) < 2:
        return None, f"fewer than two members fitted ({failed})"
    method, _ = ensembles.parse(selected)
    return EnsembleSpec(method, fitted), None


def fit_title(series: TitleSeries, config: FitConfig, pools: Pools | None = None) -> TitleFit:
    """Plan the title's backtest, backtest its candidates and ensembles on the training window,
    select one, score it on the holdout, refit it on every week (the last `max_train_weeks`).
    `pools` holds what pooled families trained across titles (`fit_titles` trains them)."""
    started = time.perf_counter()
    segment = segment_of(series.values)
    if segment.stage == "inactive" and INACTIVE in config.candidates:
        return _fit_inactive(series, segment, config, pools, started)
    plan = config.plan(len(series), segment.intermittent)
    holdout = plan.holdout
    train = series.head(len(series) - holdout) if holdout else series
    test = series.values[len(train) :]
    bt = backtest(
        train,
        horizon=plan.horizon,
        n_origins=plan.n_origins,
        candidates=plan.candidates,
        season_length=plan.season_length,
        levels=config.levels,
        max_train_weeks=config.max_train_weeks,
        min_train=plan.min_train,
        pools=pools,
    )
    if plan.assigned is None:
        ensembles.add_ensembles(bt, config.ensembles, plan.season_length, config.levels)
    summary = bt.summary()
    scores = summary["mase"].to_dict() if not summary.empty else {}
    selected = assigned(plan, summary) or select_candidate(summary)
    fallback = None
    why = ""
    if selected is None:
        selected = plan.default
        failures = "; ".join(f"{k}: {v}" for k, v in bt.failures.items())
        why = f"no candidate could be backtested ({failures or plan.reason or 'history too short'})"
        fallback = f"{selected}: {why}"
    final_history = window(series, config.max_train_weeks)
    final_pool = pools.at(final_history.end) if pools else None
    spec, failure = fit_selected(selected, final_history, bt, plan, pool=final_pool)
    if spec is None:
        failed = f"{selected} failed on all data ({failure})"
        fallback = f"{plan.baseline}: " + "; ".join(filter(None, [why, failed]))
        selected = plan.baseline
        spec, failure = fit_selected(selected, final_history, bt, plan)
        if spec is None:
            raise ForecastError(f"{series.key}: not even {selected} fits: {failure}")
    evaluation = {
        "selected": selected,
        "fallback": fallback,
        "segment": segment.as_dict(),
        "plan": plan.as_dict(),
        "window": _window_record(final_history, series, config),
        "backtest": {
            "horizon": plan.horizon,
            "origins": [d.date().isoformat() for d in sorted(bt.actuals)],
            "mean": _finite(summary.to_dict(orient="index")),
            "failures": bt.failures,
            "forecasts": [
                {"origin": origin.date().isoformat(), **forecast_record(origin + WEEK, fc)}
                for origin, fc in sorted(bt.forecasts.get(selected, {}).items())
            ],
        },
        "baseline": plan.baseline,
    }
    result_holdout: dict[str, dict[str, float]] = {}
    holdout_forecasts: dict[str, PointForecast] = {}
    honest = honest_forecasts(bt, plan.assigned)
    if len(test):
        result_holdout, holdout_forecasts = _evaluate_holdout(
            train, test, sorted({selected, plan.baseline}), bt, plan, config, pools
        )
        evaluation["holdout"] = {"weeks": len(test), **_finite(result_holdout)}
        if selected in holdout_forecasts:
            first = series.dates[len(train)]
            evaluation["holdout_forecast"] = forecast_record(first, holdout_forecasts[selected])
    bundle = Bundle(model=spec, history=final_history, evaluation=evaluation)
    candidate_forecasts: dict[str, PointForecast] = {}
    if config.forecast_candidates:
        specs, _ = fit_candidates(
            final_history, plan.candidates, plan.season_length, pool=final_pool
        )
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
        scores_for_calibration=[calibration.scores(a, fc) for a, fc in honest],
        totals_for_calibration=(
            float(sum(a.sum() for a, _ in honest)),
            float(sum(fc.mean[: len(a)].sum() for a, fc in honest)),
            sum(len(a) for a, _ in honest),
        ),
        holdout_history=window(train, config.max_train_weeks).values if len(test) else None,
    )


def _fit_inactive(
    series: TitleSeries,
    segment: Segment,
    config: FitConfig,
    pools: Pools | None,
    started: float,
) -> TitleFit:
    """A title without a sale in `INACTIVE_WEEKS` weeks: the zero forecast, no backtest."""
    history = window(series, config.max_train_weeks)
    pool = pools.at(history.end) if pools else None
    specs, failed = fit_candidates(history, [INACTIVE], 1, pool=pool)
    if INACTIVE not in specs:
        raise ForecastError(f"{series.key}: the zero forecast failed: {failed.get(INACTIVE)}")
    last_sale = series.end - segment.weeks_since_sale * WEEK  # type: ignore[operator]
    weeks = min(config.holdout, len(history) - 1)  # scored like any title's holdout
    reason = (
        f"inactive: no sale in the last {segment.weeks_since_sale} weeks (last sale "
        f"{last_sale.date().isoformat()}): a zero forecast, with an interval from how often "
        "inactive titles sold again"
    )
    plan = Plan(
        mode="inactive",
        season_length=1,
        candidates=(INACTIVE,),
        baseline=INACTIVE,
        horizon=0,
        n_origins=0,
        holdout=weeks,
        min_train=0,
        reason=reason,
        default=INACTIVE,
    )
    evaluation = {
        "selected": INACTIVE,
        "fallback": None,
        "segment": segment.as_dict(),
        "reason": reason,
        "plan": plan.as_dict(),
        "window": _window_record(history, series, config),
        "baseline": INACTIVE,
    }
    # Scored on the last weeks as any title is, so that the promotion gate can compare it with
    # a champion fitted while the title still sold.
    held: dict[str, dict[str, float]] = {}
    if weeks > 0:
        train = history.head(len(history) - weeks)
        out, _ = forecast_candidates(specs, train, weeks, config.levels)
        test = history.values[len(train) :]
        held = {INACTIVE: score_forecast(test, out[INACTIVE], train.values, 1, config.levels)}
        evaluation["holdout"] = {"weeks": weeks, **_finite(held)}
    return TitleFit(
        key=series.key,
        selected=INACTIVE,
        scores={},
        backtest=Backtest(pd.DataFrame()),
        bundle=Bundle(model=specs[INACTIVE], history=history, evaluation=evaluation),
        holdout=held,
        seconds=time.perf_counter() - started,
    )


def _window_record(history: TitleSeries, series: TitleSeries, config: FitConfig) -> dict:
    """What the bundle records of the weeks its model was fitted on."""
    return {
        "weeks": len(history),
        "max_weeks": config.max_train_weeks,
        "history_weeks": len(series),
    }


def assigned(plan: Plan, summary: pd.DataFrame) -> str | None:
    """The model the plan assigns, where the backtest scored it at every origin."""
    return plan.assigned if plan.assigned in summary.index else None


def honest_forecasts(
    bt: Backtest, assigned: str | None = None
) -> list[tuple[np.ndarray, PointForecast]]:
    """The selection's own backtest forecasts, with the actual weeks: at each origin, the
    forecast of the candidate the other origins select (with one origin, its own choice), or
    of the `assigned` model. Those of the candidate selected on every origin would be
    optimistic: it was chosen for its errors there."""
    out = []
    for origin in sorted(bt.actuals):
        others = bt.table[bt.table["origin"] != origin] if len(bt.actuals) > 1 else bt.table
        pick = assigned or select_candidate(summarize(others))
        if pick is not None and origin in bt.forecasts.get(pick, {}):
            out.append((bt.actuals[origin], bt.forecasts[pick][origin]))
    return out


def _evaluate_holdout(
    train: TitleSeries,
    test: np.ndarray,
    names: list[str],
    bt: Backtest,
    plan: Plan,
    config: FitConfig,
    pools: Pools | None,
) -> tuple[dict[str, dict[str, float]], dict[str, PointForecast]]:
    """Score candidates fitted on the training window (orders as backtested) on held-out weeks."""
    history = window(train, config.max_train_weeks)
    pool = pools.at(history.end) if pools else None
    scores: dict[str, dict[str, float]] = {}
    forecasts: dict[str, PointForecast] = {}
    for name in names:
        spec, _ = fit_selected(name, history, bt, plan, bt.specs, pool)
        if spec is None:
            continue
        out, _ = forecast_candidates({name: spec}, history, len(test), config.levels)
        if name in out:
            forecasts[name] = out[name]
            scores[name] = score_forecast(
                test, out[name], history.values, plan.season_length, config.levels
            )
    return scores, forecasts


def calibrate(fits: Sequence[TitleFit], levels: Sequence[int]) -> Calibration | None:
    """Pool the titles' backtest scores into calibrations, put them in their bundles (an
    inactive title's zero forecast keeps its own bounds), and score each holdout forecast's
    calibrated mean, intervals and quantiles (in place); returns the conformal calibration of
    every title.

    Intermittent and lumpy titles take count calibrations (`CountCalibration`), one per
    demand class, from their own backtests; the others a conformal calibration on their
    scores; new titles every title's conformal calibration (`calibration_group`); a
    conformal group with too few scores takes every title's. Errors of slow sellers are
    mostly zero weeks and a few large ones, unlike anyone else's: at rolling origins before
    the evaluated weeks, negative-binomial quantiles gave intermittent titles a wQL of 53.8
    instead of 58.6 with the conformal calibration of their own, lumpy ones 70.6 instead of
    82.9, and the correction of the mean by demand class lowered the mean squared error of
    both (lumpy titles' forecasts had summed to 16% more than their sales). A new title's
    launch curve is neither group's model and it has next to no scores of its own: at those
    origins every title's calibration gave new titles a wQL of 32.4 against 32.7 with their
    demand class's group. No finer split of the others: at rolling origins before the
    evaluated weeks, calibrating each stage on its own scores made M4 Weekly's young series'
    wQL 15.6 instead of 11.5 (80% coverage 64% instead of 73%), their backtests being kinder
    than their future."""
    table = calibration.fit_calibration(f.scores_for_calibration for f in fits)
    if table is None:
        return None
    by_group: dict[str | None, AnyCalibration] = {None: table}
    for group in CALIBRATION_GROUPS:
        members = [f for f in fits if calibration_group(f) == group]
        if group in COUNT_GROUPS:
            by_group[group] = calibration.fit_count_calibration(
                f.totals_for_calibration for f in members
            )
        else:
            scores = (f.scores_for_calibration for f in members)
            by_group[group] = calibration.fit_calibration(scores) or table
    for fit in fits:
        if fit.selected == INACTIVE:
            continue
        own = by_group[calibration_group(fit)]
        fit.bundle = replace(fit.bundle, calibration=own)
        held = fit.holdout_forecast
        if held is None or fit.selected not in fit.holdout:
            continue
        actual = fit.bundle.history.values[-len(held.mean) :]
        whole = calibration.is_whole(fit.bundle.history.values)
        mean, columns = own.columns(held, levels, calibration.SCORED, whole)
        row = fit.holdout[fit.selected]
        if fit.holdout_history is not None and not np.array_equal(mean, held.mean):
            season = fit.bundle.evaluation["plan"]["season_length"]
            row.update(metrics.score(actual, mean, fit.holdout_history, season))
        for level in levels:
            row[f"coverage_{level}"] = metrics.coverage(
                actual, columns[f"lo_{level}"], columns[f"hi_{level}"]
            )
        scored = {t: columns[calibration.quantile_column(t)] for t in calibration.SCORED}
        row["wql"] = metrics.wql(actual, scored)
        fit.bundle.evaluation.setdefault("holdout", {})[fit.selected] = _finite(row)
    return table


def calibration_group(fit: TitleFit) -> str | None:
    """The calibration a title takes in `calibrate`: its demand class for an intermittent or
    lumpy one (`Segment.intermittent`) that sells whole copies, None (every title's) for a new
    one, `other` else."""
    data = fit.bundle.evaluation.get("segment")
    segment = Segment.from_dict(data) if data is not None else None
    if segment is not None and segment.stage == "new":
        return None
    if (
        segment is not None
        and segment.intermittent
        and calibration.is_whole(fit.bundle.history.values)
    ):
        return segment.demand
    return "other"


def _finite(nested: dict) -> dict:
    """JSON-safe copy: NaN and infinities become None."""
    if isinstance(nested, dict):
        return {str(k): _finite(v) for k, v in nested.items()}
    if isinstance(nested, float | np.floating):
        return float(nested) if np.isfinite(nested) else None
    return nested
