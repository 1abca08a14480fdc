"""Forecast accuracy: Shelfcast's default forecaster beside statsforecast's models, in one run.

Every method is fitted on the same training window of each series and scored on the same 13
held-out weeks: M4 Weekly (its 13 official test weeks; reported, never tuned on) and the sample
catalogue (every title, its last 13 weeks held out; also per segment: established, young and
slow-selling titles). WAPE, MASE (m = 52 where the history has more than 52 weeks, else 1), for
M4 also sMAPE and OWA; wQL and 80/95% interval coverage where a method gives intervals; each
method's fit+forecast time. A second table per dataset shows Shelfcast's own rolling-origin
backtest inside the training weeks, per candidate family and for the chosen model.

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
from collections import Counter
from dataclasses import dataclass, field
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
    fill_missing,
    statsforecast_forecasts,
    statsforecast_models,
    window_frames,
)
from m4_weekly import (
    LAST_TRAIN_WEEK,
    LEVELS,
    QUANTILES,
    Score,
    load_m4_weekly,
    m4_mase,
    m4_smape,
    naive_forecast,
    probabilistic,
    probabilistic_cells,
    shelfcast_forecast,
)

DEFAULT_DATA = _common.SHARED / "data" / "m4_weekly"
HORIZON = 13
SEASON = 52
ESTABLISHED_WEEKS = 104  # two seasons: the seasonal statsforecast variants need them
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

    @property
    def freq(self) -> str:
        return self.series[0].freq


@dataclass
class MethodRun:
    name: str
    forecasts: dict[str, Forecast]  # key -> 13 weeks, clipped at zero
    seconds: float
    given: str = ""  # what the method was given, for the notes
    failed: int = 0


# ----------------------------------------------------------------------------------- data


def load_m4(data_dir: Path, limit: int | None) -> Dataset | None:
    files = [data_dir / "Weekly-train.csv", data_dir / "Weekly-test.csv"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"M4 Weekly data not found ({', '.join(missing)}): skipping M4 Weekly.")
        print("Put Weekly-train.csv and Weekly-test.csv there, or pass --data DIR.")
        return None
    out = [
        Series(key=s.key, start=s.start, train=s.train, test=s.test)
        for s in load_m4_weekly(data_dir, limit)
    ]
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

    seed = Settings().data.sample_seed
    with tempfile.TemporaryDirectory(prefix="shelfcast-bench-") as tmp:
        paths = write_sample(tmp, fmt="parquet", seed=seed)
        sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    n_titles = int(sales.frame["isbn"].nunique())
    series = sorted(weekly_series(sales, start=None), key=lambda s: s.key)
    if limit:
        series = series[:limit]
    # A series starts at its first sale: one with no training weeks has none in them either.
    out = [
        Series(
            key=s.key,
            start=s.start,
            train=s.values[:-HORIZON],
            test=s.values[-HORIZON:],
            freq=s.freq,
        )
        for s in series
        if len(s.values) > HORIZON
    ]
    no_sales = len(series) - len(out)
    return Dataset(
        name="sample",
        label=f"sample catalogue ({len(out)} titles)",
        series=out,
        notes=[
            f"sample catalogue: `write_sample(seed={seed})` read back with `read_sales`,"
            f" `weekly_series(start=None)` (no start date): {len(series)} of its {n_titles}"
            " titles"
            + (" (the first ones, --limit)" if limit else "")
            + (
                f", {no_sales} left out with no sales in their training weeks (first sale in"
                f" the last {HORIZON} weeks)"
                if no_sales
                else ", none without sales in its training weeks"
            )
            + f"; every title's last {HORIZON} weeks held out, the weeks before them (zero-filled"
            " from the first sale) the training weeks"
        ],
    )


def segments(ds: Dataset) -> list[tuple[str, list[Series]]]:
    """The row groups of a dataset: all series, then (sample) its segments."""
    groups = [(f"all ({len(ds.series)})", ds.series)]
    if ds.name != "sample":
        return groups
    est = [s for s in ds.series if len(s.train) >= ESTABLISHED_WEEKS]
    young = [s for s in ds.series if len(s.train) < ESTABLISHED_WEEKS]
    slow = [s for s in ds.series if np.mean(s.train[-SEASON:]) < SLOW_RATE]
    groups += [
        (f"established, >= {ESTABLISHED_WEEKS} weeks ({len(est)})", est),
        (f"young, < {ESTABLISHED_WEEKS} weeks ({len(young)})", young),
        (f"slow, < {SLOW_RATE:g} copy/week ({len(slow)})", slow),
    ]
    return [(label, group) for label, group in groups if group]


# -------------------------------------------------------------------------------- methods


@dataclass
class ShelfcastRun:
    run: MethodRun
    config: Any  # the FitConfig
    fits: list[Any]  # the TitleFits: their backtest tables
    fit_seconds: float  # mean of the titles' own fit times (TitleFit.seconds, in a worker)


def run_shelfcast(ds: Dataset, config: Any, workers: int) -> ShelfcastRun:
    from shelfcast.catalog.series import TitleSeries
    from shelfcast.forecasting import fit_titles

    titles = [TitleSeries(key=s.key, start=s.start, values=s.train, freq=s.freq) for s in ds.series]
    print(f"  {SHELFCAST}: fit_titles on {len(titles)} series, {workers} workers", flush=True)
    t0 = time.perf_counter()
    fits, errors = fit_titles(titles, config, workers=workers)
    forecasts = {f.key: shelfcast_forecast(f) for f in fits}
    seconds = time.perf_counter() - t0
    given = (
        f"**{SHELFCAST}**: `fit_titles(series, fit_config(Settings(), horizon={HORIZON}),"
        f" workers={workers})`, the configuration `shelfcast forecast --all --horizon {HORIZON}`"
        f" fits with, nothing else changed: `{config}`; each title's selected model,"
        f" `bundle.forecast({HORIZON}, levels={LEVELS}, quantiles={QUANTILES})` (wQL from its"
        " p10/p50/p90)"
    )
    run = MethodRun(SHELFCAST, forecasts, seconds, given, failed=len(errors))
    mean_fit = float(np.mean([f.seconds for f in fits])) if fits else np.nan
    return ShelfcastRun(run, config, fits, mean_fit)


def run_statsforecast(ds: Dataset, weeks: int | None, workers: int) -> list[MethodRun]:
    """Every peer on each series' last `weeks` training weeks; a series a model gives no
    (finite) forecast gets Naive's (without intervals if the model has none)."""
    frames = window_frames(
        [(s.key, s.start, s.train) for s in ds.series], weeks, ds.freq, 2 * SEASON
    )
    runs = []
    for name, make in statsforecast_models().items():
        print(f"  {name}", flush=True)
        t0 = time.perf_counter()
        groups = [(frame, make(SEASON if seasonal else 1)) for frame, seasonal in frames]
        levels = LEVELS if name in WITH_INTERVALS else ()
        forecasts = statsforecast_forecasts(groups, HORIZON, levels, ds.freq, workers)
        runs.append(MethodRun(name, forecasts, time.perf_counter() - t0))
    naive = next(r for r in runs if r.name == NAIVE).forecasts
    keys = [s.key for s in ds.series]
    for r in runs:
        r.forecasts, r.failed = fill_from_naive(keys, r.forecasts, naive, r.name in WITH_INTERVALS)
    return runs


