"""Reading a large catalogue: `read_sales` then `weekly_series` on the sample catalogue.

For each size (`--titles`), the sample catalogue is written once as parquet under `--data`
(reused when there), then read in a fresh process per mode, so that each peak is its own:
text columns as objects (the default) and as categoricals (`categorical=True`, what a
catalogue of many titles reads with). Per run: seconds to read and validate, seconds to build
the weekly series, rows, titles, and the process's peak resident memory (ru_maxrss).

Examples:
    .venv/bin/python benchmarks/read_scale.py --titles 10000
    .venv/bin/python benchmarks/read_scale.py --titles 10000 100000 --modes categorical
"""

from __future__ import annotations

# isort: off
import _common  # noqa: F401  first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import multiprocessing as mp
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from _common import Table, fmt_seconds, load_note, machine_line, peak_rss_mb

MODES = {"objects": False, "categorical": True}


def sample_file(folder: Path, titles: int) -> Path:
    """The sample catalogue of `titles` titles as parquet, written under `folder` if missing."""
    from shelfcast.catalog.sample import write_sample

    out = folder / f"sample-{titles}"
    path = out / "bookscan_weekly.parquet"
    if not path.exists():
        write_sample(out, fmt="parquet", titles=titles)
    return path


def measure(path: str, categorical: bool) -> tuple[float, float, int, int, float]:
    """In a fresh process: read, build the series; the timings, sizes and peak memory (MB)."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.series import weekly_series

    started = time.perf_counter()
    sales = read_sales(path, categorical=categorical)
    read = time.perf_counter() - started
    series = weekly_series(sales)
    built = time.perf_counter() - started - read
    return read, built, len(sales.frame), len(series), peak_rss_mb()


def run(path: Path, categorical: bool) -> tuple[float, float, int, int, float]:
    context = mp.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(measure, str(path), categorical).result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--titles", type=int, nargs="+", default=[10_000])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--data", type=Path, default=Path(".shelfcast/bench/read-scale"))
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    table = Table(
        "read_sales + weekly_series on the sample catalogue (parquet)",
        ["titles", "text columns", "rows", "series", "read", "weekly_series", "total", "peak"],
        right_align_from=2,
    )
    table.notes.append(load_note())
    for titles in args.titles:
        path = sample_file(args.data, titles)
        for mode in args.modes:
            read, built, rows, series, peak = run(path, MODES[mode])
            table.add(
                f"{titles:,}",
                mode,
                f"{rows:,}",
                f"{series:,}",
                fmt_seconds(read),
                fmt_seconds(built),
                fmt_seconds(read + built),
                f"{peak / 1024:.2f} GiB",
            )
    table.notes.append(machine_line("pandas", "pyarrow"))
    table.print(args.markdown)


if __name__ == "__main__":
    main()
