"""The training pipeline's steps: thin wrappers over the catalogue, forecasting and registry code.

Importing this module imports ZenML: call `shelfcast.training.zenml_env.setup_zenml` first.

What is cached, and by what:
- `load_data` always runs: it hashes the input files' bytes (the data fingerprint).
- `validate_data` is keyed by that fingerprint; the file names are an ignored input, so the
  same bytes under another name or path are a cache hit.
- `build_series` and `select_titles` follow from the validated data's artifact.
- `train_titles` is keyed by the content of the series and the selected titles (the series
  artifact is content-hashed) and by the fit configuration; how titles are spread over
  processes or a Dask cluster is not part of the key (it does not change the result).
- `evaluate` and `register` follow; `register` is also keyed by the tracking settings (another
  MLflow server or experiment registers again).
- `link_mlflow_run` always runs, so that every pipeline run, cached or not, carries the
  MLflow parent run of the models it stands for in its run metadata.

Each step records the seconds its own code took as step metadata (`seconds`).
"""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
from zenml import get_step_context, log_metadata, step
from zenml.config import CachePolicy

from shelfcast.catalog.reader import read_sales
from shelfcast.catalog.selection import STAT_COLUMNS, SelectionCriteria, title_statistics
from shelfcast.catalog.selection import select_titles as choose_titles
from shelfcast.catalog.series import weekly_series
from shelfcast.errors import ShelfcastError
from shelfcast.training import artifacts
from shelfcast.training.artifacts import (
    SalesTable,
    SeriesSet,
    TrainingResult,
    settings_from_dict,
)
from shelfcast.training.code_keys import (
    forecasting_code,
    reader_code,
    selection_code,
    series_code,
)
from shelfcast.training.executors import ExecutorChoice, fit_on
from shelfcast.training.materializers import (
    SalesTableMaterializer,
    SeriesSetMaterializer,
    TrainingResultMaterializer,
)
from shelfcast.training.sources import DataSources, data_fingerprint

ProgressHook = Callable[[str, int, int, str], None]
MAX_WARNINGS = 200  # validation warnings kept in the report artifact
SELECTION_COLUMNS = [*STAT_COLUMNS, "score", "eligible", "selected", "forced", "reason"]


@dataclass
class LocalRun:
    """What an in-process (local orchestrator) run shares with its steps: the caller's
    progress hook, and the exception of a step that failed, which ZenML only reports as text."""

    progress: ProgressHook | None = None
    failure: BaseException | None = None


# The local run in progress in this context; steps run by a remote orchestrator see none.
_local_run: ContextVar[LocalRun | None] = ContextVar("shelfcast_local_run", default=None)


@contextmanager
def local_run(progress: ProgressHook | None = None) -> Iterator[LocalRun]:
    """Share `progress` with the steps run inside the block: it is called as
    `progress(stage, done, total, current)`, where stage is "step" (a step's code starts;
    current names it), "train" or "register" (per title; current is its ISBN)."""
    run = LocalRun(progress)
    token = _local_run.set(run)
    try:
        yield run
    finally:
        _local_run.reset(token)


def remember_failure(exception: BaseException) -> None:
    """Failure hook: keep a failed step's exception for the local run, so that it can raise
    it as itself (a `DataValidationError` with every problem)."""
    run = _local_run.get()
    if run is not None:
        run.failure = exception


def _report(stage: str, done: int, total: int, current: str) -> None:
    run = _local_run.get()
    if run is not None and run.progress is not None:
        run.progress(stage, done, total, current)


def _started(name: str) -> float:
    _report("step", 0, 0, name)
    return time.perf_counter()


def _finished(started: float, **metadata: Any) -> None:
    log_metadata(metadata={"seconds": round(time.perf_counter() - started, 4), **metadata})


# ------------------------------------------------------------------------------- data


@step(enable_cache=False)
def load_data(
    sales_files: list[str], isbn_list: str | None = None
) -> tuple[Annotated[str, "fingerprint"], Annotated[dict[str, Any], "sources"]]:
    """Fingerprint the input files' bytes (never cached: this is what detects new data)."""
    started = _started("load_data")
    sources = DataSources(sales=tuple(sales_files), isbn_list=isbn_list)
    fingerprint = data_fingerprint(sources)
    _finished(started, fingerprint=fingerprint, files=len(sales_files))
    return fingerprint, {"sales": list(sources.sales), "isbn_list": sources.isbn_list}


