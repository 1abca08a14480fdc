"""The training pipeline on the whole sample catalogue: cold, then again on unchanged data.

Runs `shelfcast.training.run_training` (the ZenML pipeline `book_sales_training`: validate,
weekly series, select, train, evaluate, register in MLflow) with every title of the sample
catalogue selected, twice, each in a fresh Python process as `shelfcast train` would be:

  1. cold: empty ZenML and MLflow stores in a new project folder (the sample catalogue is
     written there beforehand and not timed);
  2. rerun: the same data again, which ZenML serves from its cache (nothing is registered).

and prints where the time went: ZenML (starting Python, importing and setting up ZenML,
running the steps around their own code: bookkeeping, artifacts in and out), data (the data
steps' own code), training (fitting every title: backtests, selected family, refit) and MLflow
(logging the runs and registering every title's model). Targets on 2 cores: 500 titles in
at most 180 s cold, MLflow under 0.2 s per title, the rerun at most 20 s.

Examples:
    .venv/bin/python benchmarks/pipeline.py                     # all 500 titles, 2 workers
    .venv/bin/python benchmarks/pipeline.py --start 2012-01-01  # titles with sales since 2012
    .venv/bin/python benchmarks/pipeline.py --limit 20          # a quick look
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Table, fmt_seconds, machine_line

COLD_TARGET_S = 180.0
CACHED_TARGET_S = 20.0
MLFLOW_PER_TITLE_TARGET_S = 0.2
MARK = "@@summary@@"
# A remote tracking server or another project's settings must not leak into the benchmark.
CLEARED = ("MLFLOW_TRACKING_URI", "DEPLOYMENT_ENV", "SHELFCAST_SETTINGS")


def child(args: argparse.Namespace) -> None:
    """One pipeline run in this process; prints its summary as JSON after a marker line."""
    from shelfcast.settings import load_settings
    from shelfcast.training import run_training

    settings = load_settings(
        home=Path(args.home),
        training={"workers": args.workers, "max_train_weeks": args.max_train_weeks},
        data={"start_date": args.start},
    )
    isbns = json.loads(args.isbns) if args.isbns else None
    summary = run_training(settings, isbns=isbns, all_titles=isbns is None)
    print(MARK)
    print(json.dumps(summary.to_dict(), default=str))


def titles_to_run(home: Path, start: str, limit: int | None) -> tuple[int, list[str] | None]:
    """Write the sample catalogue into the project folder; the series count (and the first
    `limit` keys when limited)."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.series import weekly_series
    from shelfcast.settings import load_settings
    from shelfcast.training.sources import resolve_sources

    sources = resolve_sources(load_settings(home=home))
    series = weekly_series(read_sales(list(sources.sales)), start=start or None)
    keys = [s.key for s in series]
    return (min(limit, len(keys)), keys[:limit]) if limit else (len(keys), None)


def run_child(args: argparse.Namespace, home: Path, isbns: list[str] | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--child", "--home", str(home)]
    command += ["--workers", str(args.workers), "--start", args.start]
    if args.max_train_weeks:
        command += ["--max-train-weeks", str(args.max_train_weeks)]
    if isbns:
        command += ["--isbns", json.dumps(isbns)]
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    started = time.perf_counter()
    out = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if out.returncode != 0 or MARK not in out.stdout:
        sys.stderr.write(out.stdout[-4000:] + out.stderr[-4000:])
        raise SystemExit(f"the pipeline run failed (exit {out.returncode})")
    summary = json.loads(out.stdout.split(MARK, 1)[1])
    summary["process_seconds"] = wall
    return summary


def row(table: Table, label: str, s: dict[str, Any], target: float) -> None:
    t = s["timings"]
    wall = s["process_seconds"]
    zenml = wall - t["data"] - t["training"] - t["mlflow"]
    titles = len([x for x in s["titles"] if x["error"] is None])
    per_title = t["mlflow"] / titles if titles and t["mlflow"] else None
    new = s["registered_versions"]
    table.add(
        label,
        titles,
        f"**{fmt_seconds(wall)}**" if wall <= target else fmt_seconds(wall),
        fmt_seconds(zenml),
        fmt_seconds(t["data"]),
        fmt_seconds(t["training"]),
        fmt_seconds(t["mlflow"]),
        fmt_seconds(per_title) if per_title is not None else "-",
        len(s["cached_steps"]),
        new,
        f"{fmt_seconds(target)} {'met' if wall <= target else 'missed'}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", help="project folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary project folder")
    parser.add_argument("--workers", type=int, default=2, help="fitting processes (2)")
    parser.add_argument(
        "--start", default="", help="ignore weeks before this date ('': all history, 500 titles)"
    )
    parser.add_argument("--limit", type=int, help="only the first N titles")
    parser.add_argument(
        "--max-train-weeks", type=int, help="fit on at most the last N weeks (default: all)"
    )
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--isbns", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    _common.exit_on_sigterm()
    temporary = args.home is None
    home = Path(args.home or tempfile.mkdtemp(prefix="shelfcast-pipeline-bench-"))
    load_before = os.getloadavg()[0]
    try:
        count, isbns = titles_to_run(home, args.start, args.limit)
        print(f"Project folder {home}; {count} titles; cold run...", flush=True)
        cold = run_child(args, home, isbns)
        print("Rerun on unchanged data...", flush=True)
        cached = run_child(args, home, isbns)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    load_after = os.getloadavg()[0]
    table = Table(
        title=f"Training pipeline on the sample catalogue ({count} titles, {args.workers} workers)",
        columns=[
            "run",
            "titles",
            "wall",
            "ZenML",
            "data",
            "training",
            "MLflow",
            "MLflow / title",
            "cached steps",
            "new versions",
            "target",
        ],
    )
    row(table, "cold: empty ZenML and MLflow stores", cold, COLD_TARGET_S)
    row(table, "rerun: unchanged data", cached, CACHED_TARGET_S)
    selected: dict[str, int] = {}
    for t in cold["titles"]:
        if t["selected"]:
            selected[t["selected"]] = selected.get(t["selected"], 0) + 1
    history = f"weeks from {args.start}" if args.start else "all history (2001-2024)"
    table.notes = [
        "wall: the whole `run_training` call in a fresh Python process (`shelfcast train`), "
        "start-up and imports included; ZenML: wall minus the three columns after it "
        "(Python and ZenML start-up, store set-up, step bookkeeping, artifacts in and out).",
        "data: the data steps' own code (fingerprint, read and validate, weekly series, "
        "selection); training: fitting every title (rolling-origin backtest of every "
        "candidate, selected family, holdout, refit) on the process pool; MLflow: logging a parent "
        "run and a run per title, registering each title's model and the promotion gate.",
        f"Data: the sample catalogue (seed 42), {history}, every title selected; FitConfig "
        f"from the settings (horizon and holdout 32, 3 origins, max_train_weeks "
        f"{args.max_train_weeks or 'all'}). Champions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(selected.items())),
        f"Rerun: cached steps {', '.join(cached['cached_steps'])}.",
        f"Targets: cold at most {COLD_TARGET_S:.0f} s, MLflow under "
        f"{MLFLOW_PER_TITLE_TARGET_S} s per title, rerun at most {CACHED_TARGET_S:.0f} s.",
        f"Load average (1 min) {load_before:.1f} before, {load_after:.1f} after: other "
        "work on the machine slows every column.",
        machine_line("zenml", "mlflow", "statsforecast", "pandas"),
    ]
    table.print(args.markdown)


if __name__ == "__main__":
    main()
