"""The catalogue model's registry costs at 1,000 to 100,000 titles, beside a model per title.

Fits `--base` titles of the sample catalogue for real, then re-keys copies of those fits onto
N made-up ISBNs (a copy is the fit's bundle under another key: realistic rows, not refitted),
and measures on a fresh MLflow SQLite store, per catalogue size N:

  register v1        the first version: every title new (no champion, no gate)
  register v2 full   every title refitted (another base fit per title): the gate scores each
                     champion on the new fit's newest weeks (up to `--gated-max` titles)
  plan 1%            content hashes of all N series and the champion's hashes read back
  register 1%        1% of the titles changed and refitted, the rest carried over
  champion table     every title's champion row gathered from v1..v3 and verified
  title lookup       `title_record` (what `shelfcast models show ISBN` reads), mean of 20
  extract            one title's bundle folder from its verified table
  models show        the `shelfcast` console script, `models show ISBN`, in a new process
                     (Python start-up and imports included): median of `--show-runs`; beside
                     it `shelfcast --help`, the same start-up without the lookup, and with
                     `--peer-src DIR` the same command with the Shelfcast of DIR (another
                     checkout's src/, e.g. an earlier commit's), the runs interleaved

Beside them, the per-title path (`log_training_run`: a run and a registered model per title)
on `--per-title` titles. Timings are wall seconds on a shared machine: compare ratios.

Examples:
    .venv/bin/python benchmarks/catalogue_registry.py                  # 1,000 and 10,000
    .venv/bin/python benchmarks/catalogue_registry.py --titles 100000 --per-title 0
    .venv/bin/python benchmarks/catalogue_registry.py --project /tmp/cat100k --titles 100000 \
        --peer-src /tmp/before/src       # lookups and commands only, beside older code
"""

from __future__ import annotations

# isort: off
import _common  # noqa: F401  (first: pins BLAS threads to one before numpy is imported)

# isort: on

import argparse
import dataclasses
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import Table, fmt, load_note, machine_line

from shelfcast import registry
from shelfcast.catalog.reader import read_sales
from shelfcast.catalog.sample import write_sample
from shelfcast.catalog.series import weekly_series
from shelfcast.forecasting.fit import TitleFit
from shelfcast.forecasting.parallel import fit_titles
from shelfcast.registry import local_store
from shelfcast.registry.catalogue import champion_table, register_catalogue
from shelfcast.registry.catalogue_files import DECISIONS, read_parquet
from shelfcast.registry.catalogue_lookup import find, title_record
from shelfcast.registry.catalogue_titles import extract_title
from shelfcast.settings import Settings
from shelfcast.training.catalogue import plan_refit
from shelfcast.training.run import fit_config

CONFIG = fit_config(Settings())
SRC = Path(__file__).resolve().parents[1] / "src"


def rekeyed(fit: TitleFit, key: str) -> TitleFit:
    history = dataclasses.replace(fit.bundle.history, key=key)
    return dataclasses.replace(
        fit, key=key, bundle=dataclasses.replace(fit.bundle, history=history)
    )


def catalogue(base: list[TitleFit], n: int, shift: int = 0) -> list[TitleFit]:
    return [rekeyed(base[(i + shift) % len(base)], f"97{i:011d}") for i in range(n)]


