"""Shelfcast on M4 Weekly: sMAPE, MASE and OWA of every candidate and of each series' selected
family.

Reads the 359 weekly series of the M4 competition from ../shared/data/m4_weekly (beside the
repository; --data DIR elsewhere), fits them with `fit_titles` (horizon 13, five rolling
origins, no internal holdout, last 208 weeks, candidate forecasts kept) and scores the 13
held-out weeks as M4 did, beside the published M4 results. Skips cleanly (exit 0) when the
data is not there.

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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from _common import Table, fmt, fmt_seconds, load_note, machine_line

DEFAULT_DATA = _common.SHARED / "data" / "m4_weekly"
HORIZON = 13
# The files carry no dates: consecutive week endings, the last training week on this Saturday.
LAST_TRAIN_WEEK = pd.Timestamp("2018-12-29")

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

    start = LAST_TRAIN_WEEK - pd.Timedelta(weeks=len(s.train) - 1)
    return TitleSeries(key=s.key, start=start, values=s.train, source="M4 Weekly")


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


def score(series: list[M4Series], forecasts: dict[str, np.ndarray]) -> Score:
    s, m = [], []
    for x in series:
        f = forecasts.get(x.key)
        if f is None:
            continue
        if hasattr(f, "lower"):  # a PointForecast
            f = f.mean
        f = np.asarray(f, dtype=float)[:HORIZON]
        s.append(m4_smape(x.test, f))
        m.append(m4_mase(x.test, f, x.train))
    return Score(
        smape=float(np.mean(s)) if s else np.nan, mase=float(np.mean(m)) if m else np.nan, n=len(s)
    )


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
    p.add_argument("--workers", type=int, default=2, help="fit_titles worker processes (2)")
    p.add_argument(
        "--max-train-weeks", type=int, default=208, help="training window in weeks (208)"
    )
    p.add_argument(
        "--holdout",
        type=int,
        default=0,
        metavar="WEEKS",
        help="FitConfig.holdout (0: M4's own test weeks are the holdout; 65 series have 80 weeks)",
    )
    p.add_argument(
        "--n-origins",
        type=int,
        default=5,
        metavar="N",
        help="rolling backtest origins (5: 5 x 13 weeks, about fifteen months)",
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
    naive_fc = {x.key: naive_forecast(x.train) for x in series}
    naive = score(series, naive_fc)
    config = fit_config(
        Settings(),  # the season and interval levels of Shelfcast's defaults
        horizon=HORIZON,
        n_origins=args.n_origins,
        holdout=args.holdout,
        max_train_weeks=args.max_train_weeks,
        forecast_candidates=True,
    )
    print(
        f"Fitting {len(series)} M4 Weekly series with {args.workers} workers: {config}", flush=True
    )
    load = load_note()
    t0 = time.perf_counter()
    fits, errors = fit_titles([to_title_series(x) for x in series], config, workers=args.workers)
    wall = time.perf_counter() - t0
    if errors:
        print(f"{len(errors)} series failed (scored as missing): {dict(list(errors.items())[:3])}")

    by_key = {f.key: f for f in fits}
    selected = Counter(f.selected for f in fits)
    candidates = sorted(
        {c for f in fits for c in (f.candidate_forecasts or {})},
        key=lambda c: (config.candidates.index(c) if c in config.candidates else 99, c),
    )
    selected_fc, covered, total = {}, 0, 0
    for x in series:
        fit = by_key.get(x.key)
        if fit is None:  # failed: scored with the naive forecast, and said so below
            selected_fc[x.key] = naive_forecast(x.train)
            continue
        frame = fit.bundle.forecast(HORIZON, (80, 95))
        selected_fc[x.key] = frame["mean"].to_numpy(dtype=float)
        if "lo_95" in frame and "hi_95" in frame:
            lo, hi = frame["lo_95"].to_numpy(), frame["hi_95"].to_numpy()
            covered += int(np.sum((x.test >= lo) & (x.test <= hi)))
            total += HORIZON

    n = len(series)
    table = Table(
        title=f"M4 Weekly ({n} series, horizon {HORIZON}): Shelfcast beside published M4 results",
        columns=["method", "sMAPE", "MASE", "OWA", "wall time", "per series"],
    )
    champ = score(series, selected_fc)
    table.add(
        f"**Shelfcast selected family** (per-series backtest choice; "
        f"last {args.max_train_weeks} weeks)",
        fmt(champ.smape),
        fmt(champ.mase),
        f"**{fmt(champ.owa(naive))}**",
        f"{fmt_seconds(wall)} ({args.workers} worker{'s' if args.workers != 1 else ''})",
        fmt_seconds(wall / max(n, 1)),
    )
    for cand in candidates:
        fc = {
            f.key: f.candidate_forecasts[cand]
            for f in fits
            if cand in (f.candidate_forecasts or {})
        }
        sc = score(series, fc)
        label = f"Shelfcast candidate `{cand}`"
        base = naive
        if sc.n != n:  # scored on the series it forecast, against Naive on those same series
            label += f" ({sc.n} series with a forecast)"
            base = score([x for x in series if x.key in fc], naive_fc)
        table.add(label, fmt(sc.smape), fmt(sc.mase), fmt(sc.owa(base)), "same run", "")
    table.add("Naive (scored here, = Naive2)", fmt(naive.smape), fmt(naive.mase), fmt(1.0), "", "")
    if args.limit is None or args.limit >= 359:
        for name, s, m, o in PUBLISHED:
            table.add(f"{name} [M4, published]", fmt(s), fmt(m), fmt(o), "", "")
    else:
        table.notes.append("published M4 rows omitted: they cover all 359 series, this run --limit")
    table.notes += [
        "selected families: " + ", ".join(f"{k} {v}" for k, v in selected.most_common()),
        *([f"{len(errors)} series failed; scored with the naive forecast"] if errors else []),
        "selected family 95% interval coverage of the 13 test weeks: "
        f"{fmt(100 * covered / total, 1)}%"
        if total
        else "selected family intervals: n/a",
        "a candidate without a forecast for some series is scored on the others, its OWA"
        " against Naive on those same series",
        "sMAPE in percent; MASE scaled by the in-sample one-step naive error (m = 1) over the whole"
        " history; OWA = mean(sMAPE/sMAPE_Naive2, MASE/MASE_Naive2) on dataset means, as in M4",
        load,
        "measured " + machine_line("statsforecast", "numpy", "scipy"),
    ]
    table.print(args.markdown)
    target = champ.owa(naive)
    verdict = "met" if target <= 0.80 else "NOT met"
    print(f"selected-family OWA {target:.3f} (target <= 0.80): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
