"""Forecast accuracy: Shelfcast's default forecaster beside statsforecast's models, in one run.

Every method is fitted on the same training weeks of each series and scored on the same 13
held-out weeks: M4 Weekly (its 13 official test weeks; reported, never tuned on) and the sample
catalogue (every title with sales since the default start date, its last 13 weeks held out; also
per segment: established, young and slow-selling titles). WAPE, MASE (m = 52 where the history
has more than 52 weeks, else 1), for M4 also sMAPE and OWA, and each method's fit+forecast time.

Example:
    .venv/bin/python benchmarks/accuracy.py                        # both datasets, in full
    .venv/bin/python benchmarks/accuracy.py --limit 30 --datasets sample
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from _common import Table, fmt, fmt_seconds, load_note, machine_line
from m4_weekly import LAST_TRAIN_WEEK, Score, load_m4_weekly, m4_mase, m4_smape, naive_forecast

DEFAULT_DATA = _common.SHARED / "data" / "m4_weekly"
HORIZON = 13
SEASON = 52
ESTABLISHED_WEEKS = 104  # two seasons: the seasonal statsforecast variants need them
YOUNG_WEEKS = 13
SLOW_RATE = 1.0  # copies a week, mean over the last 52 training weeks
SHELFCAST = "Shelfcast default"


@dataclass
class Series:
    key: str
    start: pd.Timestamp  # first week ending
    train: np.ndarray
    test: np.ndarray
    freq: str = "W-SAT"


@dataclass
class Dataset:
    name: str  # "m4" or "sample"
    label: str
    series: list[Series]
    notes: list[str] = field(default_factory=list)


@dataclass
class MethodRun:
    name: str
    forecasts: dict[str, np.ndarray]  # key -> 13 values, clipped at zero
    seconds: float
    given: str  # what the method was given, for the notes
    failed: int = 0


# ----------------------------------------------------------------------------------- data


def load_m4(data_dir: Path, limit: int | None) -> Dataset | None:
    files = [data_dir / "Weekly-train.csv", data_dir / "Weekly-test.csv"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"M4 Weekly data not found ({', '.join(missing)}): skipping M4 Weekly.")
        print("Put Weekly-train.csv and Weekly-test.csv there, or pass --data DIR.")
        return None
    out = []
    for s in load_m4_weekly(data_dir, limit):
        start = LAST_TRAIN_WEEK - pd.Timedelta(weeks=len(s.train) - 1)
        out.append(Series(key=s.key, start=start, train=s.train, test=s.test))
    return Dataset(
        name="m4",
        label=f"M4 Weekly ({len(out)} series)",
        series=out,
        notes=[
            f"M4 Weekly: {data_dir.name}/Weekly-train.csv as training, the 13 official test"
            " weeks scored; no dates in the files: consecutive W-SAT week endings, the last"
            f" training week {LAST_TRAIN_WEEK.date()}"
        ],
    )


def load_sample(limit: int | None) -> Dataset:
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series
    from shelfcast.settings import Settings

    data = Settings().data
    with tempfile.TemporaryDirectory(prefix="shelfcast-bench-") as tmp:
        paths = write_sample(tmp, fmt="parquet", seed=data.sample_seed)
        sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    n_titles = int(sales.frame["isbn"].nunique())
    series = sorted(weekly_series(sales, start=data.start_date), key=lambda s: s.key)
    n_with_sales = len(series)
    if limit:
        series = series[:limit]
    out, too_short = [], 0
    for s in series:
        if len(s.values) < YOUNG_WEEKS + HORIZON:
            too_short += 1
            continue
        out.append(
            Series(
                key=s.key,
                start=s.start,
                train=s.values[:-HORIZON],
                test=s.values[-HORIZON:],
                freq=s.freq,
            )
        )
    return Dataset(
        name="sample",
        label=f"sample catalogue ({len(out)} titles)",
        series=out,
        notes=[
            f"sample catalogue: `write_sample(seed={data.sample_seed})` read back with"
            f" `read_sales`, `weekly_series(start={data.start_date!r})` (the default start"
            f" date): {n_with_sales} of its {n_titles} titles have sales since then"
            + (f", the first {len(series)} taken (--limit)" if limit else "")
            + (
                f", {too_short} left out with fewer than {YOUNG_WEEKS} training weeks"
                if too_short
                else ""
            )
            + f"; every title's last {HORIZON} weeks held out, the weeks before them given to"
            " every method (zero-filled from the first sale)"
        ],
    )


def segments(ds: Dataset) -> list[tuple[str, list[Series]]]:
    """The row groups of a dataset: all series, then (sample) its segments."""
    groups = [(f"all ({len(ds.series)})", ds.series)]
    if ds.name != "sample":
        return groups
    est = [s for s in ds.series if len(s.train) >= ESTABLISHED_WEEKS]
    young = [s for s in ds.series if YOUNG_WEEKS <= len(s.train) < ESTABLISHED_WEEKS]
    slow = [s for s in ds.series if np.mean(s.train[-SEASON:]) < SLOW_RATE]
    groups += [
        (f"established, >= {ESTABLISHED_WEEKS} weeks ({len(est)})", est),
        (f"young, {YOUNG_WEEKS}-{ESTABLISHED_WEEKS - 1} weeks ({len(young)})", young),
        (f"slow, < {SLOW_RATE:g} copy/week ({len(slow)})", slow),
    ]
    return [(label, group) for label, group in groups if group]


# -------------------------------------------------------------------------------- methods


def run_shelfcast(ds: Dataset, workers: int) -> MethodRun:
    from shelfcast.catalog.series import TitleSeries
    from shelfcast.forecasting import fit_titles
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    config = fit_config(Settings(), horizon=HORIZON, holdout=0)
    titles = [TitleSeries(key=s.key, start=s.start, values=s.train, freq=s.freq) for s in ds.series]
    print(f"  {SHELFCAST}: fit_titles on {len(titles)} series, {workers} workers", flush=True)
    t0 = time.perf_counter()
    fits, errors = fit_titles(titles, config, workers=workers)
    forecasts = {f.key: f.bundle.forecast(HORIZON, config.levels)["mean"] for f in fits}
    seconds = time.perf_counter() - t0
    forecasts = {k: np.clip(np.asarray(v, dtype=float), 0, None) for k, v in forecasts.items()}
    given = (
        f"**{SHELFCAST}**: `fit_titles(series, fit_config(Settings(), horizon={HORIZON},"
        f" holdout=0), workers={workers})` = `{config}`: the default candidates and"
        f" {config.n_origins}-origin backtest, horizon {HORIZON} instead of the default"
        f" {Settings().backtest.split_size} and no internal holdout (the 13 scored weeks are"
        " the holdout); the selected family's `bundle.forecast(13)` mean"
    )
    return MethodRun(SHELFCAST, forecasts, seconds, given, failed=len(errors))


def statsforecast_models(seasonal: bool) -> dict[str, Callable[[], object]]:
    """The peers by row name; `seasonal` False gives the season-1 variants."""
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

    m = SEASON if seasonal else 1
    return {
        "SeasonalNaive(52)": lambda: SeasonalNaive(season_length=SEASON),
        "Naive": lambda: Naive(),
        "AutoETS": lambda: AutoETS(season_length=m),
        "AutoTheta": lambda: AutoTheta(season_length=m),
        "AutoARIMA (non-seasonal)": lambda: AutoARIMA(season_length=1, seasonal=False),
        "CrostonSBA": lambda: CrostonSBA(),
        "TSB(0.1, 0.1)": lambda: TSB(alpha_d=0.1, alpha_p=0.1),
        "ADIDA": lambda: ADIDA(),
        "IMAPA": lambda: IMAPA(),
        "HistoricAverage": lambda: HistoricAverage(),
        "WindowAverage(8)": lambda: WindowAverage(window_size=8),
    }


def long_frame(series: list[Series]) -> pd.DataFrame:
    parts = []
    for s in series:
        ds = pd.date_range(s.start, periods=len(s.train), freq=s.freq)
        parts.append(pd.DataFrame({"unique_id": s.key, "ds": ds, "y": s.train}))
    return pd.concat(parts, ignore_index=True)


def run_statsforecast(ds: Dataset, workers: int) -> list[MethodRun]:
    from statsforecast import StatsForecast
    from statsforecast.models import Naive

    long = [s for s in ds.series if len(s.train) >= 2 * SEASON]
    short = [s for s in ds.series if len(s.train) < 2 * SEASON]
    groups = [(g, long_frame(g), seasonal) for g, seasonal in ((long, True), (short, False)) if g]
    freq = ds.series[0].freq
    runs = []
    for name in statsforecast_models(True):
        forecasts: dict[str, np.ndarray] = {}
        print(f"  {name}", flush=True)
        t0 = time.perf_counter()
        for _, frame, seasonal in groups:
            model = statsforecast_models(seasonal)[name]()
            sf = StatsForecast(models=[model], freq=freq, n_jobs=workers, fallback_model=Naive())
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                out = sf.forecast(df=frame, h=HORIZON)
            col = next(c for c in out.columns if c not in ("unique_id", "ds"))
            for key, part in out.groupby("unique_id", sort=False):
                forecasts[str(key)] = part[col].to_numpy(dtype=float)
        seconds = time.perf_counter() - t0
        failed = 0
        for s in ds.series:  # a model that returns no finite forecast gets Naive's
            f = forecasts.get(s.key)
            if f is None or not np.all(np.isfinite(f)):
                forecasts[s.key] = naive_forecast(s.train)
                failed += 1
        forecasts = {k: np.clip(v, 0, None) for k, v in forecasts.items()}
        runs.append(MethodRun(name, forecasts, seconds, given="", failed=failed))
    return runs


def statsforecast_note(ds: Dataset, workers: int) -> str:
    n_long = sum(len(s.train) >= 2 * SEASON for s in ds.series)
    return (
        "statsforecast: the same training weeks as a long frame (`unique_id`, `ds`, `y`),"
        f" `StatsForecast(models=<the model>, freq='W-SAT', n_jobs={workers},"
        f" fallback_model=Naive()).forecast(df, h={HORIZON})`, one run per method and group:"
        f" {n_long} series with >= {2 * SEASON} training weeks get AutoETS(season_length=52)"
        f" and AutoTheta(season_length=52), the {len(ds.series) - n_long} shorter ones"
        " season_length=1; SeasonalNaive(52) in both groups (a series under 52 weeks falls"
        " back to Naive: no finite forecast); AutoARIMA(season_length=1, seasonal=False) for speed;"
        " TSB(alpha_d=0.1, alpha_p=0.1), WindowAverage(window_size=8), CrostonSBA, ADIDA,"
        " IMAPA, HistoricAverage with their defaults"
    )


# -------------------------------------------------------------------------------- scoring


def mase_scale(train: np.ndarray) -> float:
    m = SEASON if len(train) > SEASON else 1
    if len(train) <= m:
        return np.nan
    scale = float(np.mean(np.abs(train[m:] - train[:-m])))
    return scale if scale > 0 else np.nan


@dataclass
class Metrics:
    wape: float
    mase: float
    mase_n: int
    smape: float = np.nan
    m4_mase: float = np.nan


def metrics(group: list[Series], forecasts: dict[str, np.ndarray], m4: bool = False) -> Metrics:
    abs_err = actual = 0.0
    mases, smapes, m4_mases = [], [], []
    for s in group:
        f = forecasts.get(s.key)
        if f is None:  # a failed fit: scored with the naive forecast
            f = naive_forecast(s.train)
        f = np.asarray(f, dtype=float)[:HORIZON]
        e = np.abs(s.test - f)
        abs_err += float(e.sum())
        actual += float(np.abs(s.test).sum())
        scale = mase_scale(s.train)
        if scale == scale:
            mases.append(float(e.mean()) / scale)
        if m4:  # M4's own scoring (its series are positive)
            smapes.append(m4_smape(s.test, f))
            m4_mases.append(m4_mase(s.test, f, s.train))
    return Metrics(
        wape=abs_err / actual if actual > 0 else np.nan,
        mase=float(np.mean(mases)) if mases else np.nan,
        mase_n=len(mases),
        smape=float(np.mean(smapes)) if smapes else np.nan,
        m4_mase=float(np.mean(m4_mases)) if m4_mases else np.nan,
    )


def dataset_table(ds: Dataset, runs: list[MethodRun], workers: int, load: str) -> Table:
    m4 = ds.name == "m4"
    columns = ["method", "rank", "WAPE", "WAPE / Shelfcast", "MASE"]
    if m4:
        columns += ["sMAPE", "MASE (M4, m=1)", "OWA"]
    columns += ["fit+forecast"]
    table = Table(
        title=f"Forecast accuracy on {ds.label}, horizon {HORIZON}: Shelfcast's default"
        " beside statsforecast",
        columns=columns,
        right_align_from=1,
    )
    naive2 = {s.key: naive_forecast(s.train) for s in ds.series}
    skipped: list[str] = []
    for label, group in segments(ds):
        scored = [(r, metrics(group, r.forecasts, m4)) for r in runs]
        scored.sort(key=lambda x: (np.isnan(x[1].wape), x[1].wape))
        own = next(m for r, m in scored if r.name == SHELFCAST)
        if len(segments(ds)) > 1:
            table.add(f"*{label}*", *[""] * (len(columns) - 1))
        base = metrics(group, naive2, m4)
        if own.mase_n < len(group):
            skipped.append(f"{label}: {len(group) - own.mase_n}")
        for rank, (r, m) in enumerate(scored, 1):
            bold = r.name == SHELFCAST
            name = f"**{r.name}**" if bold else r.name
            cells = [
                name,
                str(rank),
                f"**{fmt(m.wape)}**" if bold else fmt(m.wape),
                f"{m.wape / own.wape:.2f}x" if own.wape > 0 else "n/a",
                fmt(m.mase),
            ]
            if m4:
                owa = Score(m.smape, m.m4_mase, len(group)).owa(Score(base.smape, base.m4_mase, 0))
                cells += [fmt(m.smape), fmt(m.m4_mase), fmt(owa)]
            timed = label.startswith("all")
            cells.append(fmt_seconds(r.seconds) if timed else "")
            table.add(*cells)
    table.notes += ds.notes
    for r in runs:
        if r.given:
            table.notes.append(r.given)
        if r.failed:
            table.notes.append(
                f"{r.name}: {r.failed} series without a (finite) forecast, given Naive's"
            )
    table.notes += [
        statsforecast_note(ds, workers),
        "every forecast clipped at zero; rows ranked by WAPE within each group",
        "WAPE = sum |error| / sum actual over the group's series and weeks; MASE = mean over"
        " series of MAE / in-sample seasonal-naive MAE (m = 52 where the training history has"
        " more than 52 weeks, else m = 1), series with a zero scale skipped"
        + (
            "; sMAPE (percent), M4's MASE (m = 1 over the whole history) and OWA against Naive2"
            " (= Naive for weekly data) on the group's means, as `m4_weekly.py` computes them"
            if m4
            else ""
        ),
        "fit+forecast: wall time over the whole dataset (both statsforecast groups together),"
        f" {workers} worker(s)",
    ]
    if skipped:
        table.notes.append(
            "series left out of MASE (zero in-sample seasonal-naive error): " + ", ".join(skipped)
        )
    if ds.name == "sample":
        table.notes.append(
            f"segments by training weeks: established >= {ESTABLISHED_WEEKS}, young"
            f" {YOUNG_WEEKS}-{ESTABLISHED_WEEKS - 1}; slow: mean under {SLOW_RATE:g} copy/week"
            f" over the last {SEASON} training weeks (any age)"
        )
    table.notes += [load, "measured " + machine_line("statsforecast", "numpy", "scipy")]
    return table


# ---------------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "example: .venv/bin/python benchmarks/accuracy.py --limit 30\n"
            "Prints one table per dataset (rich, then markdown for benchmarks/README.md)."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help=f"M4 Weekly folder ({DEFAULT_DATA})"
    )
    p.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N series per dataset"
    )
    p.add_argument(
        "--datasets",
        nargs="+",
        choices=("m4", "sample"),
        default=["m4", "sample"],
        help="which datasets (both)",
    )
    p.add_argument(
        "--workers", type=int, default=2, help="fit_titles processes and statsforecast n_jobs (2)"
    )
    p.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="also write the tables here"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    datasets = []
    if "m4" in args.datasets:
        m4 = load_m4(args.data, args.limit)
        if m4 is not None:
            datasets.append(m4)
    if "sample" in args.datasets:
        datasets.append(load_sample(args.limit))
    markdown = []
    t0 = time.perf_counter()
    for ds in datasets:
        print(f"{ds.label}:", flush=True)
        load = load_note()
        runs = [run_shelfcast(ds, args.workers), *run_statsforecast(ds, args.workers)]
        table = dataset_table(ds, runs, args.workers, load)
        table.print()
        markdown.append(table.to_markdown())
    if args.markdown is not None and markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(markdown) + "\n")
    print(f"whole run: {fmt_seconds(time.perf_counter() - t0)} (data loading and scoring included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