def statsforecast_note(ds: Dataset, weeks: int | None, workers: int) -> str:
    n_long = sum(min(len(s.train), weeks or len(s.train)) >= 2 * SEASON for s in ds.series)
    return (
        "statsforecast: the same training window as a long frame (`unique_id`, `ds`, `y`),"
        f" `StatsForecast(models=[<model>], freq='W-SAT', n_jobs={workers},"
        f" fallback_model=Naive()).forecast(df, h={HORIZON}, level=[80, 95])`, one run per"
        f" method and group: {n_long} series with >= {2 * SEASON} weeks in the window get"
        " AutoETS(season_length=52) and AutoTheta(season_length=52), the"
        f" {len(ds.series) - n_long} others season_length=1; SeasonalNaive(52) in both groups"
        " (a series under 52 weeks falls back to Naive: no finite forecast);"
        " AutoARIMA(season_length=1, seasonal=False) for speed; `level` only for the models"
        " with intervals of their own (SeasonalNaive, Naive, AutoETS, AutoTheta, AutoARIMA,"
        " HistoricAverage: wQL from their 80% bounds and point forecast); TSB(alpha_d=0.1,"
        " alpha_p=0.1), WindowAverage(window_size=8), CrostonSBA, ADIDA, IMAPA without (`-`)"
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
    wape: float  # percent
    mase: float
    mase_n: int
    smape: float = np.nan
    m4_mase: float = np.nan
    prob: Any = None  # m4_weekly.Probabilistic, None without intervals


def metrics(group: list[Series], forecasts: dict[str, Forecast], m4: bool = False) -> Metrics:
    abs_err = actual = 0.0
    mases, smapes, m4_mases = [], [], []
    for s in group:
        f = np.asarray(forecasts[s.key].mean, dtype=float)[:HORIZON]
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
        wape=100.0 * abs_err / actual if actual > 0 else np.nan,
        mase=float(np.mean(mases)) if mases else np.nan,
        mase_n=len(mases),
        smape=float(np.mean(smapes)) if smapes else np.nan,
        m4_mase=float(np.mean(m4_mases)) if m4_mases else np.nan,
        prob=probabilistic([s.test for s in group], [forecasts[s.key] for s in group]),
    )


