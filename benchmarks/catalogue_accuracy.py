"""Rolling-origin accuracy per demand segment over the whole sample catalogue: Shelfcast beside
its peers, all fitted in one run on the same truncated data.

At each origin (by default 3, 13 weeks apart, the last one 13 weeks before the catalogue's
last week) every title with a sale up to the origin is cut there; Shelfcast (`fit_titles`
with the default settings) and statsforecast's simple and intermittent-demand methods forecast
the next 13 weeks from the cut histories. Scores per segment (stage and demand class at the
origin, `catalog.segments`; titles under 52 weeks; all): MASE, WAPE, wQL, 80/95% coverage,
with a verdict per segment against the peers; then new titles over their first 13 weeks
against the category-average launch curve, with the coverage of their intervals as production
calibrates them; and the time of the whole-catalogue fit.

Example:
    .venv/bin/python benchmarks/catalogue_accuracy.py                 # in full, about 6 min
    .venv/bin/python benchmarks/catalogue_accuracy.py --limit 40 --origins 1
    .venv/bin/python benchmarks/catalogue_accuracy.py --inner   # the weeks before the origins
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import contextlib
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Table, fmt, fmt_seconds, load_note, machine_line
from _peers import (
    NAIVE,
    WITH_INTERVALS,
    Forecast,
    fill_from_naive,
    statsforecast_forecasts,
    statsforecast_models,
    window_frames,
)
from m4_weekly import (
    LEVELS,
    QUANTILES,
    Probabilistic,
    naive_forecast,
    probabilistic,
    shelfcast_forecast,
)

SEASON = 52
SHELFCAST = "Shelfcast"
SNAIVE = "SeasonalNaive(52)"
HISTORIC = "HistoricAverage"
INTERMITTENT = ("CrostonSBA", "TSB(0.1, 0.1)", "ADIDA", "IMAPA")
PEERS = (SNAIVE, NAIVE, HISTORIC, *INTERMITTENT, "AutoETS")
SIMPLE = (SNAIVE, NAIVE, HISTORIC, *INTERMITTENT)  # the under-52-weeks comparison
CONFORMAL_WINDOWS = 5  # statsforecast's conformal intervals: at most 5 windows, at least 2
UNDER_52 = "under 52 weeks"
COVERAGE_TOLERANCE = 5.0  # points from nominal
LAUNCH_WEEKS = 13  # a new title's first weeks, scored
LAUNCH_ORIGINS = (1, 2, 4, 8)  # weeks after the launch
LAUNCH_TARGET = 25.0  # percent lower WAPE than the launch-curve baseline
SPEED_TARGET = 120.0  # seconds for the whole-catalogue fit on 2 cores


# ----------------------------------------------------------------------------------- data


@dataclass
class Catalogue:
    series: list[Any]  # TitleSeries, sorted by ISBN
    category: dict[str, str]  # ISBN -> BookScan Product Class
    seed: int
    n_titles: int


def load_catalogue(limit: int | None) -> Catalogue:
    """The sample catalogue as `accuracy.py` reads it: every title with a sale, whole history."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series
    from shelfcast.settings import load_settings

    seed = load_settings().data.sample_seed
    with tempfile.TemporaryDirectory(prefix="shelfcast-bench-") as tmp:
        paths = write_sample(tmp, fmt="parquet", seed=seed)
        sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    frame = sales.frame
    category = frame.dropna(subset=["product_class"]).groupby("isbn")["product_class"].last()
    series = sorted(weekly_series(sales, start=None), key=lambda s: s.key)
    return Catalogue(
        series=series[:limit] if limit else series,
        category={str(k): str(v) for k, v in category.items()},
        seed=seed,
        n_titles=int(frame["isbn"].nunique()),
    )


def cut_catalogue(cat: Catalogue, week: pd.Timestamp) -> Catalogue:
    """`cat` as it was at `week`: every title with a sale by then, cut there."""
    from shelfcast.catalog.series import split_series

    cut = (split_series(s, cutoff=week)[0] for s in cat.series)
    return replace(cat, series=[h for h in cut if len(h)])


@dataclass
class Case:
    """One title at one origin: its history up to the origin and the weeks after it."""

    origin: pd.Timestamp
    history: Any  # TitleSeries cut at the origin
    actual: np.ndarray
    segment: Any  # catalog.segments.Segment at the origin
    scale: float  # the MASE denominator
    scale_fallback: bool  # the naive error was zero: the mean volume scales instead

    @property
    def key(self) -> tuple[pd.Timestamp, str]:
        return (self.origin, self.history.key)


def origin_weeks(last_week: pd.Timestamp, n_origins: int, horizon: int) -> list[pd.Timestamp]:
    """The last weeks of history: `horizon` weeks apart, the last one `horizon` before the end."""
    step = pd.Timedelta(weeks=horizon)
    return [last_week - (n_origins - i) * step for i in range(n_origins)]


