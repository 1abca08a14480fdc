"""A whole catalogue at scale: each stage of a model's life timed on sample catalogues of 1,000
to 100,000 titles, with seconds per title and the peak resident memory of the process tree.

Stages, in order (each a function of `STAGES`):
  data   the sample catalogue written (parquet), read and validated, weekly series built
  fit    `fit_titles` through the train step's path (`training.executors.fit_on`): pooled
         families trained across every title, then the titles fitted in batches on the
         process pool, then calibrated; with --dask, the same on local Dask clusters
  register     the fits registered as one catalogue model version (`registry.catalogue.
               register_catalogue`, content hashes planned first, as the train step does) in
               an MLflow SQLite store; the registry's size on disk after it
  per-title    beside it, the same fits as one registered model per title
               (`registry.log_training_run`), on --per-title of them, projected to the whole
  package      the champion table released (`lifecycle.package.package_release`, catalogue)
  deploy       the release rolled out to a local endpoint (`lifecycle.deploy.deploy_release`:
               router and server started, healthy, smoke-tested)
  smoke test   `lifecycle.deploy.check_endpoint` on the endpoint; then it is stopped
  serve start  a server process on the release, from start to healthy (catalogue_release's)
  batch        `lifecycle.batch.batch_forecast` of every title into one Parquet file

With --fit-limit N, a larger catalogue's titles are fitted on N of them, evenly spaced in ISBN
order, and the whole is projected from their seconds per title (the pools are always trained on
every title); projected rows say so.

Example:
    .venv/bin/python benchmarks/catalogue_scale.py --titles 1000 --dask 2,4
    .venv/bin/python benchmarks/catalogue_scale.py --titles 100000 --fit-limit 10000 --until fit
"""

from __future__ import annotations

# isort: off
import _common  # first: pins BLAS threads to one before numpy is imported

# isort: on

import argparse
import contextlib
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from _common import Table, fmt_seconds, load_note, machine_line

SAMPLE_EVERY = 0.1  # seconds between two samples of the process tree's memory


# ------------------------------------------------------------------------------ memory


