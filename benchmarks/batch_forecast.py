"""Forecasting many titles at once (`forecast_table`) beside a per-title `Bundle.forecast` loop.

1. The sample catalogue (`write_sample` with the settings' seed, every title with sales) is
   fitted with `fit_titles(series, fit_config(Settings()))` and kept as a BundleTable
   (`--table DIR` reuses one written before; it is written there when missing).
2. Catalogues of N titles are that table's rows repeated under new keys (re-keyed copies of the
   fitted bundles: the same families, histories and calibrations in the same mix, so the work
   per title is that of the sample catalogue).
3. Per N, each a 32-week forecast with 80 and 95% intervals and the p10, p50 and p90
   quantiles, without actuals and with 4 new actual weeks per title (which every title then
   re-filters): the per-title loop (`Bundle.forecast` on each loaded bundle) and
   `forecast_bundles` on the same first `--loop-limit` titles (best of `--repeat` interleaved
   runs: the ratio), then `forecast_bundles` on every loaded bundle and `forecast_table` from
   the table (reading each title's bundle included).
4. Single titles and 1,000 titles in one call, with 4 actual weeks: latency percentiles of
   `Bundle.forecast`, `forecast_bundles` and `forecast_arrays` (no table built), what one
   server request computes.

The largest relative difference from the loop, over the titles it ran, is printed.

Examples:
    .venv/bin/python benchmarks/batch_forecast.py --table .shelfcast/bench/sample-table
    .venv/bin/python benchmarks/batch_forecast.py --titles 100000 --loop-limit 2000
"""

from __future__ import annotations

# isort: off
import _common  # noqa: F401  first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
from _common import Table, fmt, fmt_seconds, load_note, machine_line

from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.batch import forecast_arrays, forecast_bundles, forecast_table
from shelfcast.forecasting.bundle import Bundle
from shelfcast.forecasting.bundle_table import BundleTable

HORIZON = 32
LEVELS = (80, 95)
QUANTILES = (0.1, 0.5, 0.9)
ACTUAL_WEEKS = 4


def fitted_table(folder: Path | None) -> BundleTable:
    """The sample catalogue fitted, as a BundleTable (read from `folder` when it holds one)."""
    if folder is not None and (folder / bundle_table.SHARED_FILE).exists():
        return bundle_table.read(folder, columns=bundle_table.SERVING_COLUMNS)
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting.parallel import fit_titles
    from shelfcast.settings import Settings
    from shelfcast.training.run import fit_config

    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="shelfcast-bench-") as tmp:
        paths = write_sample(tmp, fmt="parquet", seed=settings.data.sample_seed)
        sales = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
    series = sorted(weekly_series(sales, start=None), key=lambda s: s.key)
    print(f"fitting {len(series)} sample titles", flush=True)
    fits, _ = fit_titles(series, fit_config(settings))
    table = bundle_table.from_bundles([f.bundle for f in fits])
    if folder is not None:
        table.write(folder)
    return table


def rekeyed(table: BundleTable, n: int) -> BundleTable:
    """`n` titles: the table's rows in turn, under keys 0000000000000, 0000000000001, ..."""
    rows = pa.array(np.arange(n) % len(table), type=pa.int64())
    titles = table.titles.take(rows)
    keys = pa.array([f"{i:013d}" for i in range(n)], type=pa.string())
    titles = titles.set_column(titles.schema.get_field_index("key"), "key", keys)
    return BundleTable(titles, table.shared)


def actuals_of(bundles: list[Bundle]) -> dict[str, list[tuple[dt.date, float]]]:
    """`ACTUAL_WEEKS` new weeks after each title's last, each selling 3 copies."""
    return {
        b.key: [((b.history.end + pd.Timedelta(weeks=k)).date(), 3.0) for k in range(1, 5)]
        for b in bundles
    }


def loop(bundles: list[Bundle], actuals: dict | None) -> pd.DataFrame:
    frames = [
        b.forecast(HORIZON, LEVELS, actuals[b.key] if actuals else None, QUANTILES).assign(
            key=b.key
        )
        for b in bundles
    ]
    return pd.concat(frames, ignore_index=True)