def mase_scale(history: np.ndarray) -> tuple[float, bool]:
    """In-sample MAE of seasonal naive (m = 52) for two seasons or more, of naive otherwise;
    where that is zero or undefined, the mean volume (the MAE of a zero forecast)."""
    m = SEASON if len(history) >= 2 * SEASON else 1
    if len(history) > m:
        scale = float(np.mean(np.abs(history[m:] - history[:-m])))
        if scale > 0:
            return scale, False
    return float(np.mean(history)), True


def cases_at(series: Sequence[Any], origin: pd.Timestamp, horizon: int) -> list[Case]:
    """Every title with a sale up to `origin`, cut there (its segment from the cut history)."""
    from shelfcast.catalog.segments import segment_of
    from shelfcast.catalog.series import split_series

    out = []
    for s in series:
        history, after = split_series(s, cutoff=origin)
        if not len(history):
            continue  # first sale after the origin
        scale, fallback = mase_scale(history.values)
        out.append(
            Case(
                origin=origin,
                history=history,
                actual=after.values[:horizon],
                segment=segment_of(history.values),
                scale=scale,
                scale_fallback=fallback,
            )
        )
    return out


# -------------------------------------------------------------------------------- methods


@dataclass
class MethodRun:
    """A method's forecasts of every case, by (origin, ISBN), and its cost over all origins."""

    name: str
    forecasts: dict[tuple[pd.Timestamp, str], Forecast] = field(default_factory=dict)
    seconds: float = 0.0
    filled: int = 0  # cases without a (finite) forecast of its own: Naive's used


def fit_shelfcast(histories: Sequence[Any], config: Any, workers: int, horizon: int):
    """`fit_titles` on `histories`, each fit's calibrated forecast: (forecasts by ISBN, errors,
    seconds of `fit_titles` alone, seconds with the forecasts, fits)."""
    from shelfcast.forecasting import fit_titles

    t0 = time.perf_counter()
    fits, errors = fit_titles(list(histories), config, workers=workers)
    fitted = time.perf_counter() - t0
    forecasts = {f.key: shelfcast_forecast(f, horizon) for f in fits}
    return forecasts, errors, fitted, time.perf_counter() - t0, fits


def peer_forecasts(
    cases: Sequence[Case], weeks: int | None, horizon: int, workers: int
) -> dict[str, tuple[dict[str, Forecast], float]]:
    """Every peer on each case's last `weeks` weeks of history: forecasts by ISBN, seconds.

    Models with intervals of their own get 80/95% levels; AutoETS is seasonal (52) on windows
    of two seasons, non-seasonal on shorter ones. The intermittent-demand methods get
    statsforecast's conformal intervals where the window holds two horizons and a week (the
    fewest conformal windows), and no intervals on shorter ones: given levels there, they
    would be replaced by the fallback model silently.
    """
    from statsforecast.utils import ConformalIntervals

    items = [(c.history.key, c.history.start, c.history.values) for c in cases]
    freq = cases[0].history.freq
    by_season = window_frames(items, weeks, freq, 2 * SEASON)
    by_conformal = window_frames(items, weeks, freq, 2 * horizon + 1)
    conformal = statsforecast_models(ConformalIntervals(h=horizon, n_windows=CONFORMAL_WINDOWS))
    plain = statsforecast_models()
    out = {}
    for name in PEERS:
        t0 = time.perf_counter()
        if name in WITH_INTERVALS:
            groups = [(f, plain[name](SEASON if long else 1), LEVELS) for f, long in by_season]
        else:
            groups = [
                (f, (conformal if long else plain)[name](1), LEVELS if long else ())
                for f, long in by_conformal
            ]
        forecasts: dict[str, Forecast] = {}
        for frame, model, levels in groups:
            forecasts |= statsforecast_forecasts([(frame, model)], horizon, levels, freq, workers)
        out[name] = (forecasts, time.perf_counter() - t0)
    return out


@dataclass
class Backtest:
    cases: list[Case]
    runs: dict[str, MethodRun]
    last_fit_seconds: float  # fit_titles over the catalogue at the last origin
    last_fit_titles: int
    failed: dict[str, str]  # Shelfcast's failures by "origin ISBN"
    selected: Counter
    # by origin, the conformal calibration of every title of its `fit_titles` (what `calibrate`
    # gives new titles), where it had enough scores
    calibrations: dict[pd.Timestamp, Any]