def tree_memory(pid: int) -> int:
    """Proportional resident bytes (PSS) of process `pid` and all its descendants: pages shared
    by several processes (a forked worker's copy of its parent) are divided among them, so a
    sum over the tree counts each page once. psutil, else Linux /proc."""
    try:
        import psutil
    except ImportError:
        return _proc_tree_memory(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for proc in procs:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_full_info().pss
    return total


def _proc_tree_memory(pid: int) -> int:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        kids = [p for p, of in parents.items() if of == parent and p not in tree]
        tree.update(kids)
        frontier += kids
    total = 0
    for p in tree:
        with contextlib.suppress(OSError, ValueError, IndexError):
            for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
    return total


class PeakMemory:
    """Samples the memory of this process and its children (`tree_memory`) every
    `SAMPLE_EVERY` s in a background thread, as (time, bytes) `points`: `take()` returns the
    peak since the last `take()`, `peak(start, end)` the peak between two times."""

    def __init__(self) -> None:
        self.points: list[tuple[float, int]] = []
        self._taken = 0  # the first point a `take()` has not seen
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.is_set():
            point = (time.time(), tree_memory(os.getpid()))
            with self._lock:
                self.points.append(point)
            self._stop.wait(SAMPLE_EVERY)

    def take(self) -> int:
        now = tree_memory(os.getpid())
        with self._lock:
            recent, self._taken = self.points[self._taken :], len(self.points)
        return max([now, *(m for _, m in recent)])

    def peak(self, start: float, end: float) -> int:
        with self._lock:
            return max((m for t, m in self.points if start <= t <= end), default=0)


# ------------------------------------------------------------------------------ stages


@dataclass
class Row:
    """One timed step: `seconds` for `titles` titles; `projected` when scaled up from a part."""

    stage: str
    engine: str
    titles: int
    seconds: float = 0.0
    peak_bytes: int = 0
    projected: bool = False
    overhead: float | None = None  # share of worker time not spent fitting (fit rows)
    cores_idle: float | None = None  # share of core time without a fit to run (fit rows)
    disk_bytes: int | None = None  # what the stage's store holds after it (registry, release)
    note: str = ""


@dataclass
class Run:
    """What a catalogue's stages share: options, the catalogue, and the rows measured so far."""

    args: argparse.Namespace
    titles: int
    folder: Path
    memory: PeakMemory
    series: list[Any] = field(default_factory=list)
    fits: list[Any] = field(default_factory=list)  # the process pool's
    hashes: dict[str, str] = field(default_factory=dict)
    release: Any = None
    rows: list[Row] = field(default_factory=list)

    @property
    def settings(self) -> Any:
        """The settings of this catalogue's own project folder (registry, artifacts, endpoints)."""
        from shelfcast.settings import load_settings

        return load_settings().replace(
            home=self.folder / "home",
            artifact_uri=None,
            registry={"mlflow_tracking_uri": None},
            endpoints={"backend": "local"},
        )

    @contextlib.contextmanager
    def measure(self, stage: str, engine: str, titles: int) -> Iterator[Row]:
        """Time the block as one row; its peak memory is the tree's since the row began."""
        row = Row(stage, engine, titles)
        self.memory.take()
        started = time.perf_counter()
        yield row
        row.seconds = time.perf_counter() - started
        row.peak_bytes = self.memory.take()
        self.add(row)

    def add(self, *rows: Row) -> None:
        """Keep `rows`, and say them now: a long run stopped early still shows what it measured."""
        for row in rows:
            self.rows.append(row)
            print(
                f"  {row.stage}, {row.engine}: {fmt_seconds(row.seconds)} for {row.titles:,}"
                f" titles{' (projected)' if row.projected else ''}, peak"
                f" {row.peak_bytes / 1e9:.2f} GB"
                + ("" if row.overhead is None else f", workers not fitting {row.overhead:.1%}")
                + ("" if row.cores_idle is None else f", cores not fitting {row.cores_idle:.1%}")
                + ("" if row.disk_bytes is None else f", on disk {row.disk_bytes / 1e6:,.1f} MB"),
                flush=True,
            )


def stage_data(run: Run) -> None:
    """The sample catalogue written as parquet, read and validated, weekly series built."""
    from shelfcast.catalog.reader import read_sales
    from shelfcast.catalog.sample import write_sample
    from shelfcast.catalog.series import weekly_series

    with run.measure("data", "this process", run.titles) as row:
        t0 = time.perf_counter()
        sales_path, _ = write_sample(run.folder, fmt="parquet", titles=run.titles)
        t1 = time.perf_counter()
        sales = read_sales([str(sales_path)])
        t2 = time.perf_counter()
        run.series = weekly_series(sales)
        t3 = time.perf_counter()
        row.note = (
            f"write {fmt_seconds(t1 - t0)}, read {fmt_seconds(t2 - t1)}, series"
            f" {fmt_seconds(t3 - t2)}; {len(sales.frame):,} rows, {len(run.series):,} series"
        )


def stage_fit(run: Run) -> None:
    """Pools across every title, then the titles to fit (all, or --fit-limit of them evenly
    spaced) on the process pool and on each Dask cluster asked for."""
    from shelfcast.forecasting.parallel import batch_sizes, train_pools
    from shelfcast.settings import load_settings
    from shelfcast.training.run import fit_config

    config = fit_config(load_settings())
    chosen = evenly_spaced(run.series, run.args.fit_limit)
    with run.measure("fit: pools", "this process", len(run.series)) as row:
        pools = train_pools(run.series, config)
        row.note = "pooled families trained at each backtest cut-off, on every title"
    engines = [(f"process pool, {run.args.workers} workers", run.args.workers, False)]
    engines += [(f"Dask LocalCluster, {k} workers", k, True) for k in run.args.dask]
    reference = None
    for engine, workers, dask in engines:
        with engine_choice(workers, dask) as (choice, started_in):
            fits, titles_row, calibration_row, heard = fit_engine(
                run, engine, choice, chosen, config, pools
            )
        sizes = batch_sizes(len(chosen), workers)
        titles_row.overhead = 1 - sum(f.seconds for f in fits) / (titles_row.seconds * workers)
        cores = min(workers, os.cpu_count() or 1)
        titles_row.cores_idle = cores_not_fitting(heard, sizes, titles_row.seconds, cores)
        titles_row.note = f"{len(sizes)} tasks of {sizes[0]} to {sizes[-1]} titles" + (
            f"; cluster started in {fmt_seconds(started_in)} (not counted)" if dask else ""
        )
        if reference is None:
            reference = run.fits = fits  # the process pool's: registered, and compared with
        elif same_fits(reference, fits):
            titles_row.note += "; fits identical to the process pool's"
        else:
            titles_row.note += "; fits DIFFER from the process pool's"
        if len(chosen) < len(run.series):
            for projected in (titles_row, calibration_row):
                projected.seconds *= len(run.series) / len(chosen)
                projected.titles = len(run.series)
                projected.projected = True
        run.add(titles_row, calibration_row)


def evenly_spaced(series: Sequence[Any], limit: int | None) -> list[Any]:
    """At most `limit` of `series`, evenly spaced in their order (all without a limit)."""
    if limit is None or limit >= len(series):
        return list(series)
    return [series[i * len(series) // limit] for i in range(limit)]


@contextlib.contextmanager
def engine_choice(workers: int, dask: bool) -> Iterator[tuple[Any, float]]:
    """The `ExecutorChoice` of a process pool of `workers`, or of a local Dask cluster of
    `workers` single-threaded worker processes (started here, and the seconds it took)."""
    from shelfcast.training.executors import ExecutorChoice

    if not dask:
        yield ExecutorChoice(workers=workers), 0.0
        return
    from distributed import LocalCluster

    started = time.perf_counter()
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        ready = time.perf_counter() - started
        yield ExecutorChoice(dask_scheduler=cluster.scheduler_address), ready


def fit_engine(
    run: Run, engine: str, choice: Any, chosen: Sequence[Any], config: Any, pools: Any
) -> tuple[list[Any], Row, Row, dict[int, tuple[float, float]]]:
    """`fit_on` with the pools given: a row for the titles (up to the last title's result) and
    one for the calibration after it, both with the peak memory of the whole call; and each
    title's result as heard (index -> seconds since the call, the fit's own seconds)."""
    from shelfcast.training.executors import fit_on

    last = [0.0]
    index = {id(s): i for i, s in enumerate(chosen)}
    heard: dict[int, tuple[float, float]] = {}

    def progress(series: Any, fit: Any) -> None:
        last[0] = time.perf_counter()
        heard[index[id(series)]] = (last[0] - started, fit.seconds if fit else 0.0)

    run.memory.take()
    started = time.perf_counter()
    fits, errors = fit_on(choice, chosen, config, progress=progress, pools=pools)
    ended = time.perf_counter()
    peak = run.memory.take()
    titles_row = Row("fit: titles", engine, len(chosen), last[0] - started, peak)
    calibration_row = Row("fit: calibrate", engine, len(chosen), ended - last[0], peak)
    if errors:
        calibration_row.note = f"{len(errors)} titles failed to fit"
    return fits, titles_row, calibration_row, heard


def cores_not_fitting(
    heard: dict[int, tuple[float, float]], sizes: Sequence[int], seconds: float, cores: int
) -> float:
    """The share of `cores` x `seconds` in which a core had no fit to run: 1 - the integral of
    min(batches running, cores) over the time. A batch ran from its result's arrival less its
    titles' own fit seconds (run back to back in one worker) to that arrival. Batches in flight
    beyond the cores (more workers than cores) count as the cores' worth, and other work on
    the machine slows fits without counting: what is left is the time lost to starting
    workers, sending tasks and results, scheduling and the last batches running alone."""
    edges: list[tuple[float, int]] = []
    first = 0
    for size in sizes:
        batch = [heard[i] for i in range(first, first + size) if i in heard]
        first += size
        if batch:
            arrived = min(at for at, _ in batch)
            edges += [(max(0.0, arrived - sum(s for _, s in batch)), 1), (arrived, -1)]
    fitting, running, previous = 0.0, 0, 0.0
    for at, step in sorted(edges):
        fitting += min(running, cores) * (at - previous)
        running, previous = running + step, at
    return 1 - fitting / (cores * seconds)


def same_fits(a: Sequence[Any], b: Sequence[Any]) -> bool:
    """The same titles and selections, and the same bundle.json but for its creation time."""

    def info(fit: Any) -> dict[str, Any]:
        return {**fit.bundle.info(), "created_at": None}

    return len(a) == len(b) and all(
        x.key == y.key and x.selected == y.selected and info(x) == info(y)
        for x, y in zip(a, b, strict=True)
    )


def stage_register(run: Run) -> None:
    """The process pool's fits registered as one catalogue version, as the train step does:
    content hashes planned against the (empty) registry, then `register_catalogue`."""
    from shelfcast.registry.catalogue import register_catalogue
    from shelfcast.training.catalogue import plan_refit
    from shelfcast.training.run import fit_config

    settings = run.settings
    with run.measure("register: new store", "this process", len(run.fits)) as row:
        create_store(settings)
        row.note = "the MLflow SQLite store created (its schema migrations): once per store"
    with run.measure("register", "this process", len(run.fits)) as row:
        started = time.perf_counter()
        plan = plan_refit(settings, [f.bundle.history for f in run.fits], fit_config(settings))
        planned = time.perf_counter() - started
        done = register_catalogue(
            settings,
            run.fits,
            content_hashes=plan.hashes,
            fingerprint="f" * 64,
            settings_digest=plan.settings_digest,
            data_source="benchmark",
        )
        row.note = f"plan {fmt_seconds(planned)}, " + ", ".join(
            f"{k} {fmt_seconds(v)}" for k, v in done.timings.items()
        )
        row.disk_bytes = registry_bytes(settings)  # a few files: milliseconds
    run.hashes = plan.hashes


def stage_per_title(run: Run) -> None:
    """The same fits registered as one model per title (`log_training_run`, the per-title
    train step's call) into a store of their own: the first --per-title of them, projected."""
    import pandas as pd

    from shelfcast import registry

    count = min(run.args.per_title, len(run.fits))
    if not count:
        return
    settings = run.settings.replace(home=run.folder / "per-title")
    fits = run.fits[:count]
    create_store(settings)  # as for the catalogue: measured there
    run.memory.take()
    started = time.perf_counter()
    registry.log_training_run(
        settings,
        fits,
        fingerprint="f" * 64,
        dataset=pd.DataFrame({"isbn": [f.key for f in fits]}),
        dataset_source="benchmark",
        counts={"titles": count},
    )
    seconds = time.perf_counter() - started
    row = Row("register per title", "this process", count, seconds, run.memory.take())
    row.disk_bytes = registry_bytes(settings)
    if count < len(run.fits):
        row.note = (
            f"measured on the first {count:,} titles: {fmt_seconds(seconds)}, registry"
            f" {row.disk_bytes / 1e6:,.0f} MB; time and size scaled to {len(run.fits):,}"
        )
        scale = len(run.fits) / count
        row.seconds *= scale
        row.disk_bytes = round(row.disk_bytes * scale)
        row.titles = len(run.fits)
        row.projected = True
    run.add(row)


def create_store(settings: Any) -> None:
    """The settings' MLflow store with its tables, as its first use makes them."""
    from shelfcast import registry

    registry.client_for(settings).search_experiments()


def registry_bytes(settings: Any) -> int:
    """Bytes of the settings' MLflow SQLite store: the database (and its write-ahead log)
    and the artifact folder beside it."""
    home = Path(settings.home)
    return sum(folder_bytes(p) for p in [*home.glob("mlflow.db*"), home / "mlartifacts"])


def folder_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder (0 when absent)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def stage_package(run: Run) -> None:
    """The catalogue's champion table released into the settings' artifact store."""
    from shelfcast.lifecycle.package import PackageOptions, package_release

    settings = run.settings
    with run.measure("package", "this process", len(run.hashes)) as row:
        packaged = package_release(settings, PackageOptions(catalogue=True))
        row.disk_bytes = folder_bytes(Path(settings.artifact_root))
    run.release = packaged.release
    row.note = f"release {packaged.release.release_id}"


def stage_deploy(run: Run) -> None:
    """The release rolled out to a local endpoint (its own smoke test included), then the
    endpoint's smoke test on its own; the endpoint is stopped and its model undeployed after."""
    from shelfcast.lifecycle.deploy import (
        backend,
        check_endpoint,
        deploy_release,
        stop_endpoint,
    )

    settings = run.settings
    name = settings.endpoints.name
    titles = len(run.hashes)
    try:
        with run.measure("deploy", "local endpoint", titles) as row:
            done = deploy_release(settings, run.release)
        row.note = "; ".join(done.rollout.checks)
        with run.measure("smoke test", "local endpoint", titles) as row:
            row.note = "; ".join(check_endpoint(settings, name))
    finally:
        chosen = backend(settings)
        if name in {e.name for e in chosen.list_endpoints()}:
            stop_endpoint(settings, name)
            for model in chosen.describe(name).deployed_models:
                chosen.undeploy(name, model.id)


def stage_serve(run: Run) -> None:
    """A server process on the release from start to healthy (catalogue_release's helper)."""
    from catalogue_release import start_server, stop

    with run.measure("serve start", "server process", len(run.hashes)):
        process, _, _ = start_server(run.release, run.folder / "serve-home")
    stop(process)


def stage_batch(run: Run) -> None:
    """Every title of the release forecast into one Parquet file (`lifecycle.batch`)."""
    from shelfcast.lifecycle.batch import batch_forecast

    serving = run.settings.serving
    out = run.folder / "forecasts.parquet"
    with run.measure("batch forecast", "this process", len(run.hashes)) as row:
        done = batch_forecast(
            run.release,
            str(out),
            horizon=serving.horizon,
            levels=serving.levels,
            quantiles=serving.quantiles,
        )
        row.disk_bytes = out.stat().st_size
    row.note = (
        f"{done.titles:,} titles x {serving.horizon} weeks, {done.rows:,} rows,"
        f" {done.errors} titles failed"
    )


# Run in this order for each catalogue size; each needs the ones before it.
STAGES: list[tuple[str, Callable[[Run], None]]] = [
    ("data", stage_data),
    ("fit", stage_fit),
    ("register", stage_register),
    ("per-title", stage_per_title),
    ("package", stage_package),
    ("deploy", stage_deploy),
    ("serve", stage_serve),
    ("batch", stage_batch),
]
# The end-to-end rows: training (data, fit) to a smoke-tested endpoint.
END_TO_END = ("data", "fit: pools", "fit: titles", "fit: calibrate", "register: new store")
END_TO_END += ("register", "package", "deploy", "smoke test")


# ------------------------------------------------------------------------------ output


def stage_table(rows: Sequence[tuple[int, Row]], load: str) -> Table:
    table = Table(
        f"A whole catalogue, stage by stage ({os.cpu_count()} cores)",
        [
            "catalogue",
            "stage",
            "engine",
            "titles",
            "time",
            "per title",
            "peak memory",
            "on disk",
            "workers not fitting",
            "cores not fitting",
            "vs process pool",
        ],
        right_align_from=3,
    )
    pool_seconds: dict[tuple[int, str], float] = {}
    notes = []
    for catalogue, row in rows:
        if row.engine.startswith("process pool"):
            pool_seconds[catalogue, row.stage] = row.seconds
        base = pool_seconds.get((catalogue, row.stage)) if row.engine.startswith("Dask") else None
        table.add(
            f"{catalogue:,}",
            row.stage,
            row.engine,
            f"{row.titles:,}",
            ("**projected** " if row.projected else "") + fmt_seconds(row.seconds),
            f"{row.seconds / max(row.titles, 1) * 1000:.1f} ms",
            f"{row.peak_bytes / 1e9:.2f} GB",
            "" if row.disk_bytes is None else f"{row.disk_bytes / 1e6:,.1f} MB",
            "" if row.overhead is None else f"{row.overhead:.1%}",
            "" if row.cores_idle is None else f"{row.cores_idle:.1%}",
            f"{row.seconds / base:.2f}x" if base else "",
        )
        if row.note:
            notes.append(f"{catalogue:,} titles, {row.stage}, {row.engine}: {row.note}")
    for catalogue in dict.fromkeys(c for c, _ in rows):
        chain = [
            r
            for c, r in rows
            if c == catalogue and r.stage in END_TO_END and not r.engine.startswith("Dask")
        ]
        missing = [s for s in END_TO_END if s not in {r.stage for r in chain}]
        partial = f" (without {', '.join(missing)})" if missing else ""
        rest = [r for r in chain if not r.stage.startswith("fit")]
        titles = max((r.titles for r in chain if r.stage != "data"), default=catalogue)
        for label, part in [
            ("train + register + package + deploy + smoke", chain),
            ("everything but fit", rest),
        ]:
            seconds = sum(r.seconds for r in part)
            table.add(
                f"**{catalogue:,}**",
                f"**{label}**{partial}",
                "",
                f"{titles:,}",
                ("**projected** " if any(r.projected for r in part) else "") + fmt_seconds(seconds),
                f"**{seconds / titles * 1000:.2f} ms**",
                "",
                "",
                "",
                "",
                "",
            )
    table.notes += [
        *notes,
        "time: wall seconds of the step; per title: time / titles; peak memory: the largest"
        " proportional resident memory (PSS: shared pages divided among the processes sharing"
        " them) of this process and all its children together, sampled every"
        f" {SAMPLE_EVERY} s (fit rows: of the whole `fit_on` call, workers included)",
        "fit: titles runs from calling `fit_on` (process pool start included; a Dask cluster is"
        " started before, and not counted) to the last title's result; fit: calibrate from"
        " there to its return",
        "workers not fitting: 1 - (sum of the titles' own fit seconds, `TitleFit.seconds`) /"
        " (time x workers), the share of the workers' time spent on anything but fitting."
        " With more workers than cores a worker waiting costs nothing while the others keep"
        " the cores busy, so this counts time that was not lost",
        "cores not fitting: the scheduling overhead, 1 - (core-seconds with a batch of fits to"
        " run) / (time x min(workers, cores)); a batch ran for its titles' own fit seconds up to"
        " its result's arrival, and batches beyond the cores count as the cores' worth, so"
        " neither more workers than cores nor other work on the machine counts: what is left"
        " is starting workers, sending tasks and results, scheduling and the last batches"
        " running alone",
        "projected: --fit-limit fitted fewer titles, evenly spaced, and their time is scaled to"
        " the whole catalogue (pools are always trained on every title, and measured); register"
        " per title: the first --per-title titles registered, time and size scaled to all",
        "on disk: register rows, the MLflow store (mlflow.db and its artifact folder); package,"
        " the artifact store holding the release; batch forecast, its Parquet file",
        "end-to-end rows: data, fit (process pool), register (the new store's creation"
        " included), package, deploy and smoke test;"
        " everything but fit: the same without the fit rows. Not in them: register per title"
        " (the other path), serve start (a second server on the release) and batch forecast",
        f"options: {' '.join(sys.argv[1:]) or '(defaults)'}",
        load,
        machine_line("numpy", "pandas", "statsforecast", "lightgbm", "distributed"),
    ]
    return table


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=(
            "example: .venv/bin/python benchmarks/catalogue_scale.py --titles 1000 --dask 2,4\n"
            "Prints its table (rich, then markdown for benchmarks/README.md); catalogues are"
            " written to a temporary folder, removed at the end."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--titles",
        type=counts,
        default=[1000, 10000],
        metavar="N,N",
        help="catalogue sizes, comma-separated (1000,10000)",
    )
    p.add_argument("--workers", type=int, default=2, help="process pool workers (2)")
    p.add_argument(
        "--dask",
        type=counts,
        default=[],
        metavar="K,K",
        help="also fit on local Dask clusters of K single-threaded workers (none)",
    )
    p.add_argument(
        "--fit-limit",
        type=int,
        default=None,
        metavar="N",
        help="fit at most N titles of a catalogue and project the whole (all)",
    )
    p.add_argument(
        "--per-title",
        type=int,
        default=500,
        metavar="N",
        help="register the first N fits as per-title models too, projected (500; 0: none)",
    )
    p.add_argument(
        "--until",
        choices=[name for name, _ in STAGES],
        default=STAGES[-1][0],
        help="the last stage to run (batch: all)",
    )
    p.add_argument(
        "--markdown", type=Path, default=None, metavar="PATH", help="also write the table here"
    )
    args = p.parse_args(argv)
    if args.workers < 1:
        p.error(f"--workers must be at least 1, got {args.workers}")
    if args.per_title < 0:
        p.error(f"--per-title must be at least 0, got {args.per_title}")
    if args.fit_limit is not None and args.fit_limit < 1:
        p.error(f"--fit-limit must be at least 1, got {args.fit_limit}")
    return args


def counts(text: str) -> list[int]:
    """'1000,10000' -> [1000, 10000]; each at least 1."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected whole numbers separated by commas: {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected numbers of at least 1: {text!r}")
    return values


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.exit_on_sigterm()
    load = load_note()
    rows: list[tuple[int, Row]] = []
    with PeakMemory() as memory:
        for titles in args.titles:
            with tempfile.TemporaryDirectory(prefix="shelfcast-scale-") as folder:
                run = Run(args, titles, Path(folder), memory)
                for name, stage in STAGES:
                    print(f"{titles:,} titles: {name}", flush=True)
                    stage(run)
                    if name == args.until:
                        break
                rows += [(titles, row) for row in run.rows]
    stage_table(rows, load).print(args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
