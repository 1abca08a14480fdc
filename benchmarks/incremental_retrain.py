"""A weekly incremental retrain of a whole catalogue, measured whole: 1% of the titles changed,
the training pipeline run end to end on the catalogue model, against a 300 s target.

Per catalogue size (`--titles`, 10,000 then 100,000 by default), in a fresh project folder:

setup (not the measured figure; a child process)
  data      the sample catalogue of N titles as parquet (`catalog.sample.write_sample`, what
            `shelfcast data sample --titles N --format parquet` writes; kept under --work)
  champion  an initial catalogue version, made WITHOUT fitting every title (100,000 titles
            take about 1.75 h on two cores): the pools are trained on every title (timed:
            what a full refit spends on them), `--donors` titles evenly spaced are fitted for
            real against them, and their bundles are re-keyed onto every other title with its
            own history (`_catalogue_tables.stand_ins`) and the content hash of its own series;
            registered with the pools as one version (`register_catalogue`), as a full
            `shelfcast train --all` would have left it. ZenML's store is set up too.
  change    1% of the titles, among those with a sale in the last 4 weeks, get new values
            for those weeks (volume + 5, a revision from the data supplier): a new parquet
            file with every row; the catalogue's last week stays, so the pools' cut-offs do.

measured (a fresh child process)
  `run_training(settings, all_titles=True, catalogue=True)` on the changed file: the very
  call `shelfcast train --all` makes, through the ZenML pipeline: load, read and validate
  (categorical text columns), weekly series, select, plan (content hashes, pools reused or
  not), fit the changed titles against the champion's kept pools, evaluate, register the new
  version with per-title gate decisions, link the MLflow run. Each step's wall seconds (from
  its start to the next one's, artifacts in and out included), its own code's seconds, and
  the peak proportional resident memory (PSS) of the process tree while it ran, sampled
  every 0.1 s.

Beside it, a full refit of the same catalogue, projected: the pools' training as timed in
the setup, every title fitted at the measured seconds per refitted title, everything else as
measured.

Examples:
    .venv/bin/python benchmarks/incremental_retrain.py --titles 10000
    .venv/bin/python benchmarks/incremental_retrain.py --titles 10000 100000 --work /tmp/incr
"""

from __future__ import annotations

# isort: off
import _common  # noqa: F401  (first: pins BLAS threads to one before numpy is imported)

# isort: on

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Table, fmt_seconds, load_note, machine_line
from catalogue_scale import SAMPLE_EVERY, PeakMemory

TARGET_SECONDS = 300.0
CHANGED_SHARE = 0.01
CHANGED_WEEKS = 4
BUMP = 5
SCRIPT = Path(__file__).resolve()


# ------------------------------------------------------------------------- child: setup


def settings_for(home: Path, data: Path, workers: int) -> Any:
    from shelfcast.settings import load_settings

    return load_settings(home=home, data={"paths": (str(data),)}, training={"workers": workers})


