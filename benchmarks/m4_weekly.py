"""Shelfcast's default forecaster on M4 Weekly beside statsforecast's models: sMAPE, MASE, OWA,
wQL and interval coverage.

Reads the 359 weekly series of the M4 competition from ../shared/data/m4_weekly (beside the
repository; --data DIR elsewhere), fits them with `fit_titles` and the default configuration
(`fit_config(Settings(), horizon=13)`, as `shelfcast forecast --all --horizon 13` fits), fits
statsforecast's AutoTheta, AutoETS, AutoARIMA and Naive on the same training window in the same
run, and scores the 13 held-out weeks as M4 did, beside the published M4 results. Skips cleanly
(exit 0) when the data is not there.

Example:
    .venv/bin/python benchmarks/m4_weekly.py                 # all 359 series, 2 workers
    .venv/bin/python benchmarks/m4_weekly.py --limit 40      # a quick run
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _common import Table, fmt, fmt_seconds, load_note, machine_line
from _peers import Forecast, fill_missing, statsforecast_forecasts, window_frames

DEFAULT_DATA = _common.SHARED / "data" / "m4_weekly"
HORIZON = 13
SEASON = 52
LEVELS = (80, 95)
QUANTILES = (0.1, 0.5, 0.9)
# The files carry no dates: consecutive week endings, the last training week on this Saturday.
LAST_TRAIN_WEEK = pd.Timestamp("2018-12-29")
TARGET_OWA = 0.76
TARGET_SECONDS = 300.0
SHELFCAST = "Shelfcast default"
M4_SERIES = 359

# Published results on the weekly subset, from the data's README (sMAPE, MASE, OWA).
PUBLISHED = [
    ("Darin & Stellwagen (best weekly)", 6.582, 2.107, 0.739),
    ("Petropoulos & Svetunkov", 6.726, 2.133, 0.751),
    ("Montero-Manso et al. (FFORMA, 2nd overall)", 7.625, 2.108, 0.796),
    ("Smyl (M4 winner overall)", 7.817, 2.356, 0.851),
    ("Damped (benchmark)", 8.866, 2.404, 0.917),
    ("Theta (benchmark)", 9.093, 2.637, 0.971),
    ("SES (benchmark)", 9.012, 2.685, 0.975),
    ("Naive2", 9.161, 2.777, 1.000),
]


@dataclass(frozen=True)
class M4Series:
    key: str
    train: np.ndarray
    test: np.ndarray

    @property
    def start(self) -> pd.Timestamp:
        return LAST_TRAIN_WEEK - pd.Timedelta(weeks=len(self.train) - 1)


def load_m4_weekly(data_dir: Path, limit: int | None = None) -> list[M4Series]:
    """The series as published: one row per series, oldest first, padded with empty cells."""
    train = pd.read_csv(data_dir / "Weekly-train.csv", index_col=0)
    test = pd.read_csv(data_dir / "Weekly-test.csv", index_col=0)
    out = []
    for key in train.index[:limit] if limit else train.index:
        y = train.loc[key].dropna().to_numpy(dtype=float)
        a = test.loc[key].dropna().to_numpy(dtype=float)
        if len(a) != HORIZON:
            raise ValueError(f"{key}: {len(a)} test weeks, expected {HORIZON}")
        out.append(M4Series(key=str(key), train=y, test=a))
    return out


def to_title_series(s: M4Series):
    from shelfcast.catalog.series import TitleSeries

    return TitleSeries(key=s.key, start=s.start, values=s.train, source="M4 Weekly")


def shelfcast_forecast(fit: Any, horizon: int = HORIZON) -> Forecast:
    """A fitted title's `bundle.forecast`: mean, 80/95% bounds, p10/p50/p90."""
    frame = fit.bundle.forecast(horizon, levels=LEVELS, quantiles=QUANTILES)
    cols = {c: frame[c].to_numpy(dtype=float) for c in frame.columns if c != "week_ending"}
    return Forecast(
        mean=cols["mean"],
        bounds={lv: (cols[f"lo_{lv}"], cols[f"hi_{lv}"]) for lv in LEVELS},
        quantiles={q: cols[f"p{round(q * 100)}"] for q in QUANTILES},
    )


# ---------------------------------------------------------------------------- M4 scoring


def m4_smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """M4's sMAPE, in percent: mean of 200 |y - f| / (|y| + |f|)."""
    return float(np.mean(200.0 * np.abs(actual - forecast) / (np.abs(actual) + np.abs(forecast))))


def m4_mase(actual: np.ndarray, forecast: np.ndarray, insample: np.ndarray, m: int = 1) -> float:
    """M4's MASE: mean absolute error over the in-sample m-step naive error (whole history)."""
    scale = np.mean(np.abs(insample[m:] - insample[:-m]))
    return float(np.mean(np.abs(actual - forecast)) / scale)


def naive_forecast(train: np.ndarray, horizon: int = HORIZON) -> np.ndarray:
    return np.repeat(train[-1], horizon)