def dataset_table(
    ds: Dataset, runs: list[MethodRun], weeks: int | None, workers: int, load: str
) -> Table:
    m4 = ds.name == "m4"
    columns = ["method", "rank", "WAPE", "WAPE / Shelfcast", "MASE"]
    if m4:
        columns += ["sMAPE", "MASE (M4, m=1)", "OWA"]
    columns += ["wQL", "80% coverage", "95% coverage", "fit+forecast", "per series"]
    table = Table(
        title=f"Forecast accuracy on {ds.label}, horizon {HORIZON}: Shelfcast's default"
        " beside statsforecast",
        columns=columns,
        right_align_from=1,
    )
    naive2 = {s.key: Forecast(naive_forecast(s.train)) for s in ds.series}
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
        timed = label.startswith("all")
        for rank, (r, m) in enumerate(scored, 1):
            bold = r.name == SHELFCAST
            name = f"**{r.name}**" if bold else r.name
            cells = [
                name,
                str(rank),
                f"**{fmt(m.wape, 1)}**" if bold else fmt(m.wape, 1),
                f"{m.wape / own.wape:.2f}x" if own.wape > 0 else "n/a",
                fmt(m.mase),
            ]
            if m4:
                owa = Score(m.smape, m.m4_mase, len(group)).owa(Score(base.smape, base.m4_mase, 0))
                cells += [fmt(m.smape), fmt(m.m4_mase), fmt(owa)]
            cells += probabilistic_cells(m.prob)
            cells += [
                fmt_seconds(r.seconds) if timed else "",
                fmt_seconds(r.seconds / len(ds.series)) if timed else "",
            ]
            table.add(*cells)
    table.notes += ds.notes
    table.notes.append(beats_note(ds.series, runs, "SeasonalNaive(52)"))
    for r in runs:
        if r.given:
            table.notes.append(r.given)
        if r.failed:
            table.notes.append(
                f"{r.name}: {r.failed} series without a (finite) forecast, given Naive's"
            )
    table.notes += [
        "training window of every method: "
        + (
            f"each series' last {weeks} training weeks (`Settings().training.max_train_weeks`)"
            if weeks
            else "every training week (`Settings().training.max_train_weeks` is None)"
        ),
        statsforecast_note(ds, weeks, workers),
        "every forecast and interval bound clipped at zero; rows ranked by WAPE within each group",
        "WAPE = sum |error| / sum actual over the group's series and weeks, in percent; MASE ="
        " mean over series of MAE / in-sample seasonal-naive MAE over the whole training history"
        " (m = 52 where it has more than 52 weeks, else m = 1), series with a zero scale skipped"
        + (
            "; sMAPE (percent), M4's MASE (m = 1 over the whole history) and OWA against Naive2"
            " (= Naive for weekly data) on the group's means, as `m4_weekly.py` computes them"
            if m4
            else ""
        ),
        "wQL: weighted quantile loss of the 0.1, 0.5 and 0.9 quantiles pooled over the group's"
        " series and weeks (2 x summed pinball loss / summed actuals, mean over the quantiles,"
        " percent; the 0.5 quantile's alone is its WAPE); coverage: share of the held-out weeks"
        " inside the 80% and 95% intervals; `-`: the method gives no intervals",
        f"fit+forecast: wall time over the whole dataset with {workers} worker(s) (both"
        " statsforecast groups together); per series: that wall time / the number of series",
    ]
    if skipped:
        table.notes.append(
            "series left out of MASE (zero or unknown in-sample seasonal-naive error): "
            + ", ".join(skipped)
        )
    if ds.name == "sample":
        table.notes.append(
            f"segments by training weeks: established >= {ESTABLISHED_WEEKS}, young under"
            f" {ESTABLISHED_WEEKS}; slow: mean under {SLOW_RATE:g} copy/week over the last"
            f" {SEASON} training weeks (any age)"
        )
    table.notes += [load, "measured " + machine_line("statsforecast", "numpy", "scipy")]
    return table


def beats_note(series: list[Series], runs: list[MethodRun], peer: str) -> str:
    """How many series (with sales in their held-out weeks) Shelfcast's forecast beats `peer`'s
    on, by absolute error summed over those weeks (= by WAPE)."""
    by_name = {r.name: r.forecasts for r in runs}
    own, other = by_name[SHELFCAST], by_name[peer]
    scored = [s for s in series if np.abs(s.test).sum() > 0]
    wins = sum(
        np.abs(s.test - np.asarray(own[s.key].mean)[:HORIZON]).sum()
        < np.abs(s.test - np.asarray(other[s.key].mean)[:HORIZON]).sum()
        for s in scored
    )
    return (
        f"Shelfcast's forecast beats {peer} on WAPE for {wins} of the {len(scored)} series with"
        f" sales in their held-out weeks ({100.0 * wins / max(len(scored), 1):.1f}%)"
    )