def backtest(
    cat: Catalogue, origins: Sequence[pd.Timestamp], config: Any, horizon: int, workers: int
) -> Backtest:
    """Shelfcast and every peer at each origin, on the same cut histories."""
    from shelfcast.forecasting.calibration import fit_calibration

    runs = {n: MethodRun(n) for n in (SHELFCAST, *PEERS)}
    cases: list[Case] = []
    failed: dict[str, str] = {}
    selected: Counter = Counter()
    calibrations: dict[pd.Timestamp, Any] = {}
    last_fit, last_titles = np.nan, 0
    for origin in origins:
        at = cases_at(cat.series, origin, horizon)
        if not at:
            continue  # no title sold by then (a --limit run with many origins)
        cases += at
        print(f"origin {origin:%Y-%m-%d}: {len(at)} titles", flush=True)
        print(f"  {SHELFCAST}: fit_titles, {workers} workers", flush=True)
        own, errors, fitted, seconds, fits = fit_shelfcast(
            [c.history for c in at], config, workers, horizon
        )
        last_fit, last_titles = fitted, len(at)
        table = fit_calibration(f.scores_for_calibration for f in fits)
        if table is not None:
            calibrations[origin] = table
        selected.update(f.selected for f in fits)
        failed |= {f"{origin:%Y-%m-%d} {k}": v for k, v in errors.items()}
        print("  peers", flush=True)
        peers = peer_forecasts(at, config.max_train_weeks, horizon, workers)
        keys = [c.history.key for c in at]
        naive = peers[NAIVE][0]
        for name, (forecasts, secs) in [(SHELFCAST, (own, seconds)), *peers.items()]:
            with_intervals = name == SHELFCAST or name in WITH_INTERVALS
            filled, n = fill_from_naive(keys, forecasts, naive, with_intervals)
            run = runs[name]
            run.forecasts |= {(origin, k): f for k, f in filled.items()}
            run.seconds += secs
            run.filled += n
    return Backtest(cases, runs, last_fit, last_titles, failed, selected, calibrations)


# -------------------------------------------------------------------------------- scoring


@dataclass
class Scores:
    wape: float  # percent; nan when the actuals sum to zero
    mae: float  # per title-week
    mase: float
    prob: Probabilistic | None  # over the cases with intervals
    with_intervals: int  # cases with intervals (of the group's)


def score(cases: Sequence[Case], run: MethodRun, horizon: int) -> Scores:
    per_case = [np.abs(c.actual - run.forecasts[c.key].mean) for c in cases]
    errors = np.concatenate(per_case)
    actual = float(sum(c.actual.sum() for c in cases))
    mase = [e.mean() / c.scale for e, c in zip(per_case, cases, strict=True)]
    scored = [c for c in cases if run.forecasts[c.key].bounds]
    prob = probabilistic(
        [c.actual for c in scored], [run.forecasts[c.key] for c in scored], horizon
    )
    return Scores(
        wape=100.0 * float(errors.sum()) / actual if actual > 0 else np.nan,
        mae=float(errors.mean()),
        mase=float(np.mean(mase)),
        prob=prob,
        with_intervals=len(scored),
    )


def segment_rows(cases: Sequence[Case]) -> list[tuple[str, list[Case]]]:
    """Each stage, each demand class, the titles under 52 weeks, all (the empty ones left out)."""
    from shelfcast.catalog.segments import DEMAND_CLASSES, STAGES

    rows = [(f"stage: {s}", [c for c in cases if c.segment.stage == s]) for s in STAGES]
    rows += [(f"demand: {d}", [c for c in cases if c.segment.demand == d]) for d in DEMAND_CLASSES]
    rows += [
        (UNDER_52, [c for c in cases if len(c.history) < SEASON]),
        ("all", list(cases)),
    ]
    return [(label, group) for label, group in rows if group]


def pct(x: float) -> str:
    return f"{fmt(x, 1)}%" if x == x else "n/a"


def error_cell(s: Scores) -> str:
    """WAPE, or the MAE where the actuals sum to zero (WAPE undefined)."""
    return pct(s.wape) if s.wape == s.wape else f"MAE {fmt(s.mae, 3)}"


def error_value(s: Scores) -> float:
    return s.wape if s.wape == s.wape else s.mae


def prob_cell(s: Scores, n: int, value: Callable[[Probabilistic], float], unit: str) -> str:
    if s.prob is None:
        return "-"
    mark = "" if s.with_intervals == n else "*"
    return f"{fmt(value(s.prob), 1)}{unit}{mark}"


METRICS: dict[str, tuple[str, Callable[[Scores, int], str], Callable[[Scores], float] | None]] = {
    "wape": (
        "WAPE (MAE per title-week where the actuals are all zero)",
        lambda s, n: error_cell(s),
        error_value,
    ),
    "mase": ("MASE", lambda s, n: fmt(s.mase), lambda s: s.mase),
    "wql": (
        "wQL (0.1/0.5/0.9, percent)",
        lambda s, n: prob_cell(s, n, lambda p: p.wql, ""),
        lambda s: s.prob.wql if s.prob else np.nan,
    ),
    "coverage": (
        "80% / 95% interval coverage",
        lambda s, n: (
            "-"
            if s.prob is None
            else f"{prob_cell(s, n, lambda p: p.coverage[80], '%')}"
            f" / {prob_cell(s, n, lambda p: p.coverage[95], '%')}"
        ),
        None,
    ),
}


def metric_tables(
    bt: Backtest, scores: dict[str, dict[str, Scores]], horizon: int, n_origins: int
) -> list[Table]:
    """One table per metric: a row per segment, a column per method (the best in bold)."""
    names = list(bt.runs)
    tables = []
    for title, cell, value in METRICS.values():
        table = Table(
            title=f"{title} per segment, {n_origins} rolling origin(s) x {horizon} weeks",
            columns=["segment", "title-origins", *names],
        )
        for label, group in segment_rows(bt.cases):
            row = scores[label]
            cells = [cell(row[n], len(group)) for n in names]
            if value is not None:
                values = [value(row[n]) for n in names]
                finite = [v for v in values if v == v]
                best = min(finite) if finite else None
                cells = [f"**{c}**" if v == best else c for c, v in zip(cells, values, strict=True)]
            table.add(label, len(group), *cells)
        tables.append(table)
    return tables