@dataclass
class Score:
    smape: float
    mase: float
    n: int

    def owa(self, naive: Score) -> float:
        # As in M4: the ratios of the dataset-level means, averaged.
        return 0.5 * (self.smape / naive.smape + self.mase / naive.mase)


def score(series: list[M4Series], means: dict[str, np.ndarray]) -> Score:
    """M4's sMAPE and MASE, means over the series with a forecast."""
    s, m = [], []
    for x in series:
        f = means.get(x.key)
        if f is None:
            continue
        f = np.asarray(f, dtype=float)[:HORIZON]
        s.append(m4_smape(x.test, f))
        m.append(m4_mase(x.test, f, x.train))
    return Score(
        smape=float(np.mean(s)) if s else np.nan, mase=float(np.mean(m)) if m else np.nan, n=len(s)
    )


@dataclass
class Probabilistic:
    wql: float  # percent
    coverage: dict[int, float]  # level -> percent of actuals inside the interval


def probabilistic(
    actuals: list[np.ndarray], forecasts: list[Forecast], horizon: int = HORIZON
) -> Probabilistic | None:
    """Pooled over the series and their first `horizon` weeks: `metrics.wql` of the
    0.1/0.5/0.9 quantiles (summed pinball losses over summed actuals) and `metrics.coverage`
    of the 80/95% intervals. None when a forecast has no quantiles or intervals."""
    from shelfcast.forecasting import metrics

    if not forecasts or any(not f.quantiles or not f.bounds for f in forecasts):
        return None

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.concatenate([np.asarray(p, dtype=float)[:horizon] for p in parts])

    a = joined(actuals)
    return Probabilistic(
        wql=metrics.wql(a, {q: joined([f.quantiles[q] for f in forecasts]) for q in QUANTILES}),
        coverage={
            lv: metrics.coverage(
                a,
                joined([f.bounds[lv][0] for f in forecasts]),
                joined([f.bounds[lv][1] for f in forecasts]),
            )
            for lv in LEVELS
        },
    )


def probabilistic_cells(p: Probabilistic | None) -> list[str]:
    """wQL, 80% and 95% coverage as table cells (`-` for a method without intervals)."""
    if p is None:
        return ["-"] * (1 + len(LEVELS))
    return [fmt(p.wql, 2)] + [f"{fmt(p.coverage[lv], 1)}%" for lv in LEVELS]


# -------------------------------------------------------------------------------- methods


def peer_models() -> dict[str, Callable[[int], Any]]:
    """statsforecast's models by row name, from the season length a series' window allows."""
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, Naive

    return {
        "statsforecast AutoTheta": lambda m: AutoTheta(season_length=m),
        "statsforecast AutoETS": lambda m: AutoETS(season_length=m),
        "statsforecast AutoARIMA (non-seasonal)": lambda m: AutoARIMA(season_length=1),
        "Naive (statsforecast; = Naive2)": lambda m: Naive(),
    }


@dataclass
class Run:
    name: str
    forecasts: dict[str, Forecast]
    seconds: float