def worst_difference(ref: pd.DataFrame, got: pd.DataFrame) -> float:
    ref = ref[got.columns]
    worst = 0.0
    for name in got.columns[2:]:
        a, b = ref[name].to_numpy(), got[name].to_numpy()
        worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-9))))
    return worst


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def latency(args: argparse.Namespace, bundles: list[Bundle], table: Table) -> None:
    actuals = actuals_of(bundles)
    single = bundles[: args.requests]
    for name, call in (
        ("Bundle.forecast", lambda b: b.forecast(HORIZON, LEVELS, actuals[b.key], QUANTILES)),
        (
            "forecast_bundles, one title",
            lambda b: forecast_bundles([b], HORIZON, LEVELS, QUANTILES, {b.key: actuals[b.key]}),
        ),
        (
            "forecast_arrays, one title",
            lambda b: forecast_arrays([b], HORIZON, LEVELS, QUANTILES, {b.key: actuals[b.key]}),
        ),
    ):
        times = sorted(timed(call, b)[1] for b in single)
        table.add(name, len(times), *(fmt(np.percentile(times, q) * 1e3, 2) for q in (50, 99)))
    batch = bundles[:1000]
    for call in (forecast_bundles, forecast_arrays):
        times = sorted(
            timed(call, batch, HORIZON, LEVELS, QUANTILES, actuals)[1] for _ in range(20)
        )
        table.add(
            f"{call.__name__}, {len(batch)} titles",
            len(times),
            *(fmt(np.percentile(times, q) * 1e3, 1) for q in (50, 99)),
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", default="572,10000", help="catalogue sizes (572,10000)")
    parser.add_argument("--table", type=Path, help="folder of the fitted sample BundleTable")
    parser.add_argument(
        "--loop-limit", type=int, default=2000, help="titles the per-title loop runs (2000)"
    )
    parser.add_argument("--requests", type=int, default=300, help="single-title requests (300)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of loop and batch (3)")
    args = parser.parse_args()
    sample = fitted_table(args.table)
    results = Table(
        "Batch forecasts: per-title loop vs forecast_bundles and forecast_table"
        " (32 weeks, 80/95%, p10/p50/p90)",
        [
            "titles",
            "actuals",
            "loop titles/s",
            "forecast_bundles titles/s, same titles",
            "ratio",
            "forecast_bundles, all",
            "forecast_table, all (with parsing)",
            "worst rel. diff",
        ],
    )
    load = load_note()
    for n in (int(x) for x in args.titles.split(",")):
        table = rekeyed(sample, n)
        bundles, parse = timed(table.bundles, table.keys)
        for with_actuals in (False, True):
            actuals = actuals_of(bundles) if with_actuals else None
            head = bundles[: args.loop_limit]
            head_actuals = actuals and {b.key: actuals[b.key] for b in head}
            loop_s = batch_s = float("inf")
            for _ in range(args.repeat):  # the best of each, interleaved: the machine's load
                ref, took = timed(loop, head, head_actuals)
                loop_s = min(loop_s, took)
                got, took = timed(forecast_bundles, head, HORIZON, LEVELS, QUANTILES, head_actuals)
                batch_s = min(batch_s, took)
            _, all_s = timed(forecast_bundles, bundles, HORIZON, LEVELS, QUANTILES, actuals)
            _, table_s = timed(forecast_table, table, None, HORIZON, LEVELS, QUANTILES, actuals)
            results.add(
                f"{n:,}",
                f"{ACTUAL_WEEKS} weeks" if with_actuals else "none",
                f"{len(head) / loop_s:,.0f}",
                f"{len(head) / batch_s:,.0f}",
                f"{loop_s / batch_s:.1f}x",
                f"{fmt_seconds(all_s)} ({n / all_s:,.0f}/s)",
                f"{fmt_seconds(table_s)} ({n / table_s:,.0f}/s)",
                f"{worst_difference(ref, got):.1e}",
            )
        print(f"{n:,} titles: reading every bundle {fmt_seconds(parse)}", flush=True)
    results.notes += [
        f"Catalogues above {len(sample)} titles are re-keyed copies of the {len(sample)} fitted"
        " sample bundles (same models, histories and calibrations in the same mix).",
        f"Loop and forecast_bundles on the same first {args.loop_limit:,} titles, best of"
        f" {args.repeat} interleaved runs each; then forecast_bundles on every loaded bundle and"
        " forecast_table from the table (reading each title's bundle included), once.",
        load,
        machine_line("numpy", "pandas", "scipy"),
    ]
    results.print()
    lat = Table(
        f"Latency of one call with {ACTUAL_WEEKS} actual weeks (in process, no HTTP)",
        ["call", "calls", "p50 ms", "p99 ms"],
    )
    loaded = rekeyed(sample, 1000)
    latency(args, [loaded.bundle(k) for k in loaded.keys], lat)
    lat.notes.append(
        "Single titles: the first `--requests` titles, one call each; 1,000 titles: 20 calls."
    )
    lat.print()


if __name__ == "__main__":
    main()