BACKTEST_COLUMNS = ("mase", "wape", "wql", "coverage_80", "coverage_95")


def backtest_table(ds: Dataset, own: ShelfcastRun, workers: int) -> Table:
    """Shelfcast's rolling-origin backtest inside the training weeks: `fit.backtest.table`
    averaged over titles and origins, per candidate family and for each title's chosen model."""
    from shelfcast.forecasting.fit import BASELINE, NONSEASONAL_BASELINE

    baselines = {
        BASELINE: " (seasonal naive: baseline of titles with two seasons)",
        NONSEASONAL_BASELINE: " (baseline of shorter titles)",
    }

    frames = [f.backtest.table.assign(key=f.key) for f in own.fits if not f.backtest.table.empty]
    table = Table(
        title=f"Shelfcast's rolling-origin backtest inside the training weeks of {ds.label}",
        columns=["model", "titles", "title-origins", "MASE", "WAPE", "wQL", "80% cov", "95% cov"],
    )
    if frames:
        bt = pd.concat(frames, ignore_index=True)
        chosen = {f.key: f.selected for f in own.fits}
        order = {c: i for i, c in enumerate(own.config.candidates)}  # then ensembles, by name
        names = sorted(bt["candidate"].unique(), key=lambda c: (order.get(c, len(order)), c))
        rows = [("**chosen model**", bt[bt["candidate"] == bt["key"].map(chosen)])]
        rows += [(f"`{c}`" + baselines.get(c, ""), bt[bt["candidate"] == c]) for c in names]
        for label, part in rows:
            cells = [
                (fmt(part[c].mean(), 3) if c == "mase" else f"{fmt(part[c].mean(), 1)}%")
                if c in part
                else "n/a"
                for c in BACKTEST_COLUMNS
            ]
            table.add(label, part["key"].nunique(), len(part), *cells)
    n = len(ds.series)
    plans = Counter(
        "{mode} ({origins} origins x {horizon} weeks, holdout {holdout})".format(
            **f.bundle.evaluation["plan"]
        )
        for f in own.fits
    )
    common = plans.most_common(3)
    table.notes += [
        f"{len(frames)} of {n} titles backtested"
        + ("" if len(frames) == n else " (the others too short: forecast by their baseline)"),
        f"configuration: `{own.config}`; each title's backtest plan (`FitConfig.plan`, shorter"
        " for short histories): "
        + "; ".join(f"{k} {plan}" for plan, k in common)
        + (f"; {plans.total() - sum(k for _, k in common)} on others" if len(plans) > 3 else ""),
        "means over titles and origins of `fit.backtest.table`: MASE (scaled by the in-sample"
        " naive error of the window before each origin, at the plan's season length), WAPE"
        " and wQL (0.1/0.5/0.9) in percent, coverage of the 80% and 95% intervals in percent;"
        " a metric a title-origin leaves undefined (a zero scale or zero sales) is left out of"
        " its mean; a title's chosen model (its selected family or ensemble) is scored on its"
        " own rows; the intervals are the candidates' own, before `fit_titles` calibrates the"
        " quantiles across titles; n/a: the backtest table has no such column",
        f"Shelfcast's fitting cost: {fmt_seconds(own.run.seconds)} wall with {workers}"
        f" workers for {n} series ({fmt_seconds(own.run.seconds / max(n, 1))} per series, the"
        f" forecasts included); a title's own fit (`TitleFit.seconds`, in a worker) took"
        f" {fmt_seconds(own.fit_seconds)} on average",
    ]
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
    if not datasets:
        return 0
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    config = fit_config(Settings(), horizon=HORIZON)
    weeks = config.max_train_weeks  # Settings().training.max_train_weeks: the peers' window too
    markdown = []
    t0 = time.perf_counter()
    for ds in datasets:
        print(f"{ds.label}:", flush=True)
        load = load_note()
        own = run_shelfcast(ds, config, args.workers)
        runs = [own.run, *run_statsforecast(ds, weeks, args.workers)]
        fallback = {r.name: r for r in runs}[NAIVE].forecasts
        own.run.forecasts, _ = fill_missing([s.key for s in ds.series], own.run.forecasts, fallback)
        for table in (
            dataset_table(ds, runs, weeks, args.workers, load),
            backtest_table(ds, own, args.workers),
        ):
            table.print()
            markdown.append(table.to_markdown())
    if args.markdown is not None and markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text("\n\n".join(markdown) + "\n")
    print(f"whole run: {fmt_seconds(time.perf_counter() - t0)} (data loading and scoring included)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