def timed(what: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    out = what()
    return out, time.perf_counter() - started


def base_fits(count: int, workers: int) -> list[TitleFit]:
    with tempfile.TemporaryDirectory() as tmp:
        paths = write_sample(tmp, fmt="parquet")
        data = read_sales([str(p) for p in paths if p.suffix == ".parquet"])
        series = weekly_series(data)
    chosen = sorted(series, key=lambda s: -s.values.sum())[:count]
    fits, _ = fit_titles(chosen, CONFIG, workers=workers)
    return fits


def measure(
    base: list[TitleFit], n: int, home: Path, gated: bool, show_runs: int, peer: Path | None
) -> list[tuple[str, float, str]]:
    settings = Settings(home=home)
    registry.client_for(settings).search_experiments()  # the store's tables, made once
    rows = []
    first = catalogue(base, n)
    hashes = plan_refit(settings, [f.bundle.history for f in first], CONFIG).hashes
    done, seconds = timed(lambda: register_catalogue(settings, first, content_hashes=hashes))
    rows.append(("register v1 (all new)", seconds, phases(done.timings)))
    latest = first
    if gated:
        latest = catalogue(base, n, shift=1)
        hashes = plan_refit(settings, [f.bundle.history for f in latest], CONFIG).hashes
        done, seconds = timed(lambda: register_catalogue(settings, latest, content_hashes=hashes))
        rows.append(("register v2 (all refitted, gated)", seconds, phases(done.timings)))

    changed = set(range(0, n, 100))  # 1% of the titles' series changed
    other = catalogue(base, n, shift=2)
    series = [(other if i in changed else latest)[i].bundle.history for i in range(n)]
    plan, seconds = timed(lambda: plan_refit(settings, series, CONFIG))
    rows.append((f"plan 1% ({len(plan.refit)} to refit)", seconds, ""))
    refits = [other[i] for i in sorted(changed)]
    done, seconds = timed(lambda: register_catalogue(settings, refits, content_hashes=plan.hashes))
    rows.append(("register 1% refitted, rest carried", seconds, phases(done.timings)))

    table, seconds = timed(lambda: champion_table(settings))
    rows.append((f"champion table ({len(table.table)} rows)", seconds, ""))
    keys = [f.key for f in first]
    rows += lookups(settings, keys, show_runs, peer)
    return rows


def lookups(
    settings: Settings, keys: list[str], show_runs: int, peer: Path | None
) -> list[tuple[str, float, str]]:
    """A title's lookup, its extraction, and the commands in new processes, on the catalogue
    of `settings.home` whose titles are `keys`."""
    home, n = Path(settings.home), len(keys)
    rows = []
    times = []
    for i in range(20):
        _, s = timed(lambda i=i: title_record(settings, keys[(i * 7919) % n]))
        times.append(s)
    rows.append(("title lookup (mean of 20)", statistics.mean(times), f"max {max(times):.3f}"))
    with tempfile.TemporaryDirectory() as out:
        _, seconds = timed(lambda: extract_title(settings, keys[n // 2], Path(out) / "bundle"))
    rows.append(("extract one title", seconds, ""))
    show = ["models", "show", keys[n // 3]]
    commands = [
        ("`shelfcast models show ISBN`", show, SRC),
        ("`shelfcast --help` (start-up alone)", ["--help"], SRC),
    ]
    if peer is not None:
        commands.append((f"`shelfcast models show ISBN`, {peer}", show, peer))
    measured: dict[str, list[tuple[float, float]]] = {what: [] for what, _, _ in commands}
    for _ in range(show_runs):  # interleaved: a change in the machine's load falls on all
        for what, args, src in commands:
            measured[what].append(timed(lambda args=args, src=src: command(home, args, src)))
    for what, runs in measured.items():
        cpu, wall = zip(*runs, strict=True)
        spread = (
            f"median of {show_runs} new processes ({min(wall):.2f}-{max(wall):.2f});"
            f" CPU {statistics.median(cpu):.2f}"
        )
        rows.append((what, statistics.median(wall), spread))
    return rows


def command(home: Path, args: list[str], src: Path) -> float:
    """The `shelfcast` console script in a new process, as a user runs it (the Shelfcast of
    `src`); the CPU seconds it used."""
    env = {**os.environ, "SHELFCAST_HOME": str(home), "PYTHONPATH": str(src)}
    env.pop("MLFLOW_TRACKING_URI", None)
    script = Path(sys.executable).with_name("shelfcast")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        [sys.executable, str(script), *args], env=env, check=True, capture_output=True, cwd=home
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def phases(timings: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.2f}" for k, v in timings.items())


def per_title(base: list[TitleFit], n: int, home: Path) -> float:
    import pandas as pd

    settings = Settings(home=home)
    fits = catalogue(base, n)
    frame = pd.DataFrame({"isbn": [f.key for f in fits]})
    _, seconds = timed(
        lambda: registry.log_training_run(
            settings,
            fits,
            fingerprint="f" * 64,
            dataset=frame,
            dataset_source="benchmark",
            counts={"titles": n},
        )
    )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--titles", default="1000,10000", help="catalogue sizes (1000,10000)")
    parser.add_argument("--base", type=int, default=24, help="titles fitted for real (24)")
    parser.add_argument("--per-title", type=int, default=50, help="per-title path titles (50)")
    parser.add_argument("--workers", type=int, default=2, help="fitting processes (2)")
    parser.add_argument(
        "--gated-max",
        type=int,
        default=10_000,
        help="largest catalogue that also registers a full, gated refit (10000)",
    )
    parser.add_argument(
        "--show-runs", type=int, default=5, help="new processes per command timed (5)"
    )
    parser.add_argument(
        "--peer-src",
        type=Path,
        help="also time `models show` with the Shelfcast of this src/ folder (none)",
    )
    parser.add_argument(
        "--project",
        type=Path,
        metavar="DIR",
        help="only the lookups and commands, on the catalogue model of this project folder"
        " (a new folder: one version of the first of --titles titles registered there first)",
    )
    parser.add_argument("--markdown", type=Path, help="also write the tables here")
    args = parser.parse_args()
    table = Table(
        "Catalogue model: registry costs",
        ["titles", "stage", "seconds", "ms per title", "phases (s)"],
        right_align_from=2,
    )
    if args.project:
        settings = Settings(home=args.project)
        if local_store.database(settings) is None:  # a new folder: its catalogue, v1, first
            n = int(args.titles.split(",")[0])
            fits = catalogue(base_fits(args.base, args.workers), n)
            hashes = plan_refit(settings, [f.bundle.history for f in fits], CONFIG).hashes
            _, seconds = timed(lambda: register_catalogue(settings, fits, content_hashes=hashes))
            table.add(
                f"{n:,}", "register v1 (all new)", fmt(seconds, 2), fmt(1000 * seconds / n, 2), ""
            )
        at = find(settings)
        keys = read_parquet(at.folder, DECISIONS, columns=["isbn"]).column("isbn").to_pylist()
        for stage, seconds, note in lookups(settings, keys, args.show_runs, args.peer_src):
            table.add(f"{len(keys):,}", stage, fmt(seconds, 2), "", note)
        table.notes += [machine_line("mlflow", "pyarrow"), load_note()]
        table.print(args.markdown)
        return
    base = base_fits(args.base, args.workers)
    for n in [int(x) for x in args.titles.split(",")]:
        with tempfile.TemporaryDirectory() as tmp:
            for stage, seconds, note in measure(
                base, n, Path(tmp), n <= args.gated_max, args.show_runs, args.peer_src
            ):
                whole = stage.startswith(("register", "plan", "champion"))
                per = 1000 * seconds / n if whole else None
                table.add(f"{n:,}", stage, fmt(seconds, 2), fmt(per, 2, ""), note)
    if args.per_title:
        with tempfile.TemporaryDirectory() as tmp:
            seconds = per_title(base, args.per_title, Path(tmp))
        n = args.per_title
        table.add(
            f"{n:,}",
            "per-title models (log_training_run)",
            fmt(seconds, 2),
            fmt(1000 * seconds / n, 1),
            "",
        )
    table.notes += [machine_line("mlflow", "pyarrow"), load_note()]
    table.print(args.markdown)


if __name__ == "__main__":
    main()
