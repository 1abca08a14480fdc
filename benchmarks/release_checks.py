"""What checking a release as untrusted input costs a server's load, beside reading it.

1. A catalogue table of `--titles` seasonal naive titles, `--weeks` weeks each, written to a
   temporary folder. Timed (best of `--repeat`): reading it as a server does
   (`bundle_table.read(folder, columns=SERVING_COLUMNS)`, memory-mapped, with every check:
   UTF-8 and offsets, types, unique keys, finite non-negative weeks) beside its peer, the
   same Parquet files read with `pyarrow.parquet.read_table` alone. Checksums are left out of
   both (hashing the files costs the same either way).
2. `--bundles` per-title bundles of the same titles: `Bundle.from_files` (strict JSON, typed
   fields, the history's cells checked) beside its peer, `json.loads` of bundle.json and
   `pandas.read_csv(parse_dates=...)` of history.csv, what reading a bundle did before.

Example:
    .venv/bin/python benchmarks/release_checks.py --titles 100000
"""

from __future__ import annotations

# isort: off
from _common import Table, load_note, machine_line  # first: pins BLAS threads to one

# isort: on

import argparse
import io
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from shelfcast.catalog.series import TitleSeries
from shelfcast.forecasting import bundle_table
from shelfcast.forecasting.bundle import BUNDLE_FILE, HISTORY_FILE, Bundle
from shelfcast.forecasting.families.snaive import SnaiveSpec


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def bundles(titles: int, weeks: int) -> list[Bundle]:
    rng = np.random.default_rng(3)
    spec = SnaiveSpec(season_length=52, sigma2=90.0)
    start = pd.Timestamp("2021-01-02")
    return [
        Bundle(spec, TitleSeries(f"97823{i:08d}", start, rng.poisson(20, weeks).astype(float)))
        for i in range(titles)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", type=int, default=20_000)
    parser.add_argument("--weeks", type=int, default=208)
    parser.add_argument("--bundles", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path, default=None)
    args = parser.parse_args()

    made = bundles(args.titles, args.weeks)
    table = Table(
        f"Release checks: {args.titles:,} titles of {args.weeks} weeks, best of {args.repeat}",
        ["what", "checked (s)", "peer (s)", "ratio", "per title, checked"],
    )
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        bundle_table.from_bundles(made).write(folder)
        parts = sorted(folder.glob(f"{bundle_table.PART_PREFIX}*.parquet"))
        columns = list(bundle_table.SERVING_COLUMNS)
        note = load_note()
        checked = best(args.repeat, lambda: bundle_table.read(folder, columns=columns))
        peer = best(
            args.repeat,
            lambda: (
                [pq.read_table(p, columns=columns, memory_map=True) for p in parts]
                + [pq.read_table(folder / bundle_table.SHARED_FILE, memory_map=True)]
            ),
        )
        table.add(
            "catalogue table read (server load, no checksums)",
            f"{checked:.3f}",
            f"{peer:.3f}",
            f"{checked / peer:.2f}",
            f"{checked / args.titles * 1e6:.1f} us",
        )

    files = [b.to_files() for b in made[: args.bundles]]

    def old_read() -> None:
        for f in files:
            json.loads(f[BUNDLE_FILE])
            pd.read_csv(io.BytesIO(f[HISTORY_FILE]), parse_dates=["week_ending"])

    checked = best(args.repeat, lambda: [Bundle.from_files(f) for f in files])
    peer = best(args.repeat, old_read)
    table.add(
        f"{len(files)} per-title bundles parsed (Bundle.from_files)",
        f"{checked:.3f}",
        f"{peer:.3f} (json + read_csv only)",
        f"{checked / peer:.2f}",
        f"{checked / len(files) * 1e3:.2f} ms",
    )
    table.notes += [note, machine_line("pyarrow", "numpy", "pandas")]
    table.print(args.markdown)


if __name__ == "__main__":
    main()