def verdict(own: float, other: float) -> str:
    """Whether Shelfcast's error (`own`) is lower than `other`'s."""
    if np.isclose(own, other, rtol=1e-9, atol=1e-12):
        return "tie"
    return "yes" if own < other else "**no**"


def summary_table(bt: Backtest, scores: dict[str, dict[str, Scores]]) -> Table:
    """Per segment: does Shelfcast beat each benchmark the task sets, and are its intervals
    within 5 points of nominal?"""
    table = Table(
        title="Does Shelfcast beat them? (per segment)",
        columns=[
            "segment",
            "WAPE: Shelfcast vs seasonal naive / naive / historic average",
            "intermittent, lumpy: best Croston-SBA/TSB/ADIDA/IMAPA on MASE / wQL",
            "under 52 weeks: best simple or intermittent method on WAPE",
            "80% coverage within 5 points",
            "95% coverage within 5 points",
        ],
        right_align_from=6,
    )
    for label, group in segment_rows(bt.cases):
        row = scores[label]
        own = row[SHELFCAST]
        simple = f"{error_cell(own)} vs " + " / ".join(
            f"{verdict(error_value(own), error_value(row[p]))} ({error_cell(row[p])})"
            for p in (SNAIVE, NAIVE, HISTORIC)
        )
        intermittent = ""
        if label in ("demand: intermittent", "demand: lumpy"):
            intermittent = intermittent_verdict(group, bt, row)
        short = ""
        if label == UNDER_52:
            best = min(SIMPLE, key=lambda p: error_value(row[p]))
            short = (
                f"{verdict(error_value(own), error_value(row[best]))}"
                f" ({error_cell(own)} vs {best} {error_cell(row[best])})"
            )
        sold = any(np.any(c.actual) for c in group)
        coverage = [coverage_cell(own.prob, lv, sold) for lv in LEVELS]
        table.add(label, simple, intermittent, short, *coverage)
    table.notes.append(
        "coverage n/a: the segment sold no copy in any scored week, so any interval that holds"
        " zero covers 100% of them and none could cover the nominal share"
    )
    return table


def coverage_cell(prob: Probabilistic | None, level: int, sold: bool) -> str:
    """Whether the `level`% interval's coverage is within `COVERAGE_TOLERANCE` points of
    nominal; n/a where the scored weeks sold nothing (`sold` False)."""
    if prob is None:
        return "-"
    value = f"({fmt(prob.coverage[level], 1)}%)"
    if not sold:
        return f"n/a {value}"
    return ("yes" if abs(prob.coverage[level] - level) <= COVERAGE_TOLERANCE else "**no**") + (
        f" {value}"
    )


def intermittent_verdict(group: Sequence[Case], bt: Backtest, row: dict[str, Scores]) -> str:
    """Shelfcast against the best intermittent method on MASE, and on wQL over the cases that
    method has intervals for (Shelfcast scored on the same cases)."""
    own = row[SHELFCAST]
    best_mase = min(INTERMITTENT, key=lambda p: row[p].mase)
    with_wql = [p for p in INTERMITTENT if row[p].prob is not None]
    cell = (
        f"MASE {verdict(own.mase, row[best_mase].mase)}"
        f" ({fmt(own.mase)} vs {best_mase} {fmt(row[best_mase].mase)})"
    )
    if not with_wql:
        return cell + "; wQL - (no intervals)"
    best = min(with_wql, key=lambda p: row[p].prob.wql)  # type: ignore[union-attr]
    peer = bt.runs[best]
    same = [c for c in group if peer.forecasts[c.key].bounds]
    own_wql = probabilistic(
        [c.actual for c in same],
        [bt.runs[SHELFCAST].forecasts[c.key] for c in same],
        len(same[0].actual),
    )
    if own_wql is None:
        return cell + "; wQL - (Shelfcast without intervals)"
    return (
        cell + f"; wQL {verdict(own_wql.wql, row[best].prob.wql)}"  # type: ignore[union-attr]
        f" ({fmt(own_wql.wql, 1)} vs {best} {fmt(row[best].prob.wql, 1)})"  # type: ignore[union-attr]
    )