@step(
    cache_policy=CachePolicy(ignored_inputs=["sources"], cache_func=reader_code),
    output_materializers={"sales": SalesTableMaterializer},
)
def validate_data(
    fingerprint: str, sources: dict[str, Any]
) -> tuple[Annotated[SalesTable, "sales"], Annotated[dict[str, Any], "validation"]]:
    """Read and validate the sales files: every problem in every file is reported at once
    (`DataValidationError`), warnings are kept in the `validation` report. Text columns are
    read as categoricals: a few bytes a row, where objects took 4.7 GB at 10,000 titles."""
    started = _started("validate_data")
    data = read_sales(sources["sales"], isbn_list=sources.get("isbn_list"), categorical=True)
    freq = str(data.frame.attrs.get("freq", "W-SAT"))
    sales = SalesTable(frame=data.frame, kind=data.kind, freq=freq)
    frame = sales.frame
    date = "week_ending" if sales.kind == "bookscan" else "ds"
    report = {
        "fingerprint": fingerprint,
        "kind": sales.kind,
        "freq": sales.freq,
        "rows": len(frame),
        "titles": int(frame[sales.key_column].nunique()),
        "first_week": str(frame[date].min().date()) if len(frame) else None,
        "last_week": str(frame[date].max().date()) if len(frame) else None,
        "warning_count": len(data.warnings),
        "warnings": [str(p) for p in data.warnings[:MAX_WARNINGS]],
    }
    _finished(started, rows=len(frame), titles=report["titles"], warnings=len(data.warnings))
    return sales, report


@step(
    cache_policy=CachePolicy(cache_func=series_code),
    output_materializers={"series": SeriesSetMaterializer},
)
def build_series(sales: SalesTable, start_date: str | None) -> Annotated[SeriesSet, "series"]:
    """One zero-filled weekly series per title, from `start_date` on (None: all history)."""
    started = _started("build_series")
    series = SeriesSet(tuple(weekly_series(sales.sales_data(), start=start_date)), kind=sales.kind)
    _finished(started, series=len(series))
    return series


@step(cache_policy=CachePolicy(cache_func=selection_code))
def select_titles(
    series: SeriesSet,
    isbns: list[str] | None,
    max_titles: int,
    always_include: list[str],
    all_titles: bool = False,
) -> tuple[
    Annotated[list[str], "selected"],
    Annotated[pd.DataFrame, "selection"],
    Annotated[dict[str, int], "counts"],
]:
    """The titles to train: those asked for, else every series (`all_titles`, or long-format
    data), else the seasonal titles chosen by `catalog.selection`."""
    started = _started("select_titles")
    if isbns:
        chosen = series.pick(list(dict.fromkeys(isbns)))
        selected = [s.key for s in chosen]
        table = title_statistics(chosen).assign(selected=True, reason="requested")
    elif all_titles or series.kind != "bookscan":
        selected = series.keys
        table = pd.DataFrame({"key": selected, "selected": True, "reason": "every title"})
    else:
        criteria = SelectionCriteria(max_titles=max_titles, always_include=tuple(always_include))
        selection = choose_titles(list(series), criteria)
        selected, table = selection.selected, selection.table
    if not selected:
        raise ShelfcastError("no titles selected for training")
    counts = {"titles": len(series), "selected": len(selected)}
    table = table[[c for c in SELECTION_COLUMNS if c in table.columns]]
    _finished(started, **counts)
    return selected, table.reset_index(drop=True), counts


# ---------------------------------------------------------------------------- training