def run_peers(series: list[M4Series], weeks: int | None, workers: int) -> list[Run]:
    """Each peer on every series' last `weeks` training weeks, with 80/95% intervals."""
    frames = window_frames([(x.key, x.start, x.train) for x in series], weeks, "W-SAT", 2 * SEASON)
    runs = []
    for name, make in peer_models().items():
        print(f"  {name}", flush=True)
        t0 = time.perf_counter()
        groups = [(frame, make(SEASON if seasonal else 1)) for frame, seasonal in frames]
        forecasts = statsforecast_forecasts(groups, HORIZON, LEVELS, "W-SAT", workers)
        runs.append(Run(name, forecasts, time.perf_counter() - t0))
    return runs


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "example: .venv/bin/python benchmarks/m4_weekly.py --limit 40\n"
            "Prints one table (rich, then markdown for benchmarks/README.md)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"M4 Weekly folder ({DEFAULT_DATA})"
    )
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N series")
    p.add_argument(
        "--workers", type=int, default=2, help="fit_titles processes and statsforecast n_jobs (2)"
    )
    p.add_argument(
        "--markdown", type=Path, default=None, metavar="FILE", help="also write the table here"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    files = [args.data / "Weekly-train.csv", args.data / "Weekly-test.csv"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"M4 Weekly data not found ({', '.join(missing)}): skipping this benchmark.")
        print("Put Weekly-train.csv and Weekly-test.csv there, or pass --data DIR.")
        return 0

    from shelfcast.forecasting import fit_titles
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    series = load_m4_weekly(args.data, args.limit)
    n, keys = len(series), [x.key for x in series]
    config = fit_config(Settings(), horizon=HORIZON)
    weeks = config.max_train_weeks  # Settings().training.max_train_weeks: the peers' window too
    print(f"Fitting {n} M4 Weekly series with {args.workers} workers: {config}", flush=True)
    load = load_note()
    t0 = time.perf_counter()
    fits, errors = fit_titles([to_title_series(x) for x in series], config, workers=args.workers)
    own = {f.key: shelfcast_forecast(f) for f in fits}
    wall = time.perf_counter() - t0
    if errors:
        print(f"{len(errors)} series failed: {dict(list(errors.items())[:3])}")
    print("statsforecast on the same window:", flush=True)
    peers = run_peers(series, weeks, args.workers)
    naive_run = peers[-1]
    runs = [Run(SHELFCAST, own, wall), *peers]

    naive = score(series, {x.key: naive_forecast(x.train) for x in series})
    table = Table(
        title=f"M4 Weekly ({n} series, horizon {HORIZON}): Shelfcast's default beside"
        " statsforecast and the published M4 results",
        columns=[
            "method",
            "sMAPE",
            "MASE",
            "OWA",
            "wQL",
            "80% coverage",
            "95% coverage",
            "wall time",
            "per series",
        ],
    )
    filled: dict[str, int] = {}
    owa = np.nan
    for run in runs:
        forecasts, filled[run.name] = fill_missing(keys, run.forecasts, naive_run.forecasts)
        sc = score(series, {k: f.mean for k, f in forecasts.items()})
        prob = probabilistic([x.test for x in series], [forecasts[k] for k in keys])
        bold = run.name == SHELFCAST
        if bold:
            owa = sc.owa(naive)
        table.add(
            f"**{run.name}**" if bold else run.name,
            fmt(sc.smape),
            fmt(sc.mase),
            f"**{fmt(sc.owa(naive))}**" if bold else fmt(sc.owa(naive)),
            *probabilistic_cells(prob),
            f"{fmt_seconds(run.seconds)} ({args.workers} worker{'s' if args.workers != 1 else ''})",
            fmt_seconds(run.seconds / max(n, 1)),
        )
    full = args.limit is None or args.limit >= M4_SERIES
    if full:
        for name, s, m, o in PUBLISHED:
            table.add(f"{name} [M4, published]", fmt(s), fmt(m), fmt(o), "-", "-", "-", "", "")
    else:
        table.notes.append("published M4 rows omitted: they cover all 359 series, this run --limit")
    n_seasonal = sum(min(len(x.train), weeks or len(x.train)) >= 2 * SEASON for x in series)
    selected = Counter(f.selected for f in fits)
    met = owa <= TARGET_OWA and wall <= TARGET_SECONDS
    table.notes += [
        f"{SHELFCAST}: `fit_titles(series, fit_config(Settings(), horizon={HORIZON}),"
        f" workers={args.workers})`, the configuration `shelfcast forecast --all --horizon"
        f" {HORIZON}` fits with, nothing else changed: `{config}`; each series' selected model,"
        f" `bundle.forecast({HORIZON}, levels={LEVELS}, quantiles={QUANTILES})`; wall time from"
        " the start of `fit_titles` to the last forecast",
        "chosen models (series): " + ", ".join(f"{k} {v}" for k, v in selected.most_common()),
        *(
            f"{name}: {k} series without a (finite) forecast, given the Naive row's"
            for name, k in filled.items()
            if k
        ),
        "training window of every method: "
        + (
            f"each series' last {weeks} training weeks (`Settings().training.max_train_weeks`)"
            if weeks
            else "every training week (`Settings().training.max_train_weeks` is None)"
        ),
        f"statsforecast: `StatsForecast(models=[<model>], freq='W-SAT', n_jobs={args.workers},"
        f" fallback_model=Naive()).forecast(df, h={HORIZON}, level=[80, 95])` in this process on"
        " the same windows; AutoTheta and AutoETS with season_length=52 on the"
        f" {n_seasonal} series with at least {2 * SEASON} weeks in the window, season_length=1"
        f" on the other {n - n_seasonal}; AutoARIMA non-seasonal (season_length=1) for time:"
        " its seasonal search (season_length=52) takes about an hour on this data; forecasts"
        " and bounds clipped at zero",
        "wQL: weighted quantile loss of the 0.1, 0.5 and 0.9 quantiles, pooled over series and"
        " weeks (2 x summed pinball loss / summed actuals, mean over the quantiles, percent);"
        " Shelfcast's are its p10/p50/p90, a peer's its 80% interval bounds and its point"
        " forecast; coverage: share of the test weeks inside the 80% and 95% intervals",
        "sMAPE in percent; MASE scaled by the in-sample one-step naive error (m = 1) over the whole"
        " history; OWA = mean(sMAPE/sMAPE_Naive2, MASE/MASE_Naive2) on dataset means, as in M4",
        f"target: Shelfcast's OWA <= {TARGET_OWA} in <= {TARGET_SECONDS / 60:.0f} minutes on all"
        " 359 series: "
        + (("met" if met else "not met") if full else "not judged on a --limit run"),
        load,
        "measured " + machine_line("statsforecast", "numpy", "scipy"),
    ]
    table.print(args.markdown)
    print(
        f"Shelfcast OWA {owa:.3f} (target <= {TARGET_OWA}), wall time {fmt_seconds(wall)}"
        f" (target <= {fmt_seconds(TARGET_SECONDS)})"
        + (f": {'met' if met else 'NOT met'}" if full else " on a --limit run")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