def methods_table(
    bt: Backtest, config: Any, origins: Sequence[pd.Timestamp], workers: int, load: str
) -> Table:
    """What each method was given, its cost over all origins, the cases filled with Naive's."""
    n = len(bt.cases)
    table = Table(
        title="The methods: fit+forecast time over all origins",
        columns=["method", "given", "fit+forecast", "per title-origin", "Naive's forecast used"],
        right_align_from=2,
    )
    window = (
        f"last {config.max_train_weeks} weeks" if config.max_train_weeks else "every week"
    ) + " of each cut history"
    given = {
        SHELFCAST: "`fit_titles(cut histories, fit_config(load_settings(), horizon=H),"
        f" workers={workers})`, each fit's `bundle.forecast(H, levels={LEVELS},"
        f" quantiles={QUANTILES})` (calibrated quantiles)",
        SNAIVE: f"season 52 ({window}); Naive's forecast where under 52 weeks",
        NAIVE: window,
        HISTORIC: window,
        "AutoETS": f"season_length=52 where the window holds 104 weeks, else 1 ({window})",
    }
    for name in INTERMITTENT:
        given[name] = (
            f"{window}; conformal intervals (`ConformalIntervals(h=H,"
            f" n_windows={CONFORMAL_WINDOWS})`) where the window holds 2H+1 weeks"
        )
    for name, run in bt.runs.items():
        table.add(
            f"**{name}**" if name == SHELFCAST else name,
            given[name],
            fmt_seconds(run.seconds),
            fmt_seconds(run.seconds / max(n, 1)),
            run.filled,
        )
    met = bt.last_fit_seconds <= SPEED_TARGET
    table.notes += [
        f"origins (last week of history): {', '.join(f'{o:%Y-%m-%d}' for o in origins)};"
        f" {n} title-origins",
        f"configuration: `{config}`",
        "Shelfcast's selected models (title-origins): "
        + ", ".join(f"{k} {v}" for k, v in bt.selected.most_common()),
        f"speed: `fit_titles` over the whole catalogue at the last origin ({bt.last_fit_titles}"
        f" titles, every segment) took {fmt_seconds(bt.last_fit_seconds)} with {workers}"
        f" worker(s) (target <= {SPEED_TARGET:.0f} s on 2 cores: {'met' if met else 'not met'})",
        "statsforecast: `StatsForecast(models=[<model>], freq='W-SAT', n_jobs="
        f"{workers}, fallback_model=Naive()).forecast(df, h=H, level=[80, 95])` in this process,"
        " one run per method, origin and group (`level` only where the model has intervals);"
        " forecasts and bounds clipped at zero",
        "Naive's forecast used: a case the method gave no finite forecast (SeasonalNaive under 52"
        " weeks; a Shelfcast fit that failed), with Naive's intervals for a method with"
        " intervals of its own, its mean alone otherwise",
        load,
        "measured " + machine_line("statsforecast", "numpy", "scipy"),
    ]
    if bt.failed:
        first = next(iter(bt.failed.items()))
        table.notes.append(f"Shelfcast fits failed: {len(bt.failed)}, e.g. {first[0]}: {first[1]}")
    return table


def notes_for_segments(bt: Backtest, cat: Catalogue, horizon: int) -> list[str]:
    n_fallback = sum(c.scale_fallback for c in bt.cases)
    partial = {
        name: run
        for name, run in bt.runs.items()
        if 0 < sum(bool(run.forecasts[c.key].bounds) for c in bt.cases) < len(bt.cases)
    }
    notes = [
        f"sample catalogue: `write_sample(seed={cat.seed})` (the settings' `data.sample_seed`)"
        f" read back with `read_sales`, `weekly_series(start=None)`: {len(cat.series)} of its"
        f" {cat.n_titles} titles"
        + (" (the first ones, --limit)" if len(cat.series) < cat.n_titles else "")
        + "; at each origin every title with a sale up to it, cut there; its segment"
        " (`catalog.segments.segment_of`) from the cut history",
        "segments: stage (new under 13 weeks since the first sale, young 13-103, established"
        " 104+, inactive without a sale in the last 52 weeks), Syntetos-Boylan demand class on"
        " the last 104 weeks, titles with under 52 weeks of history, all",
        "WAPE: sum |error| / sum actual over the segment's titles, origins and weeks; where the"
        " actuals are all zero it is undefined and the cell shows the MAE per title-week instead",
        "MASE: mean over title-origins of the MAE over the in-sample MAE of seasonal naive (m ="
        " 52) for histories of 104 weeks or more, of naive (m = 1) for shorter ones, on the whole"
        " cut history; where that is zero, the in-sample mean volume (the MAE of a zero"
        f" forecast) scales instead: {n_fallback} of {len(bt.cases)} title-origins",
        "wQL: weighted quantile loss of the 0.1, 0.5 and 0.9 quantiles pooled over the segment"
        " (2 x summed pinball loss / summed actuals, mean over the quantiles, percent):"
        " Shelfcast's calibrated p10/p50/p90, a peer's 80% bounds and point forecast; coverage:"
        " share of the weeks inside the 80% and 95% intervals; `-`: no intervals",
        f"intermittent methods' intervals: statsforecast's conformal intervals, on windows of"
        f" at least {2 * horizon + 1} weeks (two horizons and a week); `*`: over the"
        " title-origins with intervals only ("
        + (
            ", ".join(
                f"{n}: {sum(bool(r.forecasts[c.key].bounds) for c in bt.cases)} of {len(bt.cases)}"
                for n, r in partial.items()
            )
            or "every title-origin had them"
        )
        + ")",
        "bold: the best method of the row (lowest)",
    ]
    return notes