@step(
    cache_policy=CachePolicy(ignored_inputs=["settings"], cache_func=forecasting_code),
    output_materializers={"training": TrainingResultMaterializer},
)
def train_titles(
    series: SeriesSet,
    selected: list[str],
    fit_config: dict[str, Any] | None = None,
    pooled_over: list[str] | None = None,
    pool_plan: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
) -> Annotated[TrainingResult, "training"]:
    """Backtest every candidate per title, select a family, score it on the holdout and
    refit it on all weeks; titles in parallel on the configured engine (step `extra`:
    `{"executor": {"workers": N, "dask_scheduler": ADDRESS}}`, outside the cache key).
    Pooled families train across the `pooled_over` titles (default: the selected ones), or,
    when the catalogue's `pool_plan` reuses a version's kept pools, those are read from the
    registry (`settings`; the plan names the file's sha256, so the cache key holds); either
    way the pools go with the result, to be kept with the catalogue version. No title
    selected (a catalogue where nothing changed) is an empty result."""
    started = _started("train_titles")
    config = artifacts.config_from_dict(fit_config or {})
    extra = get_step_context().step_run.config.extra or {}
    choice = ExecutorChoice(**extra.get("executor", {}))
    chosen = series.pick(selected)
    pool_series = series.pick(pooled_over) if pooled_over else None
    done = 0

    def advance(s: Any, _fit: Any) -> None:
        nonlocal done
        done += 1
        _report("train", done, len(chosen), s.key)

    _report("train", 0, len(chosen), "")
    fit_started = time.perf_counter()
    fits: list[Any] = []
    errors: dict[str, str] = {}
    kept: list[dict[str, Any]] | None = None
    pools_seconds = 0.0
    if chosen:
        from shelfcast.forecasting.parallel import train_pools

        pools = None
        if pool_plan is not None:
            from shelfcast.training.catalogue import plan_pools

            resolved = settings_from_dict(settings)
            pools, kept = plan_pools(resolved, pool_plan, pool_series or chosen, config)
        elif pool_series:
            pools = train_pools(pool_series, config)
        pools_seconds = time.perf_counter() - fit_started
        fits, errors = fit_on(choice, chosen, config, progress=advance, pools=pools)
    seconds = time.perf_counter() - fit_started
    if chosen and not fits:
        shown = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:5])
        raise ShelfcastError(f"every title failed to fit: {shown}")
    result = TrainingResult(
        fits=fits,
        errors=errors,
        config=artifacts.config_to_dict(config),
        executor=choice.describe(),
        seconds=seconds,
        pools=kept,
        pools_info=dict(pool_plan or {}),
    )
    _finished(
        started,
        titles=len(fits),
        failed=len(errors),
        executor=result.executor,
        pools_seconds=round(pools_seconds, 4),
        pools=(pool_plan or {}).get("reason", ""),
    )
    return result


@step
def evaluate(training: TrainingResult) -> Annotated[pd.DataFrame, "evaluation"]:
    """Per title: the selected family beside the seasonal-naive baseline, in the backtest and
    on the held-out weeks (failed titles too, with why); the means go to the step's metadata."""
    started = _started("evaluate")
    table = evaluation_table(training)
    fitted = table[table["error"].isna()]
    selected = fitted["selected"].value_counts().to_dict()
    beats = (fitted["backtest_mase"] < fitted["baseline_mase"]).mean() if len(fitted) else 0.0
    summary = {
        "titles": len(fitted),
        "failed": len(training.errors),
        "selected": {str(k): int(v) for k, v in selected.items()},
        "mean_backtest_mase": _mean(fitted, "backtest_mase"),
        "mean_baseline_mase": _mean(fitted, "baseline_mase"),
        "share_beating_baseline": round(float(beats), 4),
        "mean_holdout_mase": _mean(fitted, "holdout_mase"),
        "mean_holdout_baseline_mase": _mean(fitted, "holdout_baseline_mase"),
    }
    _finished(started, **summary)
    return table


EVALUATION_COLUMNS = [
    "isbn",
    "title",
    "selected",
    "backtest_mase",
    "baseline_mase",
    "holdout_mase",
    "holdout_baseline_mase",
    "holdout_wape",
    "holdout_coverage_80",
    "holdout_coverage_95",
    "fallback",
    "fit_seconds",
    "error",
]