def setup(titles: int, work: Path, donors: int, workers: int) -> dict[str, Any]:
    """Write (or reuse) the sample, register the initial version, write the changed file."""
    from _catalogue_tables import stand_ins

    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series
    from shelfcast.forecasting import pool_state
    from shelfcast.forecasting.content_hash import content_hash, settings_digest
    from shelfcast.forecasting.parallel import fit_titles, train_pools
    from shelfcast.registry.catalogue import register_catalogue
    from shelfcast.training.run import fit_config
    from shelfcast.training.zenml_env import setup_zenml

    out: dict[str, Any] = {}
    sample = work / f"sample-{titles}" / "bookscan_weekly.parquet"
    started = time.perf_counter()
    if sample.is_file():
        out["data"] = "reused"
    else:
        write_sample(sample.parent, fmt="parquet", titles=titles)
        out["data"] = time.perf_counter() - started
    home = work / f"home-{titles}"
    shutil.rmtree(home, ignore_errors=True)
    settings = settings_for(home, sample, workers)
    config = fit_config(settings)

    started = time.perf_counter()
    series = weekly_series(read_sales([str(sample)], categorical=True))
    out["read"] = time.perf_counter() - started
    digest = settings_digest(config)
    hashes = {s.key: content_hash(s, digest) for s in series}

    started = time.perf_counter()
    pools = train_pools(series, config)
    out["pools"] = time.perf_counter() - started
    step = max(1, len(series) // donors)
    started = time.perf_counter()
    fits, _ = fit_titles(series[::step][:donors], config, workers=workers, pools=pools)
    out["donors"], out["donor_seconds"] = len(fits), time.perf_counter() - started
    bundles = [fit.bundle for fit in fits]
    stand = [
        dataclasses.replace(fits[i], key=bundle.key, bundle=bundle)
        for i, bundle in stand_ins(series, bundles)
    ]
    started = time.perf_counter()
    about = {
        "settings_hash": pool_state.settings_hash(config, series),
        "data_hash": pool_state.data_hash(hashes),
    }
    done = register_catalogue(
        settings, stand, content_hashes=hashes, pools=pool_state.to_rows(pools), pools_info=about
    )
    out["register"], out["version"] = time.perf_counter() - started, done.version
    out["titles"] = len(series)
    del stand, fits, bundles, pools
    setup_zenml(settings)
    out["changed"], out["changed_file"] = change(sample, work / f"changed-{titles}", len(series))
    return out


def change(sample: Path, folder: Path, titles: int) -> tuple[int, str]:
    """1% of the titles with a sale in the last `CHANGED_WEEKS` weeks: those weeks + `BUMP`."""
    from datetime import timedelta

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(sample)
    end = table["End Date"]
    first = pc.max(end).as_py() - timedelta(weeks=CHANGED_WEEKS - 1)
    recent = pc.greater_equal(end, pa.scalar(first, type=end.type))
    active = sorted(set(pc.filter(table["ISBN"], recent).to_pylist()))
    wanted = max(1, round(titles * CHANGED_SHARE))
    chosen = active[:: max(1, len(active) // wanted)][:wanted]
    mask = pc.and_(pc.is_in(table["ISBN"], pa.array(chosen)), recent)
    volume = table["Volume"]
    bumped = pc.if_else(mask, pc.add(volume, pa.scalar(BUMP, type=volume.type)), volume)
    table = table.set_column(table.schema.get_field_index("Volume"), "Volume", bumped)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "bookscan_weekly.parquet"
    pq.write_table(table, path)
    return len(chosen), str(path)


# ----------------------------------------------------------------------- child: retrain


def retrain(home: Path, data: Path, workers: int, events: Path) -> dict[str, Any]:
    """What `shelfcast train --all` runs, step events written to `events` as they come."""
    from shelfcast.training.run import run_training

    settings = settings_for(home, data, workers)
    with events.open("a") as log:

        def hook(stage: str, done: int, total: int, current: str) -> None:
            if stage == "step":
                log.write(json.dumps({"t": time.time(), "step": current}) + "\n")
                log.flush()

        summary = run_training(settings, all_titles=True, catalogue=True, progress=hook)
    return summary.to_dict()


# ------------------------------------------------------------------------------- parent


def child(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"child {args[0]} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def measure(titles: int, work: Path, donors: int, workers: int, table: Table) -> None:
    print(f"{titles:,} titles: setting up (sample, initial version, changed file) ...", flush=True)
    made = child("--setup", str(titles), "--work", str(work), "--donors", str(donors))
    data = made["data"] if made["data"] == "reused" else fmt_seconds(made["data"])
    print(
        f"  setup: data {data}, read {fmt_seconds(made['read'])}, pools on every title "
        f"{fmt_seconds(made['pools'])}, {made['donors']} donors fitted in "
        f"{fmt_seconds(made['donor_seconds'])}, v{made['version']} registered with "
        f"{made['titles']:,} titles in {fmt_seconds(made['register'])}; "
        f"{made['changed']} titles changed",
        flush=True,
    )
    events = work / f"events-{titles}.jsonl"
    events.unlink(missing_ok=True)
    note = load_note()
    home = work / f"home-{titles}"
    started = time.time()
    with PeakMemory() as samples:
        summary = child(
            "--retrain",
            str(titles),
            "--work",
            str(work),
            "--home",
            str(home),
            "--data",
            made["changed_file"],
            "--events",
            str(events),
        )
    ended = time.time()
    marks = [json.loads(line) for line in events.read_text().splitlines()]
    own = {s["name"]: s for s in summary["steps"]}
    catalogue = summary["catalogue"] or {}
    counts = catalogue.get("counts", {})
    refit, carried = counts.get("fitted", 0), counts.get("carried", 0)
    pools = catalogue.get("pools") or {}
    label = f"{made['titles']:,}"
    first = marks[0]["t"] if marks else ended
    table.add(
        label,
        "start-up: Python, imports, ZenML",
        fmt_seconds(first - started),
        "",
        gib(samples.peak(started, first)),
        "",
    )
    train_wall = 0.0
    for i, mark in enumerate(marks):
        end = marks[i + 1]["t"] if i + 1 < len(marks) else ended
        step = own.get(mark["step"], {})
        wall = end - mark["t"]
        fitted = ""
        if mark["step"] == "train_titles":
            train_wall, fitted = wall, f"{refit:,} fitted"
        elif mark["step"] == "register_catalogue":
            fitted = f"{refit:,} gated, {carried:,} carried"
        table.add(
            label,
            mark["step"],
            fmt_seconds(wall),
            fmt_seconds(step.get("seconds")),
            gib(samples.peak(mark["t"], end)),
            fitted,
        )
    total = ended - started
    verdict = "met" if total <= TARGET_SECONDS else "missed"
    table.add(
        f"**{label}**",
        f"**incremental retrain, end to end** (target {fmt_seconds(TARGET_SECONDS)}: {verdict})",
        f"**{fmt_seconds(total)}**",
        "",
        gib(samples.peak(started, ended)),
        f"{refit:,} refitted, {carried:,} carried",
    )
    per_title = made["donor_seconds"] / max(made["donors"], 1)
    full = total - train_wall + made["pools"] + per_title * made["titles"]
    table.add(
        label,
        f"full refit ({full / total:.1f}x)",
        f"**projected** {fmt_seconds(full)}",
        "",
        "",
        f"{made['titles']:,} fitted",
    )
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in catalogue.get("timings", {}).items())
    table.notes.append(
        f"{label} titles: setup made v{made['version']} from {made['donors']} donors fitted "
        f"for real, re-keyed onto every title (not {made['titles']:,} fits); "
        f"{made['changed']} titles changed (their last {CHANGED_WEEKS} weeks + {BUMP}); "
        f"pools: {pools.get('reason', 'none')}; register_catalogue: {phases}; full refit: "
        f"pools {fmt_seconds(made['pools'])} (trained on every title in the setup) + "
        f"{made['titles']:,} titles x {per_title * 1000:.0f} ms (the donors' fit, "
        f"{workers} workers) + the other steps as measured; {note}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--titles", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--work", type=Path, default=Path(".shelfcast/bench/incremental"))
    parser.add_argument("--donors", type=int, default=300, help="titles fitted for real")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--markdown", type=Path, default=None)
    parser.add_argument("--setup", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--retrain", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--events", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.setup:
        print(json.dumps(setup(args.setup, args.work.resolve(), args.donors, args.workers)))
        return
    if args.retrain:
        print(json.dumps(retrain(args.home, args.data, args.workers, args.events), default=str))
        return
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    table = Table(
        "Weekly incremental retrain: 1% of the titles changed, the pipeline end to end",
        ["titles", "stage", "wall", "own code", "peak memory", "titles fitted / carried"],
        right_align_from=2,
    )
    for titles in args.titles:
        measure(titles, work, args.donors, args.workers, table)
    table.notes += [
        "wall: from the step's start to the next one's (its artifacts read and written "
        "included); own code: the step's own code (ZenML's step metadata `seconds`); peak "
        f"memory: the largest PSS of the retraining process and its workers, sampled every "
        f"{SAMPLE_EVERY} s while the step ran",
        f"measured: run_training(all_titles=True, catalogue=True), the call `shelfcast train "
        f"--all` makes, in a fresh process, {args.workers} workers, on a ZenML store set up "
        "before (no step cached: the data changed)",
        machine_line("zenml", "mlflow", "pandas", "pyarrow", "lightgbm"),
    ]
    table.print(args.markdown)


if __name__ == "__main__":
    main()