# ------------------------------------------------------------------------------ new titles


@dataclass
class Launch:
    series: Any  # TitleSeries from its first sale
    category: str
    source: str

    @property
    def first_weeks_end(self) -> pd.Timestamp:
        return self.series.start + pd.Timedelta(weeks=LAUNCH_WEEKS - 1)


def launches(cat: Catalogue) -> list[Launch]:
    """Titles launched inside the catalogue (first sale at least 13 weeks after its first week:
    one selling from the start may have been on sale before) with 13 weeks of data."""
    first = min(s.start for s in cat.series)
    guard = first + pd.Timedelta(weeks=LAUNCH_WEEKS)
    return [
        Launch(s, cat.category.get(s.key, ""), s.source or "")
        for s in cat.series
        if s.start >= guard and len(s) >= LAUNCH_WEEKS
    ]


def launch_curve(title: Launch, origin: pd.Timestamp, others: Sequence[Launch]):
    """Mean weekly sales by week since launch of the other launches of the title's Product
    Class whose first 13 weeks ended by `origin` (else of its sheet, else of all): (curve,
    which), or None when no launch ended by then."""
    done = [o for o in others if o is not title and o.first_weeks_end <= origin]
    for which, pick in (
        ("category", lambda o: o.category == title.category),
        ("sheet", lambda o: o.source == title.source),
        ("all", lambda o: True),
    ):
        pool = [o.series.values[:LAUNCH_WEEKS] for o in done if pick(o)]
        if pool:
            return np.mean(pool, axis=0), which
    return None


OWN, CURVE, SCALED = "Shelfcast", "launch curve", "launch curve, scaled"
# Shelfcast's intervals scored for coverage: with the calibration production gives a new title;
# as `fit_title` returns them, on the same title-origins and on every title-origin fitted
CALIBRATED, UNCALIBRATED, EVERY = "calibrated", "uncalibrated", "uncalibrated, every"