def evaluation_table(training: TrainingResult) -> pd.DataFrame:
    """A row per title (EVALUATION_COLUMNS); a failed title has only its ISBN and error."""
    from shelfcast.forecasting.fit import BASELINE  # loaded already: `training` holds fits

    nan = float("nan")
    rows: list[dict[str, Any]] = []
    for fit in training.fits:
        held = fit.holdout.get(fit.selected, {})
        baseline = fit.holdout.get(BASELINE, {})
        rows.append(
            {
                "isbn": fit.key,
                "title": fit.bundle.history.title,
                "selected": fit.selected,
                "backtest_mase": fit.selected_mase,
                "baseline_mase": fit.baseline_mase,
                "holdout_mase": held.get("mase", nan),
                "holdout_baseline_mase": baseline.get("mase", nan),
                "holdout_wape": held.get("wape", nan),
                "holdout_coverage_80": held.get("coverage_80", nan),
                "holdout_coverage_95": held.get("coverage_95", nan),
                "fallback": fit.fallback,
                "fit_seconds": fit.seconds,
                "error": None,
            }
        )
    rows += [{"isbn": key, "error": why} for key, why in training.errors.items()]
    table = pd.DataFrame(rows, columns=EVALUATION_COLUMNS)
    for column in [*EVALUATION_COLUMNS[3:10], "fit_seconds"]:
        table[column] = table[column].astype("float64")
    return table


def _mean(table: pd.DataFrame, column: str) -> float | None:
    value = table[column].mean() if len(table) else float("nan")
    return None if value != value else round(float(value), 4)


# ---------------------------------------------------------------------------- registry


@step(cache_policy=CachePolicy(ignored_inputs=["sources"]))
def register(
    training: TrainingResult,
    sales: SalesTable,
    fingerprint: str,
    sources: dict[str, Any],
    counts: dict[str, int],
    settings: dict[str, Any] | None = None,
) -> Annotated[dict[str, Any], "registration"]:
    """Log the run to MLflow (a parent run, a nested run per title) and register each title's
    bundle as a new version of `arima_book_<ISBN>`; the promotion gate moves `champion`."""
    from shelfcast import registry

    started = _started("register")
    resolved = settings_from_dict(settings)
    frame = sales.frame
    trained = frame[sales.key_column].astype(str).isin(set(training.keys))
    dataset = frame[trained].reset_index(drop=True)
    total = len(training.fits)
    done = 0

    def advance(*args: Any, **kwargs: Any) -> None:
        nonlocal done
        done += 1
        _report("register", min(done, total), total, _key_of(args))

    _report("register", 0, total, "")
    run = registry.log_training_run(
        resolved,
        training.fits,
        fingerprint=fingerprint,
        dataset=dataset,
        dataset_source=", ".join(sources.get("sales", [])),
        counts={
            "rows": len(frame),
            **counts,
            "trained": len(training.fits),
            "failed": len(training.errors),
        },
        pipeline_run=get_step_context().pipeline_run.name,
        progress=advance,
    )
    registrations = [_plain(r) for r in run.registrations]
    outcome = {
        "tracking_uri": public_uri(run.tracking_uri),
        "experiment_name": resolved.experiment_name,
        "experiment_id": str(run.experiment_id),
        "parent_run_id": str(run.parent_run_id),
        "registrations": registrations,
        "failures": {str(k): str(v) for k, v in (getattr(run, "failures", None) or {}).items()},
    }
    _finished(
        started,
        registered=len(registrations),
        promoted=sum(bool(r.get("promoted")) for r in registrations),
        parent_run_id=outcome["parent_run_id"],
    )
    return outcome


@step(enable_cache=False)
def plan_catalogue(
    series: SeriesSet,
    selected: list[str],
    fit_config: dict[str, Any] | None = None,
    full: bool = False,
    settings: dict[str, Any] | None = None,
) -> tuple[
    Annotated[list[str], "refit"],
    Annotated[dict[str, Any], "catalogue_plan"],
    Annotated[dict[str, Any], "pool_plan"],
]:
    """The titles to refit: those whose content hash differs from the champion catalogue
    version's (all with `full`), and whether the champion's kept pools are reused
    (`training.catalogue.PoolPlan`); never cached, since it reads the registry as it is now."""
    from shelfcast.training.catalogue import plan_refit

    started = _started("plan_catalogue")
    config = artifacts.config_from_dict(fit_config or {})
    plan = plan_refit(settings_from_dict(settings), series.pick(selected), config, full)
    _finished(
        started,
        titles=len(selected),
        refit=len(plan.refit),
        base=plan.base_version,
        pools=plan.pools.reason,
    )
    return (
        plan.refit,
        {
            "base_version": plan.base_version,
            "hashes": plan.hashes,
            "settings_digest": plan.settings_digest,
        },
        plan.pools.to_dict(),
    )


@step(cache_policy=CachePolicy(ignored_inputs=["sources"]))
def register_catalogue(
    training: TrainingResult,
    plan: dict[str, Any],
    fingerprint: str,
    sources: dict[str, Any],
    settings: dict[str, Any] | None = None,
) -> Annotated[dict[str, Any], "registration"]:
    """Register the refitted titles as one version of the catalogue model, carrying the
    others over; the gate decides title by title. Keyed by the fits and the plan (which names
    the version it builds on), so a rerun on what was registered already is served cached."""
    from shelfcast import registry
    from shelfcast.registry.catalogue import register_catalogue as register_version

    started = _started("register_catalogue")
    resolved = settings_from_dict(settings)
    _report("register", 0, len(training.fits), "")
    done = register_version(
        resolved,
        training.fits,
        content_hashes=plan["hashes"],
        failures=training.errors,
        fingerprint=fingerprint,
        settings_digest=plan["settings_digest"],
        data_source=", ".join(sources.get("sales", [])),
        pipeline_run=get_step_context().pipeline_run.name,
        pools=training.pools,
        pools_info=training.pools_info,
    )
    _report("register", len(training.fits), len(training.fits), "")
    registrations = [
        {
            "isbn": row["isbn"],
            "model_name": done.model_name,
            "version": done.version or done.base_version,
            "promoted": row["decision"] == "promoted",
            "reason": row["reason"],
            "champion_version": row["champion_version"],
        }
        for row in done.decisions.to_dict("records")
        if row["decision"] != "failed"
    ]
    experiment = registry.experiment_id(registry.client_for(resolved), resolved)
    outcome = {
        "tracking_uri": public_uri(resolved.tracking_uri),
        "experiment_name": resolved.experiment_name,
        "experiment_id": str(experiment),
        "parent_run_id": str(done.run_id or ""),
        "registrations": registrations,
        "failures": {},
        "catalogue": {
            "model_name": done.model_name,
            "version": done.version,
            "base_version": done.base_version,
            "counts": done.counts,
            "seconds": round(done.seconds, 3),
            "timings": {k: round(v, 3) for k, v in done.timings.items()},
            "pools": done.pools,
        },
    }
    _finished(started, version=done.version, **{f"titles_{k}": v for k, v in done.counts.items()})
    return outcome


@step(enable_cache=False)
def link_mlflow_run(registration: dict[str, Any], fingerprint: str) -> None:
    """Put the MLflow parent run (tracking URI, experiment, run id) in this pipeline run's
    metadata: also when every other step was cached, it names the models the run stands for."""
    context = get_step_context()
    log_metadata(
        metadata={
            "mlflow": {
                "tracking_uri": registration["tracking_uri"],
                "experiment_name": registration["experiment_name"],
                "experiment_id": registration["experiment_id"],
                "parent_run_id": registration["parent_run_id"],
            },
            "data_fingerprint": fingerprint,
            "registered_models": len(registration["registrations"]),
        },
        run_id_name_or_prefix=context.pipeline_run.id,
    )


# ------------------------------------------------------------------------------ helpers


def public_uri(uri: str) -> str:
    """A URI without any user name or password in it (safe to show and to store)."""
    parts = urlsplit(uri)
    if parts.netloc and "@" in parts.netloc:
        host = parts.netloc.rsplit("@", 1)[1]
        return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return uri


def _key_of(args: tuple[Any, ...]) -> str:
    for arg in args:
        if isinstance(arg, str):
            return arg
        for name in ("isbn", "key"):
            if isinstance(getattr(arg, name, None), str):
                return getattr(arg, name)
    return ""


def _plain(value: Any) -> Any:
    """A registry result (dataclass or pydantic model) as JSON-ready data."""
    import dataclasses

    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in dataclasses.asdict(value).items()}
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