@dataclass
class LaunchRow:
    """The scored title-origins of one k (or of all): summed absolute errors per method."""

    label: str
    k: int = 0  # weeks after the launch (0: every k)
    titles: int = 0
    errors: Counter = field(default_factory=Counter)
    actual: float = 0.0
    own_failed: int = 0  # titles Shelfcast could not fit: Naive's forecast scored
    curves: Counter = field(default_factory=Counter)  # category / sheet / all
    no_baseline: int = 0
    selected: Counter = field(default_factory=Counter)
    # by `CALIBRATED`, `UNCALIBRATED`, `EVERY`: the scored weeks and Shelfcast's forecast of
    # each title-origin scored for coverage
    intervals: defaultdict[str, list[tuple[np.ndarray, Forecast]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    before_calibration: int = 0  # fitted, cut before every origin with a calibration

    def add(self, other: LaunchRow) -> None:
        self.titles += other.titles
        self.errors.update(other.errors)
        self.actual += other.actual
        self.own_failed += other.own_failed
        self.curves.update(other.curves)
        self.no_baseline += other.no_baseline
        for name, scored in other.intervals.items():
            self.intervals[name] += scored
        self.before_calibration += other.before_calibration

    def wape(self, method: str) -> float:
        return 100 * self.errors[method] / self.actual if self.actual else np.nan

    def add_intervals(self, actual: np.ndarray, fit: Any, own: Forecast, calibration: Any) -> None:
        """Score `fit`'s intervals as `fit_title` gave them (`own`) and, where there is a
        `calibration`, the bundle's forecast with it beside them on the same weeks."""
        self.intervals[EVERY].append((actual, own))
        if calibration is None:
            self.before_calibration += 1
            return
        calibrated = replace(fit, bundle=replace(fit.bundle, calibration=calibration))
        self.intervals[CALIBRATED].append((actual, shelfcast_forecast(calibrated, len(actual))))
        self.intervals[UNCALIBRATED].append((actual, own))

    def scored(self, name: str) -> str:
        """Title-origins / weeks scored for coverage with `name`'s intervals."""
        pairs = self.intervals[name]
        return f"{len(pairs)} / {sum(len(a) for a, _ in pairs)}"

    def coverage(self, name: str) -> str:
        """80% / 95% coverage of `name`'s intervals, pooled over its weeks."""
        pairs = self.intervals[name]
        p = probabilistic([a for a, _ in pairs], [f for _, f in pairs], LAUNCH_WEEKS)
        return "-" if p is None else " / ".join(pct(p.coverage[lv]) for lv in LEVELS)


def calibration_at(calibrations: Mapping[pd.Timestamp, Any], cut: pd.Timestamp) -> Any:
    """The calibration of the latest origin no later than `cut` (no look-ahead); None when
    every origin is later."""
    usable = [table for origin, table in sorted(calibrations.items()) if origin <= cut]
    return usable[-1] if usable else None


def pools_by_quarter(cat: Catalogue, config: Any, cuts: Sequence[pd.Timestamp]) -> Any:
    """What the pooled families a new title can use are trained to, at every 13th week of the
    catalogue up to the last of `cuts`, each on the weeks up to it alone: `fit_title` then takes
    the latest trained no later than the title's own cut (`Pools.at`), as `fit_titles` does."""
    from shelfcast.errors import ForecastError
    from shelfcast.forecasting.backtest import Pools
    from shelfcast.forecasting.families import FAMILIES

    pooled = [FAMILIES[n] for n in config.candidates if FAMILIES[n].pooled]
    new = [f for f in pooled if "new" in f.modes]
    first = min(s.start for s in cat.series)
    grid = pd.date_range(first + pd.Timedelta(weeks=LAUNCH_WEEKS), max(cuts), freq="91D")
    trained = {}
    for cut in grid:
        histories = [s.head((cut - s.start).days // 7 + 1) for s in cat.series if s.start <= cut]
        found = {}
        for family in new:
            with contextlib.suppress(ForecastError, ValueError, ArithmeticError):
                found[family.name] = family.train_pool(histories, config.season_length)
        trained[cut] = found
    return Pools(trained)


def new_titles(
    cat: Catalogue, config: Any, calibrations: Mapping[pd.Timestamp, Any]
) -> tuple[list[LaunchRow], int]:
    """Per k: each launch cut k weeks after it, fitted by `fit_title` with the pools trained up
    to its cut, against the launch curve and the same curve scaled to the title's first k
    weeks; its intervals with the calibration of `calibrations`' latest origin no later than
    its cut, as production calibrates a new title, and without."""
    from shelfcast.errors import ForecastError
    from shelfcast.forecasting import fit_title

    found = launches(cat)
    if not found:
        return [], 0
    cuts = [x.series.start + pd.Timedelta(weeks=k - 1) for x in found for k in LAUNCH_ORIGINS]
    pools = pools_by_quarter(cat, config, cuts)
    rows = []
    for k in LAUNCH_ORIGINS:
        print(f"new titles, {k} week(s) after launch: {len(found)} titles", flush=True)
        row = LaunchRow(f"k = {k}: weeks {k + 1}-{LAUNCH_WEEKS}", k)
        for x in found:
            cut = x.series.start + pd.Timedelta(weeks=k - 1)
            base = launch_curve(x, cut, found)
            if base is None:
                row.no_baseline += 1
                continue
            curve, which = base
            seen, actual = x.series.values[:k], x.series.values[k:LAUNCH_WEEKS]
            try:
                fit = fit_title(x.series.head(k), config, pools)
                own = shelfcast_forecast(fit, len(actual))
            except (ForecastError, ValueError, ArithmeticError) as exc:
                print(f"  {x.series.key}: {exc}", flush=True)
                mean, row.own_failed = naive_forecast(seen, len(actual)), row.own_failed + 1
            else:
                mean = own.mean
                row.selected[fit.selected] += 1
                row.add_intervals(actual, fit, own, calibration_at(calibrations, cut))
            level = seen.sum() / curve[:k].sum() if curve[:k].sum() > 0 else 1.0
            row.titles += 1
            row.curves[which] += 1
            row.actual += float(actual.sum())
            for method, forecast in ((OWN, mean), (CURVE, curve[k:]), (SCALED, level * curve[k:])):
                row.errors[method] += float(np.abs(actual - forecast).sum())
        rows.append(row)
    return rows, len(found)


def new_titles_table(
    rows: list[LaunchRow], n_launches: int, calibrated: Sequence[pd.Timestamp]
) -> Table:
    """Per k and over all: WAPE against the launch curves, and the coverage of Shelfcast's
    intervals; `calibrated`: the backtest's origins with a calibration."""
    table = Table(
        title=f"New titles: their first {LAUNCH_WEEKS} weeks, Shelfcast against the category"
        " launch curve",
        columns=[
            "origin",
            "titles",
            "Shelfcast WAPE",
            "launch-curve WAPE",
            "reduction",
            "scaled launch-curve WAPE",
            "Shelfcast fits failed (Naive used)",
            "curve from: category / sheet / all",
            "coverage scored: title-origins / weeks",
            "80% / 95% coverage, calibrated",
            "80% / 95% coverage, uncalibrated",
            "every fit: title-origins / weeks",
            "80% / 95% coverage, uncalibrated, every fit",
        ],
    )
    total = LaunchRow("**all**")
    for r in rows:
        total.add(r)
    for r in [*rows, total]:
        reduction = 100 * (1 - r.wape(OWN) / r.wape(CURVE))
        table.add(
            r.label,
            r.titles,
            pct(r.wape(OWN)),
            pct(r.wape(CURVE)),
            pct(reduction),
            pct(r.wape(SCALED)),
            r.own_failed,
            " / ".join(str(r.curves[w]) for w in ("category", "sheet", "all")),
            r.scored(CALIBRATED),
            r.coverage(CALIBRATED),
            r.coverage(UNCALIBRATED),
            r.scored(EVERY),
            r.coverage(EVERY),
        )
    met = reduction >= LAUNCH_TARGET  # the last row's: all origins
    table.notes += [
        f"{n_launches} titles launched inside the catalogue (first sale at least"
        f" {LAUNCH_WEEKS} weeks after the catalogue's first week: a title selling from the"
        f" start may have been on sale before) with {LAUNCH_WEEKS} weeks of data; at origin k"
        f" each has its first k weeks, weeks k+1 to {LAUNCH_WEEKS} are scored; WAPE pooled over"
        " the titles and weeks of the row",
        "Shelfcast: `fit_title(the launch cut k weeks after its launch, the default"
        " configuration, pools)`, `bundle.forecast(13 - k)`; the pools (the launch curves) are"
        " trained on the whole catalogue every 13 weeks, each on the weeks up to then alone, and"
        " a title takes the latest no later than its own cut (`Pools.at`): no look-ahead; a"
        " title it cannot fit gets Naive's forecast, its last week repeated; selected: "
        + "; ".join(
            f"k = {r.k}: " + ", ".join(f"{n} {c}" for n, c in r.selected.most_common(3))
            for r in rows
            if r.selected
        ),
        "launch curve: the mean weekly sales by week since launch of the other launches of the"
        " same BookScan Product Class whose own first 13 weeks ended on or before the origin"
        " week (no look-ahead; the title itself left out), else of its sheet (Source), else of"
        f" all; title-origins with no earlier launch at all are left out ({total.no_baseline}"
        " here); reduction: 1 - Shelfcast's WAPE / the launch curve's",
        "scaled launch curve (shown, not a target): the same curve times the title's first k"
        " weeks' sales over the curve's",
        "coverage: share of the scored weeks (k+1 to 13) inside Shelfcast's 80% and 95%"
        " intervals, pooled over the row's title-origins; calibrated: what production gives a new"
        " title (`calibrate` gives its bundle every title's conformal calibration): the bundle"
        " with `calibration.fit_calibration` over the `scores_for_calibration` of this run's own"
        " `fit_titles` at its latest origin no later than the title's cut (origins with one: "
        + (", ".join(f"{o:%Y-%m-%d}" for o in calibrated) or "none")
        + "), `bundle.forecast(13 - k, levels=(80, 95))`; it leaves the mean as it is (WAPE"
        " unchanged); uncalibrated: the bundle as `fit_title` returns it (the model's own"
        " bounds), on the same title-origins and on every one fitted (every fit); not scored"
        f" for coverage: {total.before_calibration} title-origins cut before every calibrated"
        " origin, and the fits that failed",
        f"target: Shelfcast at least {LAUNCH_TARGET:.0f}% lower WAPE than the launch curve over"
        f" all origins: {'met' if met else 'not met'}",
    ]
    return table


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "example: .venv/bin/python benchmarks/catalogue_accuracy.py --limit 40 --origins 1\n"
            "Prints its tables (rich, then markdown for benchmarks/README.md); writes nothing"
            " unless --markdown is given."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--origins", type=int, default=3, help="rolling origins, H weeks apart (3)")
    p.add_argument("--horizon", type=int, default=13, metavar="H", help="weeks forecast (13)")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N titles")
    p.add_argument(
        "--workers", type=int, default=2, help="fit_titles processes and statsforecast n_jobs (2)"
    )
    p.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="also write the tables here"
    )
    p.add_argument(
        "--inner",
        action="store_true",
        help="the catalogue cut at the first origin, and as many origins before it: where "
        "choices are made, not the weeks they are judged on",
    )
    args = p.parse_args(argv)
    for name in ("origins", "horizon", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.limit is not None and args.limit < 1:
        p.error(f"--limit must be at least 1, got {args.limit}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    from shelfcast.settings import load_settings
    from shelfcast.training.run import fit_config

    t0 = time.perf_counter()
    cat = load_catalogue(args.limit)
    config = fit_config(load_settings(), horizon=args.horizon)
    last_week = max(s.end for s in cat.series)
    origins = origin_weeks(last_week, args.origins, args.horizon)
    if args.inner:
        cat = cut_catalogue(cat, origins[0])
        origins = origin_weeks(origins[0], args.origins, args.horizon)
    load = load_note()
    bt = backtest(cat, origins, config, args.horizon, args.workers)
    launch_rows, n_launches = new_titles(cat, config, bt.calibrations)

    scores: dict[str, dict[str, Scores]] = defaultdict(dict)
    for label, group in segment_rows(bt.cases):
        for name, run in bt.runs.items():
            scores[label][name] = score(group, run, args.horizon)
    tables = metric_tables(bt, scores, args.horizon, args.origins)
    tables[0].notes += notes_for_segments(bt, cat, args.horizon)
    tables += [
        summary_table(bt, scores),
        methods_table(bt, config, origins, args.workers, load),
        new_titles_table(launch_rows, n_launches, list(bt.calibrations)),
    ]
    for table in tables:
        table.print()
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(t.to_markdown() for t in tables) + "\n")
    print(
        "speed: fit_titles over the catalogue at the last origin"
        f" {fmt_seconds(bt.last_fit_seconds)} (target <= {SPEED_TARGET:.0f} s); whole run"
        f" {fmt_seconds(time.perf_counter() - t0)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
